"""The billing run's helpers for a batch: the advance written while the processor charges, the
cards read with the claim, and the sandbox's charge ids."""

import asyncio
import re

import pytest

from services.billing.run import _both, _claimed_cards
from services.sandbox.charges import charge_ids


async def test_both_waits_for_the_statement_on_the_connection_before_raising_the_charges_error():
    finished = []

    async def statement():
        await asyncio.sleep(0.05)
        finished.append("statement")

    async def charging():
        raise RuntimeError("processor gone")

    with pytest.raises(RuntimeError, match="processor gone"):
        await _both(charging(), statement())
    # Nothing is left running on the connection when the transaction rolls back.
    assert finished == ["statement"]


async def test_both_answers_both_results_in_order():
    async def value(v, delay):
        await asyncio.sleep(delay)
        return v

    assert await _both(value("charged", 0.02), value(None, 0)) == ("charged", None)


def test_claimed_cards_are_the_orders_cards_by_id_and_skip_orders_without_one():
    card = "c1"
    orders = [
        {"card_id": card, "card_token": "tok_1", "card_brand": "visa", "card_last4": "4242", "card_removed_at": None},
        {"card_id": None, "card_token": None, "card_brand": None, "card_last4": None, "card_removed_at": None},
    ]
    assert _claimed_cards(orders) == {
        card: {"id": card, "token": "tok_1", "brand": "visa", "last4": "4242", "removed_at": None}
    }


def test_charge_ids_look_like_the_single_routes_and_differ():
    ids = charge_ids(1000)
    assert len(set(ids)) == 1000
    # "ch_" + secrets.token_urlsafe(18): 24 URL-safe base64 characters.
    assert all(re.fullmatch(r"ch_[A-Za-z0-9_-]{24}", i) for i in ids)
    assert charge_ids(0) == []
