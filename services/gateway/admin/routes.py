"""Every console route (one module per area; add yours to the list)."""

from services.gateway.admin import audit, login

routes = [*login.routes, *audit.routes]
