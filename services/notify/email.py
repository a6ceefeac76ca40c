"""Queueing an email: render strictly, then either queue it for delivery or hold it with the reason."""

import uuid
from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID

from services.notify import repository as repo
from services.notify.templates import MissingMergeFields, Template
from shared.db import UnitOfWork
from shared.logging import get_logger

log = get_logger("notify.email")
MESSAGE_NAMESPACE = uuid.UUID("0c7b5c8a-7f1e-4a53-9a55-6e6f74696679")


def message_id_for(event_id: UUID, template: str) -> UUID:
    """The same event and template always give the same message: redelivery never sends twice."""
    return uuid.uuid5(MESSAGE_NAMESPACE, f"{event_id}:{template}")


def build_mime(*, message_id: UUID, sender: str, to: str, subject: str, text: str, html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{message_id}@customer-center>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


async def queue_email(
    uow: UnitOfWork,
    *,
    template: Template,
    sender: str,
    to: str,
    site_id: UUID | None,
    contact_id: UUID | None,
    fields: dict[str, object],
) -> None:
    event_id = uow.causation_id
    message_id = message_id_for(event_id, template.name)
    common = dict(
        message_id=message_id,
        event_id=event_id,
        template=template.name,
        site_id=site_id,
        contact_id=contact_id,
        correlation_id=uow.correlation_id,
    )
    try:
        if not to or "@" not in to:
            raise MissingMergeFields(["recipient address"])
        rendered = template.render(fields)
    except MissingMergeFields as exc:
        await repo.insert_message(uow.conn, **common, to_address=to or "", subject="", status="held", reason=str(exc))
        log.warning("email.held", message_id=str(message_id), template=template.name, missing=exc.fields)
        return
    mime = build_mime(
        message_id=message_id, sender=sender, to=to, subject=rendered.subject, text=rendered.text, html=rendered.html
    )
    if await repo.insert_message(
        uow.conn, **common, to_address=to, subject=rendered.subject, status="queued", mime=mime
    ):
        log.info("email.queued", message_id=str(message_id), template=template.name)
