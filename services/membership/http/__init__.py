"""Membership's HTTP API (reached through the gateway), one module per area."""

from services.membership.http import access, checkout, contacts, keys, public, setup, site

routes = [*public.routes, *checkout.routes, *contacts.routes, *setup.routes, *site.routes, *keys.routes, *access.routes]
