"""Every SQL statement of billing. Customer-facing reads are scoped by contact AND site."""

from datetime import datetime
from operator import itemgetter
from uuid import UUID

import asyncpg

from services.billing.domain import Product

_COLUMNS = {
    "orders": {
        "status", "card_id", "anchor_at", "anchor_index", "periods_billed", "next_billing_at",
        "cancel_at_period_end", "cancelled_at", "cancelled_by", "cancel_reason", "access_ends_at",
        "paused_at", "suspended_at", "completed_at",
    },
    "invoices": {
        "status", "charge_attempts", "failures", "transient_errors", "first_failed_at", "next_attempt_at",
        "last_error", "paid_at",
    },
    "cards": {"is_default", "fallback_rank", "removed_at"},
    "payments": {"status", "amount_refunded"},
}


async def update(conn: asyncpg.Connection, table: str, row_id: UUID, **fields) -> None:
    """Set whitelisted columns of one row."""
    allowed = _COLUMNS[table]
    assert fields and set(fields) <= allowed, set(fields) - allowed
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    await conn.execute(f"UPDATE {table} SET {sets} WHERE id = $1", row_id, *fields.values())


# --- contacts -------------------------------------------------------------------------------------


async def upsert_contact(conn, *, contact_id, site_id, email, first_name, last_name) -> None:
    await conn.execute(
        "INSERT INTO contacts (id, site_id, email, first_name, last_name) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,"
        " last_name = EXCLUDED.last_name",
        contact_id, site_id, email, first_name, last_name,
    )


async def remember_vouched_contact(conn, *, contact_id, site_id, email, first_name, last_name) -> None:
    """A contact membership just answered for (the order form), before its membership.contact.created
    arrives; fills in one known only by id, changes nothing else."""
    await conn.execute(
        "INSERT INTO contacts (id, site_id, email, first_name, last_name) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,"
        " last_name = EXCLUDED.last_name WHERE contacts.email = ''",
        contact_id, site_id, email, first_name, last_name,
    )


async def ensure_contact(conn, *, contact_id, site_id) -> None:
    """A contact known only by id until its membership.contact.created arrives (which fills it in)."""
    await conn.execute(
        "INSERT INTO contacts (id, site_id, email) VALUES ($1, $2, '') ON CONFLICT (id) DO NOTHING", contact_id, site_id
    )


