"""Billing's HTTP API: customer (``/api``), admin (``/admin/api``) and internal routes. The gateway
establishes who calls; every customer query is scoped by the contact AND the site."""

from aiohttp import web

from services.billing.http import admin, customer, internal

routes: list[web.AbstractRouteDef] = [*internal.routes, *customer.routes, *admin.routes]
