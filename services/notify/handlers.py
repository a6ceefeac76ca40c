"""Notify's event handlers: each email is built from its event plus what notify stored earlier."""

from services.notify import repository as repo
from services.notify.email import queue_email
from services.notify.templates import WELCOME
from shared.db import UnitOfWork
from shared.events.auth import CredentialsIssued
from shared.events.membership import ContactCreated


def make_handlers(settings):
    async def remember_contact(event: ContactCreated, uow: UnitOfWork) -> None:
        await repo.upsert_contact(
            uow.conn,
            contact_id=event.contact_id,
            site_id=event.site_id,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
        )

    async def send_welcome_on_credentials_issued(event: CredentialsIssued, uow: UnitOfWork) -> None:
        await queue_email(
            uow,
            template=WELCOME,
            sender=settings.mail_from,
            to=event.email,
            site_id=event.site_id,
            contact_id=event.contact_id,
            fields={
                "first_name": event.first_name,
                "site_name": event.site_name,
                "level_name": event.level_name,
                "username": event.username,
                "set_password_url": event.set_password_url,
                "expires_at": event.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
        )

    return {
        ContactCreated: [remember_contact],
        CredentialsIssued: [send_welcome_on_credentials_issued],
    }
