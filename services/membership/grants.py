"""Granting and ending levels, each with its event, inside the caller's unit of work.

Every grant publishes ``membership.granted`` (auth issues credentials on a contact's first one on a
site and ignores the rest); every grant that ends publishes ``membership.revoked``.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from services.membership import repository as repo
from services.membership.access import GrantView
from services.membership.domain import Level, Site
from shared.db import UnitOfWork
from shared.events import Event
from shared.events.membership import Granted, Revoked


async def grant_level(
    uow: UnitOfWork,
    *,
    site: Site,
    contact: dict,
    level: Level,
    source: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    rule_id: UUID | None = None,
    order_id: UUID | None = None,
    after: Sequence[Event] = (),
) -> UUID | None:
    """The new grant's id; None when the rule had already granted it to this contact. ``after``: the
    caller's events, published either way, just before ``membership.granted`` in the same statement."""
    grant_id = uuid.uuid4()
    granted = await repo.insert_grant(
        uow.conn,
        grant_id=grant_id,
        contact_id=contact["id"],
        level_id=level.id,
        source=source,
        starts_at=starts_at,
        ends_at=ends_at,
        rule_id=rule_id,
        order_id=order_id,
    )
    events = list(after)
    if granted:
        events.append(granted_event(grant_id, site=site, contact=contact, level=level, source=source,
                                    starts_at=starts_at, ends_at=ends_at))
    await uow.publish_all(events)
    return grant_id if granted else None


def granted_event(
    grant_id: UUID, *, site: Site, contact: dict, level: Level, source: str, starts_at: datetime,
    ends_at: datetime | None = None,
) -> Granted:
    """``membership.granted`` for a grant of ``level`` to ``contact`` (its id, email and names)."""
    return Granted(
        grant_id=grant_id,
        contact_id=contact["id"],
        site_id=site.id,
        site_slug=site.slug,
        site_name=site.name,
        program_name=level.program_name,
        level_id=level.id,
        level_name=level.name,
        email=contact["email"],
        first_name=contact["first_name"],
        last_name=contact["last_name"],
        source=source,
        starts_at=starts_at,
        ends_at=ends_at,
    )


async def end_grant(uow: UnitOfWork, *, site_id: UUID, contact_id: UUID, grant: GrantView, ends_at: datetime, reason: str) -> None:
    """The grant ends at ``ends_at`` (now, or the end of a paid period) for ``reason``."""
    await repo.end_grant(uow.conn, grant.id, ends_at=ends_at, reason=reason)
    await uow.publish(
        Revoked(
            grant_id=grant.id,
            contact_id=contact_id,
            site_id=site_id,
            level_id=grant.level_id,
            level_name=grant.level_name,
            reason=reason,
            ended_at=ends_at,
        )
    )
