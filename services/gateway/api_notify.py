"""Admin API routes served by notify (the notify issue fills this in)."""

from aiohttp import web

routes = web.RouteTableDef()
