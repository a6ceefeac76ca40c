"""Queueing an email: resolve the site's template and sender, render strictly, then either queue it
for delivery or hold it with the reason (and say so on the bus, through the outbox)."""

import binascii
import functools
import re
import uuid
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from shared.metrics import EMAILS_HELD
from services.notify import repository as repo
from services.notify.templates import (
    CONTACT_FIELDS,
    DEFAULTS,
    InvalidTemplate,
    MissingMergeFields,
    Template,
    UndeclaredMergeField,
)
from shared.db import UnitOfWork
from shared.events.notify import EmailHeld
from shared.logging import get_logger
from shared.sealing import SealedField, Unopenable

if TYPE_CHECKING:
    from services.notify.delivery import Beginning, ExpressLane

log = get_logger("notify.email")
MESSAGE_NAMESPACE = uuid.UUID("0c7b5c8a-7f1e-4a53-9a55-6e6f74696679")


class SealedLinkUnopenable(Exception):
    """A sealed merge field notify cannot open: the message is held with this as its reason."""


def opened(fields: dict[str, object]) -> dict[str, object]:
    """The merge fields with every sealed one opened: called right before rendering, so a plain link
    exists only in the rendered message (which is dropped once delivered)."""
    if not any(isinstance(v, SealedField) for v in fields.values()):
        return fields
    out = dict(fields)
    for name, value in fields.items():
        if isinstance(value, SealedField):
            try:
                out[name] = value.open()
            except Unopenable as exc:
                raise SealedLinkUnopenable(f"the sealed {value.name} could not be opened: {exc}") from None
    return out


def message_id_for(event_id: UUID, template: str) -> UUID:
    """The same event and template always give the same message: redelivery never sends twice."""
    return uuid.uuid5(MESSAGE_NAMESPACE, f"{event_id}:{template}")


