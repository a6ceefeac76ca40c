"""Every console route (one module per area; add yours to the list)."""

from services.gateway.admin import audit, email, login, setup

routes = [*login.routes, *audit.routes, *setup.routes, *email.routes]
