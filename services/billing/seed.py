"""The demo site's products."""

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
