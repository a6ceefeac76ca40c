"""Auth's HTTP API: the public routes (reached through the gateway) and the internal questions."""

from services.auth.http import account, admin, internal, sessions, staff

routes = [*sessions.routes, *account.routes, *admin.routes, *internal.routes, *staff.routes]
