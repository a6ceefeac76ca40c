"""Orders, invoices and payments are never deleted: the database refuses it (billing migration 005),
which is what lets an invoice's order and a payment's invoice go unchecked by foreign keys."""

import asyncpg
import pytest


@pytest.mark.parametrize("table", ["orders", "invoices", "payments"])
@pytest.mark.parametrize("statement", ["DELETE FROM billing.{table} WHERE false", "TRUNCATE billing.{table} CASCADE"])
async def test_the_ledger_refuses_deletion(system, db, table, statement):
    async with db.acquire() as conn:
        with pytest.raises(asyncpg.RestrictViolationError, match=f"billing keeps every {table} row"):
            await conn.execute(statement.format(table=table))

