"""Billing's event handlers; the map is the subscription list."""

from services.billing import repository as repo
from shared.db import UnitOfWork
from shared.events.membership import ContactCreated


async def remember_contact(event: ContactCreated, uow: UnitOfWork) -> None:
    """Billing learns a site's contacts, so an order is placed only for a contact of the admin's site."""
    await repo.upsert_contact(
        uow.conn,
        contact_id=event.contact_id,
        site_id=event.site_id,
        email=event.email,
        first_name=event.first_name,
        last_name=event.last_name,
    )


HANDLERS = {ContactCreated: [remember_contact]}
