"""Messages: queued, sent or held; contacts and sites notify learned from events."""

import time
from datetime import datetime, timezone
from uuid import UUID

import asyncpg

from shared.events import Envelope


_UPSERT_CONTACT = (
    "INSERT INTO contacts (id, site_id, email, first_name, last_name) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,"
    " last_name = EXCLUDED.last_name"
    # Unchanged (the grant repeats what the contact's creation said): no new row version to write.
    " WHERE (contacts.email, contacts.first_name, contacts.last_name)"
    " IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.first_name, EXCLUDED.last_name)"
)

# A blank value never overwrites a known one; nothing is written when nothing changed (most events
# repeat what notify knows), so ``updated_at`` is when it last changed. Nor is the row *locked* then:
# ON CONFLICT DO UPDATE locks the row it conflicts with even when its WHERE is false, and every
# event of every registration of a site names the same site, so concurrent handler transactions
# waited for each other's commit on that one row. The NOT EXISTS skips the INSERT (and the lock)
# when the row already says it all.
_REMEMBER_SITE = (
    "INSERT INTO sites (id, slug, name) SELECT {id}::uuid, {slug}::text, {name}::text"
    " WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = {id} AND slug = COALESCE(NULLIF({slug}, ''), slug)"
    " AND name = COALESCE(NULLIF({name}, ''), name))"
    " ON CONFLICT (id) DO UPDATE SET"
    " slug = COALESCE(NULLIF(EXCLUDED.slug, ''), sites.slug),"
    " name = COALESCE(NULLIF(EXCLUDED.name, ''), sites.name), updated_at = now()"
    " WHERE (sites.slug, sites.name) IS DISTINCT FROM"
    " (COALESCE(NULLIF(EXCLUDED.slug, ''), sites.slug), COALESCE(NULLIF(EXCLUDED.name, ''), sites.name))"
)


async def upsert_contact(conn: asyncpg.Connection, *, contact_id: UUID, site_id: UUID, email: str, first_name: str, last_name: str) -> None:
    await conn.execute(_UPSERT_CONTACT, contact_id, site_id, email, first_name, last_name)


async def remember_contact_and_site(
    conn: asyncpg.Connection, *, contact_id: UUID, site_id: UUID, email: str, first_name: str, last_name: str,
    site_slug: str = "", site_name: str = "",
) -> None:
    """``upsert_contact`` and ``remember_site`` in one round trip."""
    await conn.execute(
        "WITH site AS (" + _REMEMBER_SITE.format(id="$2", slug="$6", name="$7") + " RETURNING 1) " + _UPSERT_CONTACT,
        contact_id, site_id, email, first_name, last_name, site_slug.strip(), site_name.strip(),
    )


async def insert_message(
    conn: asyncpg.Connection,
    *,
    message_id: UUID,
    event_id: UUID,
    template: str,
    site_id: UUID | None,
    contact_id: UUID | None,
    correlation_id: str,
    to_address: str,
    subject: str,
    status: str,
    reason: str | None = None,
    mime: bytes | None = None,
    enrolment_id: UUID | None = None,
    step: int | None = None,
) -> bool:
    """False when this event already produced this message (a redelivery). ``status`` 'sending': its
    SMTP transaction was begun in this one (``Delivery.begin_in``), and ``sending_at`` is now."""
    inserted = await conn.fetchval(
        # The message and its MIME (when queued) in one round trip.
        "WITH m AS (INSERT INTO messages (id, event_id, template, site_id, contact_id, correlation_id, to_address,"
        " subject, status, reason, enrolment_id, step, sending_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, CASE WHEN $9::text = 'sending' THEN clock_timestamp() END)"
        " ON CONFLICT DO NOTHING RETURNING id),"
        " o AS (INSERT INTO outgoing (message_id, mime) SELECT id, $13 FROM m WHERE $13::bytea IS NOT NULL)"
        " SELECT 1 FROM m",
        message_id,
        event_id,
        template,
        site_id,
        contact_id,
        correlation_id,
        to_address,
        subject,
        status,
        reason,
        enrolment_id,
        step,
        mime,
    )
    return inserted is not None


async def claim_due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.to_address, m.attempts, m.correlation_id, m.site_id, m.contact_id, m.template, o.mime FROM messages m JOIN outgoing o ON o.message_id = m.id"
        " WHERE m.status = 'queued' AND m.next_attempt_at <= now()"
        " ORDER BY m.next_attempt_at LIMIT $1 FOR UPDATE OF m SKIP LOCKED",
        limit,
    )


async def mark_sending(conn: asyncpg.Connection, message_ids: list[UUID]) -> None:
    """The messages are about to be ended with the SMTP "." (see delivery.py): from this commit until
    each one's ``mark_sent``, whether the server took it is unknown."""
    await conn.execute(
        "UPDATE messages SET status = 'sending', sending_at = clock_timestamp() WHERE id = ANY($1::uuid[])",
        message_ids,
    )


# 'sent', the rendered body deleted and ``notify.email.sent`` in the outbox: ONE statement, so ONE
# round trip and its own commit. $1 message id, $2-$4 the event (NULLs: none), $5 ``end_of_data_at``,
# $6 ``window_us``. Delivery keeps it prepared on a connection of its own (``delivery.Recorder``).
MARK_SENT = (
    "WITH sent AS (UPDATE messages SET status = 'sent', sent_at = clock_timestamp(), attempts = attempts + 1,"
    "   reason = NULL, end_of_data_at = $5, window_us = $6 WHERE id = $1 AND status <> 'sent' RETURNING id),"
    " body AS (DELETE FROM outgoing WHERE message_id IN (SELECT id FROM sent))"
    " INSERT INTO outbox (event_id, routing_key, envelope) SELECT $2::uuid, $3::text, $4::json FROM sent WHERE $2::uuid IS NOT NULL"
)