def build_mime(
    *, message_id: UUID, sender: str, to: str, subject: str, text: str, html: str, reply_to: str | None = None
) -> bytes:
    """The message as it goes over SMTP: multipart/alternative, both parts UTF-8 quoted-printable.

    Written out directly (headers encoded per RFC 2047 when not ASCII, bodies by binascii's C
    quoted-printable encoder): the stdlib's ``EmailMessage`` parses every header it is given back
    through its header registry and cost ~5x as much, the largest item in notify's profile."""
    boundary = f"=_cc_{uuid.uuid4().hex}"
    lines = [
        f"From: {_address(sender)}",
        f"To: {_address(to)}",
        *([f"Reply-To: {_address(reply_to)}"] if reply_to else []),
        f"Subject: {_header(subject)}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: <{message_id}@customer-center>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    head = "\n".join(lines).encode("ascii")
    return b"".join(
        [head, *(_part(boundary, subtype, body) for subtype, body in (("plain", text), ("html", html))),
         f"\n--{boundary}--\n".encode("ascii")]
    )


def _header(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header may not contain a line break")
    if value.isascii() and len(value) <= 900:
        return value
    return Header(value, "utf-8", maxlinelen=76, header_name="Subject").encode()


# A bare ASCII address (dot-atoms on both sides of the @): parseaddr + formataddr give it back as it is.
_BARE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def _address(value: str) -> str:
    if _BARE_ADDRESS.fullmatch(value):  # most recipients: no parsing
        return value
    return _parsed_address(value)


@functools.lru_cache(maxsize=256)  # the senders: a few, parsed once each
def _parsed_address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("an address may not contain a line break")
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if address else _header(value)


def _part(boundary: str, subtype: str, body: str) -> bytes:
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True)
    return (
        f'\n--{boundary}\nContent-Type: text/{subtype}; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
    ).encode("ascii") + encoded


async def template_for(conn: asyncpg.Connection, site_id: UUID | None, name: str) -> Template | None:
    """The site's own version of a template when it has one, else the default (None: no such template)."""
    row = await repo.site_template(conn, site_id, name) if site_id is not None else None
    return template_of(name, row)


def template_of(name: str, row) -> Template | None:
    """The template from the site's own row (``subject``, ``text_body``, ``html_body``; None or a row
    without a subject: the site has none), else the default."""
    default = DEFAULTS.get(name)
    if row is None or row["subject"] is None:
        return default
    return Template.written(
        name=name,
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        allowed=default.required if default else CONTACT_FIELDS,
        secret=default.secret if default else frozenset(),
        event=default.event if default else "",
    )


async def sender_for(conn: asyncpg.Connection, settings, site_id: UUID | None) -> tuple[str, str | None]:
    """(From, Reply-To): the site's own when its admin set them, else the service's From."""
    row = await repo.email_settings(conn, site_id) if site_id is not None else None
    return sender_of(settings, row)


def sender_of(settings, row) -> tuple[str, str | None]:
    if row is None:
        return settings.mail_from, None
    return row["mail_from"] or settings.mail_from, row["reply_to"]


async def queue_email(
    uow: UnitOfWork,
    settings,
    *,
    template_name: str,
    to: str | None,
    site_id: UUID,
    contact_id: UUID | None,
    fields: dict[str, object],
    key: UUID | None = None,
    enrolment_id: UUID | None = None,
    step: int | None = None,
    context=None,
    express: "ExpressLane | None" = None,
    beginning: "Beginning | None" = None,
) -> UUID:
    """Queue (or hold) one email; ``key`` (default: the causing event's id) makes it idempotent.
    ``context``: the row of ``repo.email_context`` when the caller read it (the site's template and
    sender then need no query of their own). ``express``: the SMTP transaction may be begun in this
    unit of work and ended right after its commit (``delivery.ExpressLane``); otherwise, or when it
    cannot, the delivery worker sends it."""
    key = key or uow.causation_id
    message_id = message_id_for(key, template_name)
    # The express lane's MAIL, RCPT and DATA go out now, while the message is rendered (or earlier: the
    # caller's ``beginning``); whatever does not end 'sending' below is dropped when the transaction
    # ends (``delivery.Beginning``).
    if beginning is None and express is not None:
        beginning = express.begin_in(uow, to)
    common = dict(
        message_id=message_id,
        event_id=key,
        template=template_name,
        site_id=site_id,
        contact_id=contact_id,
        correlation_id=uow.correlation_id,
        enrolment_id=enrolment_id,
        step=step,
    )
    try:
        if context is not None:
            template = template_of(template_name, context if context["has_template"] else None)
        else:
            template = await template_for(uow.conn, site_id, template_name)
    except (InvalidTemplate, UndeclaredMergeField) as exc:  # a site's template this version cannot use
        template, unusable = None, f"the site's template cannot be used: {exc}"
    else:
        unusable = f"no template named {template_name}"
    try:
        if template is None:
            raise LookupError(unusable)
        if not to or "@" not in to:
            raise MissingMergeFields(["recipient address"])
        rendered = template.render(opened(fields))
    except Exception as exc:  # a missing field, no usable template, a sealed link that does not open, or a site's template that fails
        if isinstance(exc, (MissingMergeFields, LookupError, SealedLinkUnopenable)):
            reason = str(exc)
        else:
            reason = f"the template failed to render: {type(exc).__name__}"
            log.warning("email.render_failed", message_id=str(message_id), template=template_name, error=type(exc).__name__)
        if await repo.insert_message(uow.conn, **common, to_address=to or "", subject="", status="held", reason=reason):
            await uow.publish(
                EmailHeld(message_id=message_id, site_id=site_id, contact_id=contact_id, template=template_name, reason=reason)
            )
            EMAILS_HELD.labels(
                reason="missing_field" if isinstance(exc, MissingMergeFields)
                else "no_template" if isinstance(exc, LookupError)
                else "sealed_link" if isinstance(exc, SealedLinkUnopenable) else "render_failed"
            ).inc()
            log.warning("email.held", message_id=str(message_id), template=template_name, reason=reason)
        return message_id
    if context is not None:
        sender, reply_to = sender_of(settings, context if context["has_settings"] else None)
    else:
        sender, reply_to = await sender_for(uow.conn, settings, site_id)
    mime = build_mime(
        message_id=message_id,
        sender=sender,
        reply_to=reply_to,
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
    begun = beginning is not None and await beginning.data(mime)
    status = "sending" if begun else "queued"
    if await repo.insert_message(uow.conn, **common, to_address=to, subject=rendered.subject, status=status, mime=mime):
        log.info("email.queued", message_id=str(message_id), template=template_name, express=begun)
        if begun:
            beginning.sending(message_id, site_id=site_id, contact_id=contact_id, template=template_name,
                              correlation_id=uow.correlation_id)
    return message_id


async def queue_for_contact(
    uow: UnitOfWork,
    settings,
    *,
    template_name: str,
    site_id: UUID,
    contact_id: UUID,
    fields: dict[str, object] | None = None,
    to: str | None = None,
    sites=None,
    remember_site: tuple[str, str] | None = None,
    **kw,
) -> UUID:
    """An email to a contact: what notify stored about them and their site, then the event's own fields
    (which win: a blank in the event is held, never papered over). ``remember_site``: (slug, name) the
    event said of the site, kept in the same round trip (``repo.email_context``). An address the
    caller gives starts the express lane's SMTP transaction before that round trip."""
    if to is not None and kw.get("express") is not None:
        kw["beginning"] = kw["express"].begin_in(uow, to)
    context = await repo.email_context(uow.conn, contact_id, site_id, template_name, remember=remember_site)
    site_name = context["site_name"] or (remember_site and remember_site[1].strip()) or None
    if site_name is None and sites is not None:  # no event named the site yet: membership is asked
        site_name = await sites.name(uow.conn, site_id)
    values: dict[str, object] = {"site_name": site_name, "center_url": settings.public_url.rstrip("/") + "/center"}
    known = context["email"] is not None
    if known:
        values.update(first_name=context["first_name"], last_name=context["last_name"], email=context["email"])
    values.update(fields or {})
    address = to if to is not None else (context["email"] if known else None)
    return await queue_email(
        uow, settings, template_name=template_name, to=address, site_id=site_id, contact_id=contact_id, fields=values,
        context=context, **kw
    )