async def contact(conn, contact_id: UUID, site_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM contacts WHERE id = $1 AND site_id = $2", contact_id, site_id)


# --- products -------------------------------------------------------------------------------------

_PRODUCT = "id, site_id, name, kind, amount, currency, interval, interval_count, installments"


async def upsert_product(conn: asyncpg.Connection, p: Product) -> None:
    await conn.execute(
        f"INSERT INTO products ({_PRODUCT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        p.id, p.site_id, p.name, p.kind, p.amount, p.currency, p.interval, p.interval_count, p.installments,
    )


async def products_of_site(conn: asyncpg.Connection, site_id, *, limit: int = 1000, offset: int = 0) -> list[Product]:
    rows = await conn.fetch(
        f"SELECT {_PRODUCT} FROM products WHERE site_id = $1 ORDER BY created_at, name, id LIMIT $2 OFFSET $3",
        site_id, limit, offset,
    )
    return [Product(**r) for r in rows]


async def product(conn, product_id: UUID, site_id: UUID) -> Product | None:
    row = await conn.fetchrow(f"SELECT {_PRODUCT} FROM products WHERE id = $1 AND site_id = $2", product_id, site_id)
    return Product(**row) if row else None


# --- cards ----------------------------------------------------------------------------------------


async def card(conn, card_id: UUID, contact_id: UUID, site_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM cards WHERE id = $1 AND contact_id = $2 AND site_id = $3 AND removed_at IS NULL",
        card_id, contact_id, site_id,
    )


async def cards_by_ids(conn, card_ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    """The cards with these ids, in one query (a billing run's batch)."""
    rows = await conn.fetch("SELECT * FROM cards WHERE id = ANY($1::uuid[])", card_ids)
    return {r["id"]: r for r in rows}


async def card_by_token(conn, contact_id: UUID, token: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM cards WHERE contact_id = $1 AND token = $2 AND removed_at IS NULL", contact_id, token
    )


async def cards_of(conn, contact_id: UUID, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM cards WHERE contact_id = $1 AND site_id = $2 AND removed_at IS NULL"
        " ORDER BY is_default DESC, created_at, id",
        contact_id, site_id,
    )


async def insert_card(conn, *, card_id, site_id, contact_id, details, fallback_rank: int | None) -> asyncpg.Record:
    """The new card; it becomes the default when the contact has none."""
    has_default = await conn.fetchval(
        "SELECT true FROM cards WHERE contact_id = $1 AND is_default AND removed_at IS NULL", contact_id
    )
    return await conn.fetchrow(
        "INSERT INTO cards (id, site_id, contact_id, token, brand, last4, exp_month, exp_year, is_default, fallback_rank)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        card_id, site_id, contact_id, details.token, details.brand, details.last4,
        details.exp_month, details.exp_year, not has_default, fallback_rank,
    )


async def make_default(conn, contact_id: UUID, card_id: UUID | None) -> None:
    await conn.execute("UPDATE cards SET is_default = false WHERE contact_id = $1 AND is_default", contact_id)
    if card_id is not None:
        await conn.execute("UPDATE cards SET is_default = true WHERE id = $1", card_id)


async def newest_card(conn, contact_id: UUID) -> UUID | None:
    return await conn.fetchval(
        "SELECT id FROM cards WHERE contact_id = $1 AND removed_at IS NULL ORDER BY created_at DESC, id LIMIT 1",
        contact_id,
    )


async def fallback_cards(conn, contact_id: UUID, exclude: UUID | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM cards WHERE contact_id = $1 AND removed_at IS NULL AND fallback_rank IS NOT NULL"
        " AND id IS DISTINCT FROM $2 ORDER BY fallback_rank, created_at",
        contact_id, exclude,
    )


_OPEN = "o.status IN ('active', 'past_due', 'paused') AND o.kind IN ('subscription', 'payment_plan')"


async def open_orders_paid_by(conn, card_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT o.id, o.card_id, o.product_name, o.amount, o.currency, o.next_billing_at, o.status"
        f" FROM orders o WHERE o.card_id = ANY($1::uuid[]) AND {_OPEN} ORDER BY o.next_billing_at NULLS LAST, o.id",
        card_ids,
    )


async def mark_expiring_cards(conn, *, year: int, month: int, now, site_id, contact_id) -> list[asyncpg.Record]:
    """Cards expiring in (year, month) that pay open orders and were not announced yet: marked, once."""
    return await conn.fetch(
        "UPDATE cards c SET expiry_notified_at = $3 WHERE c.removed_at IS NULL AND c.expiry_notified_at IS NULL"
        " AND c.exp_year = $1 AND c.exp_month = $2"
        " AND ($4::uuid IS NULL OR c.site_id = $4) AND ($5::uuid IS NULL OR c.contact_id = $5)"
        f" AND EXISTS (SELECT 1 FROM orders o WHERE o.card_id = c.id AND {_OPEN}) RETURNING c.*",
        year, month, now, site_id, contact_id,
    )


async def move_open_orders(conn, contact_id: UUID, site_id: UUID, card_id: UUID) -> list[UUID]:
    """Every open subscription and payment plan of the contact is paid by ``card_id`` from now on."""
    rows = await conn.fetch(
        f"UPDATE orders o SET card_id = $3 WHERE o.contact_id = $1 AND o.site_id = $2 AND {_OPEN}"
        " AND o.card_id IS DISTINCT FROM $3 RETURNING o.id",
        contact_id, site_id, card_id,
    )
    return [r["id"] for r in rows]


# --- orders ---------------------------------------------------------------------------------------

_ORDER_VIEW = f"""
SELECT o.*, c.brand AS card_brand, c.last4 AS card_last4,
       coalesce((SELECT sum(i.covers) FROM invoices i WHERE i.order_id = o.id AND i.status = 'paid'), 0)::int AS periods_paid
FROM orders o LEFT JOIN cards c ON c.id = o.card_id
"""


async def insert_order(conn, **o) -> None:
    await conn.execute(
        "INSERT INTO orders (id, site_id, contact_id, product_id, product_name, kind, amount, currency, interval,"
        " interval_count, installments, status, card_id, anchor_at, anchor_index, periods_billed, next_billing_at,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $16, $17)",
        o["id"], o["site_id"], o["contact_id"], o["product_id"], o["product_name"], o["kind"], o["amount"],
        o["currency"], o["interval"], o["interval_count"], o["installments"], o["status"], o["card_id"],
        o["anchor_at"], o["periods_billed"], o["next_billing_at"], o["created_at"],
    )


async def order(conn, order_id: UUID, site_id: UUID, contact_id: UUID | None = None, *, lock: bool = False):
    """One order of the site (and of the contact, when given); ``lock`` takes its row lock."""
    if lock:
        locked = await conn.fetchval(
            "SELECT id FROM orders WHERE id = $1 AND site_id = $2 AND ($3::uuid IS NULL OR contact_id = $3) FOR UPDATE",
            order_id, site_id, contact_id,
        )
        if locked is None:
            return None
    return await conn.fetchrow(
        _ORDER_VIEW + " WHERE o.id = $1 AND o.site_id = $2 AND ($3::uuid IS NULL OR o.contact_id = $3)",
        order_id, site_id, contact_id,
    )


async def orders_of(conn, contact_id: UUID, site_id: UUID, *, limit: int, offset: int, recurring_only: bool = False):
    kinds = "AND o.kind IN ('subscription', 'payment_plan')" if recurring_only else ""
    return await conn.fetch(
        _ORDER_VIEW + f" WHERE o.contact_id = $1 AND o.site_id = $2 {kinds}"
        " ORDER BY o.created_at DESC, o.id LIMIT $3 OFFSET $4",
        contact_id, site_id, limit, offset,
    )


async def orders_by_ids(conn, ids: list[UUID]):
    return await conn.fetch(_ORDER_VIEW + " WHERE o.id = ANY($1::uuid[]) ORDER BY o.created_at, o.id", ids)


async def claim_due_orders(conn, *, as_of: datetime, site_id, contact_id, limit: int) -> list[asyncpg.Record]:
    """Active orders whose next period has begun and that owe nothing: locked, skipping ones another
    billing run holds. Each with what opening its period needs and the card paying it (``card_token``,
    ``card_brand``, ``card_last4``, ``card_removed_at``: read here rather than by a statement of its own)."""
    return await conn.fetch(
        "SELECT o.id, o.site_id, o.contact_id, o.product_id, o.product_name, o.kind, o.amount, o.currency,"
        " o.interval, o.interval_count, o.installments, o.card_id, o.anchor_at, o.anchor_index, o.periods_billed,"
        " o.next_billing_at, o.cancel_at_period_end, c.token AS card_token, c.brand AS card_brand,"
        " c.last4 AS card_last4, c.removed_at AS card_removed_at"
        " FROM orders o LEFT JOIN cards c ON c.id = o.card_id"
        " WHERE o.status = 'active' AND o.next_billing_at <= $1"
        " AND ($2::uuid IS NULL OR o.site_id = $2) AND ($3::uuid IS NULL OR o.contact_id = $3)"
        " AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.id AND i.status = 'unpaid')"
        " ORDER BY o.next_billing_at LIMIT $4 FOR UPDATE OF o SKIP LOCKED",
        as_of, site_id, contact_id, limit,
    )


# --- invoices -------------------------------------------------------------------------------------


_INVOICE_COLUMNS = (
    "id", "order_id", "site_id", "contact_id", "sequence", "covers", "period_start", "period_end", "amount", "currency",
    "status", "charge_attempts", "next_attempt_at", "created_at", "paid_at",
)


_invoice_row = itemgetter(*_INVOICE_COLUMNS)


async def insert_invoices(conn, invoices: list) -> None:
    """Invoices (mappings with ``_INVOICE_COLUMNS``), in one statement (a binary COPY: for a billing
    run's batch, a third less CPU here and in PostgreSQL than ``INSERT ... SELECT FROM unnest``). A
    second invoice for an (order, period) is refused (``UniqueViolationError``, as by an INSERT)."""
    if not invoices:
        return
    await conn.copy_records_to_table("invoices", records=map(_invoice_row, invoices), columns=_INVOICE_COLUMNS)


async def advance_orders(conn, rows: list[tuple]) -> None:
    """(order_id, periods_billed, next_billing_at)."""
    if not rows:
        return
    await conn.execute(
        "UPDATE orders o SET periods_billed = v.periods_billed, next_billing_at = v.next_billing_at"
        " FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS v (id, periods_billed, next_billing_at)"
        " WHERE o.id = v.id",
        *zip(*rows),
    )


_INVOICE_CHARGE = """
SELECT i.*, o.card_id, o.product_id, o.product_name, o.kind, o.status AS order_status, o.installments,
       o.periods_billed, o.contact_id AS order_contact_id
FROM invoices i JOIN orders o ON o.id = i.order_id
"""


async def claim_chargeable_invoices(conn, *, as_of: datetime, site_id, contact_id, limit: int):
    """Unpaid invoices whose (re)try is due, locked, skipping ones another billing run holds."""
    return await conn.fetch(
        _INVOICE_CHARGE
        + " WHERE i.status = 'unpaid' AND i.next_attempt_at <= $1 AND o.status IN ('active', 'past_due')"
        " AND ($2::uuid IS NULL OR i.site_id = $2) AND ($3::uuid IS NULL OR i.contact_id = $3)"
        " ORDER BY i.next_attempt_at LIMIT $4 FOR UPDATE OF i SKIP LOCKED",
        as_of, site_id, contact_id, limit,
    )


async def invoice_for_charge(conn, invoice_id: UUID, contact_id: UUID, site_id: UUID):
    """One invoice of the contact, locked (waits for a billing run that holds it)."""
    locked = await conn.fetchval(
        "SELECT id FROM invoices WHERE id = $1 AND contact_id = $2 AND site_id = $3 FOR UPDATE",
        invoice_id, contact_id, site_id,
    )
    if locked is None:
        return None
    return await conn.fetchrow(_INVOICE_CHARGE + " WHERE i.id = $1", invoice_id)


async def unpaid_invoice_ids(conn, contact_id: UUID, site_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT i.id FROM invoices i JOIN orders o ON o.id = i.order_id"
        " WHERE i.contact_id = $1 AND i.site_id = $2 AND i.status = 'unpaid'"
        " AND o.status IN ('active', 'past_due', 'suspended') ORDER BY i.period_start, i.id",
        contact_id, site_id,
    )
    return [r["id"] for r in rows]


async def lock_invoices_of_order(conn, order_id: UUID) -> None:
    await conn.execute("SELECT id FROM invoices WHERE order_id = $1 AND status = 'unpaid' FOR UPDATE", order_id)


async def void_unpaid_invoices(conn, order_id: UUID) -> None:
    await conn.execute(
        "UPDATE invoices SET status = 'void', next_attempt_at = NULL WHERE order_id = $1 AND status = 'unpaid'",
        order_id,
    )


async def invoices_of(conn, contact_id: UUID, site_id: UUID, *, status: str | None, limit: int, offset: int):
    return await conn.fetch(
        "SELECT i.*, o.product_name FROM invoices i JOIN orders o ON o.id = i.order_id"
        " WHERE i.contact_id = $1 AND i.site_id = $2 AND ($3::text IS NULL OR i.status = $3)"
        " ORDER BY i.created_at DESC, i.sequence DESC, i.id LIMIT $4 OFFSET $5",
        contact_id, site_id, status, limit, offset,
    )


# --- payments -------------------------------------------------------------------------------------


_PAYMENT_COLUMNS = (
    "id", "invoice_id", "order_id", "site_id", "contact_id", "card_id", "amount", "currency", "status",
    "idempotency_key", "processor_charge_id", "failure_code", "failure_message", "created_at",
)


async def insert_payments(conn, rows: list[tuple], *, failed: bool = False) -> set[str]:
    """(id, invoice_id, order_id, site_id, contact_id, card_id, amount, currency, status,
    idempotency_key, processor_charge_id, failure_code, failure_message, created_at), in one
    statement; answers the keys recorded. ``failed``: one already recorded under its key is skipped;
    a second payment for the key of a SUCCEEDED one is refused by the unique constraint (it raises:
    written by a binary COPY, as ``insert_invoices``)."""
    if not rows:
        return set()
    if not failed:
        await conn.copy_records_to_table("payments", records=rows, columns=_PAYMENT_COLUMNS)
        return {row[9] for row in rows}
    conflict = " ON CONFLICT (idempotency_key) DO NOTHING" if failed else ""
    recorded = await conn.fetch(
        "INSERT INTO payments (id, invoice_id, order_id, site_id, contact_id, card_id, amount, currency, status,"
        " idempotency_key, processor_charge_id, failure_code, failure_message, created_at)"
        " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::bigint[],"
        " $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[])"
        + conflict + " RETURNING idempotency_key",
        *zip(*rows),
    )
    return {r["idempotency_key"] for r in recorded}


async def mark_invoices_paid(conn, rows: list[tuple], *, paid_at: datetime) -> None:
    """(invoice_id, charge_attempts): paid, no retry pending."""
    if not rows:
        return
    await conn.execute(
        "UPDATE invoices i SET status = 'paid', paid_at = $3, next_attempt_at = NULL, charge_attempts = v.attempts,"
        " last_error = NULL FROM unnest($1::uuid[], $2::int[]) AS v (id, attempts) WHERE i.id = v.id",
        *zip(*rows), paid_at,
    )


async def reactivate_orders(conn, order_ids: list[UUID]) -> None:
    """Orders that were behind (past due, suspended) and are paid up again."""
    await conn.execute("UPDATE orders SET status = 'active', suspended_at = NULL WHERE id = ANY($1::uuid[])", order_ids)


_PAYMENT_VIEW = """
SELECT p.*, c.brand AS card_brand, c.last4 AS card_last4, o.product_name, o.kind, i.sequence, i.covers,
       i.period_start, i.period_end
FROM payments p JOIN orders o ON o.id = p.order_id JOIN invoices i ON i.id = p.invoice_id
LEFT JOIN cards c ON c.id = p.card_id
"""


async def payments_of(conn, contact_id: UUID, site_id: UUID, *, limit: int, offset: int):
    return await conn.fetch(
        _PAYMENT_VIEW + " WHERE p.contact_id = $1 AND p.site_id = $2"
        " ORDER BY p.created_at DESC, p.id LIMIT $3 OFFSET $4",
        contact_id, site_id, limit, offset,
    )


async def payment(conn, payment_id: UUID, site_id: UUID, contact_id: UUID | None = None):
    return await conn.fetchrow(
        _PAYMENT_VIEW + " WHERE p.id = $1 AND p.site_id = $2 AND ($3::uuid IS NULL OR p.contact_id = $3)",
        payment_id, site_id, contact_id,
    )


async def paid_periods(conn, order_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT coalesce(sum(covers), 0)::int FROM invoices WHERE order_id = $1 AND status = 'paid'", order_id
    )


async def invoice(conn, invoice_id: UUID, contact_id: UUID, site_id: UUID):
    return await conn.fetchrow(
        "SELECT i.*, o.product_name FROM invoices i JOIN orders o ON o.id = i.order_id"
        " WHERE i.id = $1 AND i.contact_id = $2 AND i.site_id = $3",
        invoice_id, contact_id, site_id,
    )


async def refund_payment(conn, payment_id: UUID, amount: int) -> None:
    await conn.execute(
        "UPDATE payments SET status = 'refunded', amount_refunded = amount_refunded + $2 WHERE id = $1",
        payment_id, amount,
    )
