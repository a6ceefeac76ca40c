"""Notify's event handlers: each email is built from its event plus what notify stored earlier
(contacts and site names learned from events); never from another service's tables."""

import uuid
from datetime import datetime
from uuid import UUID

from services.notify import repository as repo
from services.notify.domain import format_date, format_money, format_time
from services.notify.delivery import ExpressLane
from services.notify.email import queue_for_contact
from services.notify.sites import SiteNames
from services.notify.webhooks.body import webhook_body
from shared.consumer import AllEvents
from shared.db import UnitOfWork
from shared.events import Envelope
from shared.events.auth import (
    CredentialsIssued,
    CredentialsIssuedV1,
    PasswordChanged,
    PasswordResetRequested,
    PasswordResetRequestedV1,
    UsernameChanged,
)
from shared.events.billing import (
    CardExpiryApproached,
    OrderCompleted,
    PaymentFailed,
    PaymentSucceeded,
    SubscriptionCancelled,
)
from shared.events.membership import ContactCreated, Granted
from shared.logging import get_logger
from shared.sealing import LinkKeyError, SealedField, link_context, link_keys_of

log = get_logger("notify.handlers")
DELIVERY_NAMESPACE = uuid.UUID("5e1d0b6e-3c1f-4f7a-9b1e-77656268306b")


def delivery_id_for(endpoint_id: UUID, event_id: UUID) -> UUID:
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{endpoint_id}:{event_id}")


