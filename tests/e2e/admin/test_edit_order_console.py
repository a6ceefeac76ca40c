"""Edit order in the console over HTTP: the next billing date, pause and resume, cancel, a refund;
each change is one audit entry with the order before and after, in the staff member's name."""

import re
from html import unescape

from services.membership.seed import demo_id
from tests.conftest import ADMIN_KEY
from tests.factories import unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}
MONTHLY = str(demo_id("product:monthly"))


async def _subscriber(gateway) -> tuple[str, str]:
    async with gateway.post("/sandbox/v1/tokens", json={"number": "4242424242424242", "exp_month": 12,
                                                        "exp_year": 2099, "cvc": "123"}) as r:
        token = (await r.json())["token"]
    email = unique_email("editorder")
    async with gateway.post("/api/checkout", json={"site": "demo", "product_id": MONTHLY, "email": email,
                                                   "first_name": "Eddie", "last_name": "Edit", "card_token": token}) as r:
        assert r.status == 201, await r.text()
        order_id = (await r.json())["order"]["id"]
    async with gateway.get(f"/admin/api/contacts?q={email}", headers=ADMIN) as r:
        [contact] = (await r.json())["items"]
    return contact["id"], order_id


async def _submit(client, page: str, action: str, form: dict) -> str:
    async with client.get(page, allow_redirects=False) as r:
        html = await r.text()
        assert r.status == 200, html[:500]
    csrf = unescape(re.search(r'name="csrf_token" value="([^"]+)"', html).group(1))
    async with client.post(action, data={"csrf_token": csrf, **form}, allow_redirects=False) as r:
        assert r.status == 303, (await r.text())[:500]
        location = r.headers["Location"]
    async with client.get(location, allow_redirects=False) as r:
        return await r.text()


async def _audit(gateway, contact_id: str) -> list[dict]:
    async with gateway.get(f"/admin/api/audit?contact_id={contact_id}", headers=ADMIN) as r:
        return (await r.json())["entries"]


async def test_support_edits_an_order_and_refunds_a_payment(support_console, staff_support, gateway):
    contact_id, order_id = await _subscriber(gateway)
    page = f"/admin/contacts/{contact_id}/orders/{order_id}"

    html = await _submit(support_console, page, f"{page}/next-billing-date", {"next_billing_date": "2031-01-15"})
    assert "The next billing date is changed." in html and "2031-01-15" in html
    html = await _submit(support_console, page, f"{page}/next-billing-date", {"next_billing_date": "soon"})
    assert 'role="alert"' in html and "next_billing_date" in html
    html = await _submit(support_console, page, f"{page}/pause", {})
    assert "The subscription is paused." in html and "Resume the subscription" in html
    html = await _submit(support_console, page, f"{page}/pause", {})
    assert "This subscription cannot be changed that way now." in html
    html = await _submit(support_console, page, f"{page}/resume", {})
    assert "The subscription is resumed." in html
    html = await _submit(support_console, page, f"{page}/cancel", {"reason": "", "at": "now"})
    assert 'role="alert"' in html and "reason" in html  # a reason is needed
    html = await _submit(support_console, page, f"{page}/cancel", {"reason": "moving abroad", "at": "now"})
    assert "The subscription is cancelled." in html

    purchases = f"/admin/contacts/{contact_id}/purchases"
    async with support_console.get(purchases) as r:
        payment_id = re.search(r'/payments/([0-9a-f-]{36})/refund', await r.text()).group(1)
    html = await _submit(support_console, purchases, f"/admin/contacts/{contact_id}/payments/{payment_id}/refund", {})
    assert "The payment is refunded." in html and "Refunded" in html

    entries = await _audit(gateway, contact_id)
    actions = [e["action"] for e in entries if e["actor"]["name"] == staff_support.email]
    assert actions == ["payment.refunded", "order.cancelled", "order.resumed", "order.paused", "order.changed"]
    changed = next(e for e in entries if e["action"] == "order.changed")
    assert changed["after"]["next_billing_date"].startswith("2031-01-15") and changed["before"]["next_billing_date"]
    cancelled = next(e for e in entries if e["action"] == "order.cancelled")
    assert (cancelled["before"]["status"], cancelled["after"]["status"]) == ("active", "cancelled")
    assert cancelled["after"]["cancel_reason"] == "moving abroad"
    refunded = entries[0]
    assert (refunded["before"]["status"], refunded["after"]["status"]) == ("succeeded", "refunded")
