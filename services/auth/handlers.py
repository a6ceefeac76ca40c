"""Auth's event handlers."""

import uuid
from datetime import datetime, timedelta, timezone

from services.auth import repository as repo
from services.auth.domain import username_candidates
from services.auth.links import new_password_link
from shared.db import UnitOfWork
from shared.events.auth import CredentialsIssued
from shared.events.membership import Granted
from shared.logging import get_logger

log = get_logger("auth.handlers")


def make_handlers(settings):
    async def issue_credentials_on_first_grant(event: Granted, uow: UnitOfWork) -> None:
        """The first level a contact gets on a site creates their login and a set-password link.

        Later grants only update the level a resent welcome names: one login per contact and site.
        """
        conn = uow.conn
        existing = await repo.name_site_and_find_login(
            conn, site_id=event.site_id, slug=event.site_slug, name=event.site_name, contact_id=event.contact_id
        )
        if existing is not None:
            await repo.remember_grant(conn, existing["id"], program_name=event.program_name, level_name=event.level_name)
            log.info("credentials.already_issued", contact_id=str(event.contact_id))
            return
        login_id = uuid.uuid4()
        expires_at = datetime.now(timezone.utc) + timedelta(hours=settings.set_password_ttl_hours)
        token_hash, set_password_link = new_password_link(
            settings, login_id=login_id, routing_key=CredentialsIssued.routing_key
        )
        for username in username_candidates(event.email):
            if await repo.insert_login(
                conn,
                login_id=login_id,
                site_id=event.site_id,
                contact_id=event.contact_id,
                username=username,
                email=event.email,
                first_name=event.first_name,
                program_name=event.program_name,
                level_name=event.level_name,
                token_id=uuid.uuid4(),
                token_hash=token_hash,
                token_expires_at=expires_at,
            ):
                break
        else:
            raise RuntimeError("no free username")
        await uow.publish(
            CredentialsIssued(
                login_id=login_id,
                contact_id=event.contact_id,
                site_id=event.site_id,
                site_slug=event.site_slug,
                site_name=event.site_name,
                program_name=event.program_name,
                level_name=event.level_name,
                email=event.email,
                first_name=event.first_name,
                username=username,
                set_password_link=set_password_link,
                expires_at=expires_at,
            )
        )
        log.info("credentials.issued", login_id=str(login_id), contact_id=str(event.contact_id))

    return {Granted: [issue_credentials_on_first_grant]}