def sent_args(message_id: UUID, event: Envelope | None) -> tuple:
    """MARK_SENT's $1-$4, built before the "." so that nothing is left to do after its 250."""
    if event is None:
        return (message_id, None, None, None)
    return (message_id, event.id, event.type, event.model_dump_json())


async def mark_sent(conn: asyncpg.Connection, args: tuple, end_of_data_at: float, started: float) -> None:
    """MARK_SENT on ``conn``, ``args`` from ``sent_args``; ``end_of_data_at`` (wall clock) and
    ``started`` (``time.perf_counter()``) taken when the "." was written: ``window_us`` is the time
    from then to now, just before this statement is written."""
    await conn.execute(MARK_SENT, *args, *window_of(end_of_data_at, started))


def window_of(end_of_data_at: float, started: float) -> tuple[datetime, int]:
    return datetime.fromtimestamp(end_of_data_at, timezone.utc), int((time.perf_counter() - started) * 1e6)


async def mark_held(conn: asyncpg.Connection, message_id: UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'held', reason = $2, attempts = attempts + 1 WHERE id = $1", message_id, reason
    )
    await conn.execute("DELETE FROM outgoing WHERE message_id = $1", message_id)


async def postpone(
    conn: asyncpg.Connection, message_id: UUID, reason: str, delay_seconds: float, *, uncertain: bool = False
) -> None:
    """Queued again for later; ``uncertain``: the server may have taken it (no answer to the ".")."""
    await conn.execute(
        "UPDATE messages SET status = 'queued', attempts = attempts + 1, reason = $2,"
        " uncertain_resends = uncertain_resends + $4::int,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        message_id,
        reason,
        delay_seconds,
        int(uncertain),
    )


async def requeue_uncertain(conn: asyncpg.Connection, older_than_seconds: float) -> list[UUID]:
    """Messages left in 'sending' by a worker that died between the "." and the record of its answer:
    queued again now (the server may have taken them: at least once, same Message-ID)."""
    rows = await conn.fetch(
        "UPDATE messages SET status = 'queued', next_attempt_at = now(), attempts = attempts + 1,"
        " uncertain_resends = uncertain_resends + 1,"
        " reason = 'sent again: the worker stopped between the end of the message and the server''s answer'"
        " WHERE status = 'sending' AND sending_at < clock_timestamp() - make_interval(secs => $1) RETURNING id",
        older_than_seconds,
    )
    return [r["id"] for r in rows]


async def list_messages(
    conn: asyncpg.Connection, *, site_id: UUID, contact_id: UUID | None, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    """A site's messages, newest first, keyset-paginated on (created_at, id). Never bodies or links."""
    return await conn.fetch(
        "SELECT id, template, contact_id, to_address, subject, status, reason, attempts, created_at, sent_at,"
        " enrolment_id, step FROM messages WHERE site_id = $1 AND ($2::uuid IS NULL OR contact_id = $2)"
        " AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $5",
        site_id,
        contact_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def remember_site(conn: asyncpg.Connection, *, site_id: UUID, slug: str = "", name: str = "") -> None:
    """Keep what an event said about a site (``_REMEMBER_SITE``)."""
    await conn.execute(_REMEMBER_SITE.format(id="$1", slug="$2", name="$3"), site_id, slug.strip(), name.strip())


async def email_context(
    conn: asyncpg.Connection, contact_id: UUID, site_id: UUID, template: str, *, remember: tuple[str, str] | None = None
) -> asyncpg.Record:
    """What an email to a contact needs, in one round trip: the contact (``email`` etc. null when
    unknown), the site's name, its own version of the template (``subject`` etc. null when it has none)
    and its From/Reply-To (``has_settings`` false when its admin set none). ``remember``: (slug, name)
    the event said of the site, kept as ``remember_site`` keeps it, in the same statement (the name
    read back is then the one from before the statement: the event's own wins anyway)."""
    if remember is not None:
        slug, name = remember
        return await conn.fetchrow(_REMEMBERING_CONTEXT, contact_id, site_id, template, slug.strip(), name.strip())
    return await conn.fetchrow(_EMAIL_CONTEXT, contact_id, site_id, template)


_EMAIL_CONTEXT = (
    "SELECT c.email, c.first_name, c.last_name, NULLIF(s.name, '') AS site_name,"
    " t.subject, t.text_body, t.html_body, t.name IS NOT NULL AS has_template,"
    " e.mail_from, e.reply_to, e.site_id IS NOT NULL AS has_settings"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN contacts c ON c.id = $1 AND c.site_id = $2"
    " LEFT JOIN sites s ON s.id = $2"
    " LEFT JOIN site_templates t ON t.site_id = $2 AND t.name = $3"
    " LEFT JOIN email_settings e ON e.site_id = $2"
)
# ``_REMEMBER_SITE`` ($2 the site, $4 its slug, $5 its name) and the context in one statement.
_REMEMBERING_CONTEXT = (
    "WITH site AS (" + _REMEMBER_SITE.format(id="$2", slug="$4", name="$5") + " RETURNING 1) " + _EMAIL_CONTEXT
)


async def site_name(conn: asyncpg.Connection, site_id: UUID) -> str | None:
    return await conn.fetchval("SELECT NULLIF(name, '') FROM sites WHERE id = $1", site_id)


async def contact(conn: asyncpg.Connection, contact_id: UUID, site_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, site_id, email, first_name, last_name FROM contacts WHERE id = $1 AND site_id = $2",
        contact_id,
        site_id,
    )
