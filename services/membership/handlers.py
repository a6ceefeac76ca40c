"""Membership's event handlers. The map is the subscription list."""

from services.membership import repository as repo
from services.membership.domain import CANCELLATION_FACTS, field_value
from services.membership.grants import end_grant, grant_level
from shared.db import UnitOfWork
from shared.events.billing import OrderCompleted, OrderSuspended, PaymentSucceeded, SubscriptionCancelled
from shared.logging import get_logger

log = get_logger("membership.handlers")


async def grant_levels_on_first_payment(event: PaymentSucceeded, uow: UnitOfWork) -> None:
    """The site's rules for the product grant their levels: once per order, and not again while the
    contact holds an open-ended grant from the same rule (a renewal or a redelivery adds nothing; a
    purchase after the earlier grant ended grants anew)."""
    conn = uow.conn
    site = await repo.site_by_id(conn, event.site_id)
    # The contact's row lock serialises concurrent payments of one contact.
    contact = await repo.contact(conn, event.site_id, event.contact_id, for_update=True) if site else None
    if contact is None:
        log.warning("payment.unknown_contact", contact_id=str(event.contact_id), site_id=str(event.site_id))
        return
    ending = await repo.order_ending(conn, event.order_id)
    for rule in await repo.rules_for_product(conn, site.id, event.product_id):
        if await repo.open_rule_grant(conn, rule["id"], contact["id"]):
            log.info("rule.already_applied", rule_id=str(rule["id"]), contact_id=str(contact["id"]))
            continue
        level = await repo.level(conn, rule["level_id"])
        grant_id = await grant_level(
            uow,
            site=site,
            contact=contact,
            level=level,
            source="rule",
            starts_at=event.paid_at,
            ends_at=ending["ends_at"] if ending else None,
            rule_id=rule["id"],
            order_id=event.order_id,
        )
        if grant_id is None:
            log.info("rule.already_applied_to_order", rule_id=str(rule["id"]), order_id=str(event.order_id))
            continue
        if ending:  # billing ended the order before this payment reached us
            await repo.end_grant(conn, grant_id, ends_at=ending["ends_at"], reason=ending["reason"])
        log.info("rule.granted", rule_id=str(rule["id"]), grant_id=str(grant_id), order_id=str(event.order_id))


async def end_order_grants(uow: UnitOfWork, *, site_id, contact: dict, order_id, ends_at, reason: str) -> None:
    """The grants this order made end at ``ends_at``; remembered for a payment event still to come."""
    await repo.record_order_ending(uow.conn, order_id=order_id, contact_id=contact["id"], ends_at=ends_at, reason=reason)
    for grant in await repo.grants_of_order(uow.conn, contact["id"], order_id):
        if grant.ends_at is None or grant.ends_at > ends_at:
            await end_grant(uow, site_id=site_id, contact_id=contact["id"], grant=grant, ends_at=ends_at, reason=reason)


async def end_access_at_period_end_on_cancellation(event: SubscriptionCancelled, uow: UnitOfWork) -> None:
    """The order's grants end when the paid period does; the cancellation is written on the contact."""
    conn = uow.conn
    site = await repo.site_by_id(conn, event.site_id)
    contact = await repo.contact(conn, event.site_id, event.contact_id, for_update=True) if site else None
    if contact is None:
        log.warning("cancellation.unknown_contact", contact_id=str(event.contact_id), site_id=str(event.site_id))
        return
    reason = f"subscription cancelled by the {event.cancelled_by}" + (f" ({event.reason})" if event.reason else "")
    await end_order_grants(uow, site_id=site.id, contact=contact, order_id=event.order_id, ends_at=event.access_ends_at, reason=reason)
    facts = {"who": event.cancelled_by, "when": event.cancelled_at.isoformat(), "reason": event.reason}
    definitions = await repo.field_definitions(conn, site.id)
    values = {}
    for fact, name in site.cancellation_fields.items():
        if fact in CANCELLATION_FACTS and name:
            definition = definitions.get(name)
            try:
                values[name] = field_value(definition, facts[fact]) if definition else facts[fact]
            except ValueError:  # a definition an admin changed to another type: keep the fact as text
                values[name] = str(facts[fact])
    if values:
        await repo.update_contact(conn, contact["id"], {"fields": values})
    log.info("cancellation.recorded", order_id=str(event.order_id), contact_id=str(contact["id"]))


async def end_access_on_suspension(event: OrderSuspended, uow: UnitOfWork) -> None:
    """Every retry failed: the order's grants end now."""
    contact = await repo.contact(uow.conn, event.site_id, event.contact_id, for_update=True)
    if contact is None:
        log.warning("suspension.unknown_contact", contact_id=str(event.contact_id), site_id=str(event.site_id))
        return
    reason = f"order suspended ({event.reason})" if event.reason else "order suspended"
    await end_order_grants(uow, site_id=event.site_id, contact=contact, order_id=event.order_id, ends_at=event.suspended_at, reason=reason)
    log.info("suspension.applied", order_id=str(event.order_id), contact_id=str(contact["id"]))


async def keep_access_on_completion(event: OrderCompleted, uow: UnitOfWork) -> None:
    """A paid-off payment plan keeps its grants: nothing ends."""
    log.info("completion.access_kept", order_id=str(event.order_id), contact_id=str(event.contact_id))


HANDLERS: dict = {
    PaymentSucceeded: [grant_levels_on_first_payment],
    SubscriptionCancelled: [end_access_at_period_end_on_cancellation],
    OrderSuspended: [end_access_on_suspension],
    OrderCompleted: [keep_access_on_completion],
}
