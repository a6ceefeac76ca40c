"""Membership's HTTP API (reached through the gateway), one module per area."""

from services.membership.http import access, contacts, public, setup, site

routes = [*public.routes, *contacts.routes, *setup.routes, *site.routes, *access.routes]
