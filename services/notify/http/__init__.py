"""Notify's admin API (the gateway forwards ``/admin/api/...`` with the admin's site)."""

from services.notify.http import messages, sequences, templates, webhooks

routes = [*messages.routes, *sequences.routes, *templates.routes, *webhooks.routes]
