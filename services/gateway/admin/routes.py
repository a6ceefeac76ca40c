"""Every console route (one module per area; add yours to the list)."""

from services.gateway.admin import audit, contacts, login

routes = [*login.routes, *contacts.routes, *audit.routes]
