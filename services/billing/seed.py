"""The demo site's products, and due subscriptions in bulk for load tests and benchmarks."""

import uuid
from datetime import datetime, timedelta

import asyncpg

from services.billing import repository as repo
from services.billing.domain import Product
from services.membership.seed import DEMO_SITE_ID, demo_id


async def seed_demo(conn: asyncpg.Connection) -> None:
    products = [
        Product(demo_id("product:monthly"), DEMO_SITE_ID, "Gold monthly", "subscription", 1900, "USD", "month", 1),
        Product(demo_id("product:plan"), DEMO_SITE_ID, "Gold course, 3 installments", "payment_plan", 4900, "USD", "month", 1, 3),
        Product(demo_id("product:ebook"), DEMO_SITE_ID, "Starter e-book", "one_time", 1500, "USD"),
    ]
    async with conn.transaction():
        for product in products:
            await repo.upsert_product(conn, product)


async def seed_due_subscriptions(
    pool: asyncpg.Pool, *, token: str, count: int, due_at: datetime, chunk: int = 100_000
) -> list[uuid.UUID]:
    """``count`` demo contacts, each with a card (``token``, from the processor) and a monthly
    subscription due at ``due_at``, written with COPY (what the billing run then charges). Returns
    the orders' ids."""
    monthly = demo_id("product:monthly")
    tag = uuid.uuid4().hex[:8]
    orders: list[uuid.UUID] = []
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        contacts = [uuid.uuid4() for _ in range(size)]
        cards = [uuid.uuid4() for _ in range(size)]
        batch = [uuid.uuid4() for _ in range(size)]
        async with pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "contacts", schema_name="billing", columns=["id", "site_id", "email"],
                records=[(c, DEMO_SITE_ID, f"due-{tag}-{start + i}@example.org") for i, c in enumerate(contacts)],
            )
            await conn.copy_records_to_table(
                "cards", schema_name="billing",
                columns=["id", "site_id", "contact_id", "token", "brand", "last4", "exp_month", "exp_year", "is_default"],
                records=[(k, DEMO_SITE_ID, c, token, "visa", "4242", 12, 2099, True) for k, c in zip(cards, contacts)],
            )
            await conn.copy_records_to_table(
                "orders", schema_name="billing",
                columns=["id", "site_id", "contact_id", "product_id", "product_name", "kind", "amount", "currency",
                         "interval", "interval_count", "status", "card_id", "anchor_at", "anchor_index",
                         "periods_billed", "next_billing_at", "created_at"],
                records=[
                    (o, DEMO_SITE_ID, c, monthly, "Gold monthly", "subscription", 1900, "USD", "month", 1, "active",
                     k, due_at, 1, 1, due_at, due_at - timedelta(days=31))
                    for o, c, k in zip(batch, contacts, cards)
                ],
            )
        orders += batch
    return orders