def make_handlers(settings, sites: SiteNames | None = None, express: ExpressLane | None = None):
    """``express``: emails queued by these handlers may be sent at once after their event's commit
    (``delivery.Delivery.begin_in``)."""
    public = settings.public_url.rstrip("/")
    try:
        keys = link_keys_of(settings)
    except LinkKeyError:  # __main__ refuses to start without them; an app built for a test may lack them
        keys = None

    def link(event, name: str, value: str, plain_in_v1: bool):
        """The event's link as a merge field: sealed (opened only when the email is rendered), or, in a
        version 1 event left in a queue by the auth this one replaced, the plain link it carried."""
        if plain_in_v1:
            log.warning("email.plaintext_link_event", event_type=event.routing_key, version=event.version,
                        login_id=str(event.login_id))
            return value
        return SealedField(name, value, link_context(event.routing_key, event.login_id), keys)

    def email(uow: UnitOfWork, template: str, event, *, to: str | None = None, remember_site=None, **fields):
        return queue_for_contact(
            uow,
            settings,
            template_name=template,
            site_id=event.site_id,
            contact_id=event.contact_id,
            to=to,
            fields=fields,
            sites=sites,
            remember_site=remember_site,
            express=express,
        )

    async def remember_contact(event: ContactCreated, uow: UnitOfWork) -> None:
        await repo.remember_contact_and_site(
            uow.conn,
            contact_id=event.contact_id,
            site_id=event.site_id,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            site_slug=event.site_slug,
        )

    async def enrol_in_registration_sequences(event: ContactCreated, uow: UnitOfWork) -> None:
        if not event.start_sequences:
            return
        found = await repo.sequences_by_name(uow.conn, event.site_id, list(event.start_sequences))
        for sequence in found:
            await repo.enrol(
                uow.conn,
                enrolment_id=uuid.uuid4(),
                sequence_id=sequence["id"],
                site_id=event.site_id,
                contact_id=event.contact_id,
                source="registration",
            )
        unknown = sorted(set(event.start_sequences) - {s["name"] for s in found})
        if unknown:
            log.warning("sequences.unknown_on_registration", contact_id=str(event.contact_id), sequences=unknown)

    async def remember_granted_contact(event: Granted, uow: UnitOfWork) -> None:
        await repo.remember_contact_and_site(
            uow.conn,
            contact_id=event.contact_id,
            site_id=event.site_id,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            site_slug=event.site_slug,
            site_name=event.site_name,
        )

    async def send_welcome_on_credentials_issued(event: CredentialsIssued | CredentialsIssuedV1, uow: UnitOfWork) -> None:
        legacy = isinstance(event, CredentialsIssuedV1)
        await email(
            uow,
            "credentials_resent" if event.resent else "welcome",
            event,
            remember_site=(event.site_slug, event.site_name),
            to=event.email,
            first_name=event.first_name,
            site_name=event.site_name,
            level_name=event.level_name,
            username=event.username,
            set_password_url=link(
                event, "set_password_url", event.set_password_url if legacy else event.set_password_link, legacy
            ),
            expires_at=format_time(event.expires_at),
        )

    async def send_password_reset(event: PasswordResetRequested | PasswordResetRequestedV1, uow: UnitOfWork) -> None:
        legacy = isinstance(event, PasswordResetRequestedV1)
        await email(
            uow,
            "password_reset",
            event,
            remember_site=("", event.site_name),
            to=event.email,
            first_name=event.first_name,
            site_name=event.site_name,
            username=event.username,
            reset_url=link(event, "reset_url", event.reset_url if legacy else event.reset_link, legacy),
            expires_at=format_time(event.expires_at),
        )

    async def tell_username_changed(event: UsernameChanged, uow: UnitOfWork) -> None:
        await email(
            uow,
            "username_changed",
            event,
            to=event.email,
            first_name=event.first_name,
            site_name=event.site_name,
            old_username=event.old_username,
            new_username=event.new_username,
            changed_at=format_time(event.changed_at),
            forgot_password_url=f"{public}/password/forgot",
        )

    async def tell_password_changed(event: PasswordChanged, uow: UnitOfWork) -> None:
        await email(
            uow,
            "password_changed",
            event,
            to=event.email,
            first_name=event.first_name,
            site_name=event.site_name,
            changed_at=format_time(event.changed_at),
            forgot_password_url=f"{public}/password/forgot",
        )

    async def send_receipt(event: PaymentSucceeded, uow: UnitOfWork) -> None:
        await email(
            uow,
            "payment_succeeded",
            event,
            amount=format_money(event.amount.amount, event.amount.currency),
            product_name=event.product_name,
            paid_at=format_date(event.paid_at),
            card_brand=event.card_brand,
            card_last4=event.card_last4,
            receipt_url=f"{public}/center/receipts/{event.payment_id}",
        )

    async def tell_payment_failed(event: PaymentFailed, uow: UnitOfWork) -> None:
        fields = dict(
            amount=format_money(event.amount.amount, event.amount.currency),
            product_name=event.product_name,
            card_last4=event.card_last4,
            update_card_url=f"{public}/center#cards",
        )
        if event.next_retry_at is None:
            await email(uow, "payment_failed_final", event, **fields)
        else:
            await email(uow, "payment_failed", event, retry_date=format_date(event.next_retry_at), **fields)

    async def tell_subscription_cancelled(event: SubscriptionCancelled, uow: UnitOfWork) -> None:
        await email(
            uow,
            "subscription_cancelled",
            event,
            product_name=event.product_name,
            access_ends_at=format_date(event.access_ends_at),
        )

    async def tell_payment_plan_completed(event: OrderCompleted, uow: UnitOfWork) -> None:
        await email(
            uow,
            "payment_plan_completed",
            event,
            product_name=event.product_name,
            installments_paid=str(event.installments_paid),
            total=format_money(event.total.amount, event.total.currency),
        )

    async def warn_card_expiring(event: CardExpiryApproached, uow: UnitOfWork) -> None:
        await email(
            uow,
            "card_expiring",
            event,
            card_brand=event.brand,
            card_last4=event.last4,
            expiry=datetime(event.exp_year, event.exp_month, 1).strftime("%B %Y"),
            update_card_url=f"{public}/center#cards",
        )

    return {
        ContactCreated: [remember_contact, enrol_in_registration_sequences],
        Granted: [remember_granted_contact],
        # Subscribed by routing key: the handler also gets a version 1 event still in a queue.
        CredentialsIssued: [send_welcome_on_credentials_issued],
        PasswordResetRequested: [send_password_reset],
        UsernameChanged: [tell_username_changed],
        PasswordChanged: [tell_password_changed],
        PaymentSucceeded: [send_receipt],
        PaymentFailed: [tell_payment_failed],
        SubscriptionCancelled: [tell_subscription_cancelled],
        OrderCompleted: [tell_payment_plan_completed],
        CardExpiryApproached: [warn_card_expiring],
    }


async def forward_to_webhooks(envelope: Envelope, uow: UnitOfWork) -> None:
    """Every event of a site goes to that site's endpoints subscribed to its type."""
    try:
        site_id = UUID(str(envelope.payload.get("site_id")))
    except ValueError:
        return  # not about a site: no endpoint can want it
    queued = await repo.queue_deliveries(
        uow.conn,
        site_id=site_id,
        event_id=envelope.id,
        event_type=envelope.type,
        body=webhook_body(envelope),
        id_of=delivery_id_for,
    )
    if queued:
        log.info("webhooks.queued", event_id=str(envelope.id), endpoints=queued)


def webhook_handlers():
    """The webhooks consumer's map (its own queue, bound to the types endpoints want:
    ``services/notify/webhooks/bindings.py``). The inbox knows the handler by the same name as when it
    shared notify's queue, so an event applied before an upgrade is not queued twice."""
    return {AllEvents: [forward_to_webhooks]}
