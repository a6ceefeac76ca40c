"""Public and admin API routes served by billing (the billing issue fills this in)."""

from aiohttp import web

routes = web.RouteTableDef()
