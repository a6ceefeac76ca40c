"""Every console route (one module per area; add yours to the list)."""

from services.gateway.admin import audit, contacts, email, login, setup

routes = [*login.routes, *contacts.routes, *audit.routes, *setup.routes, *email.routes]
