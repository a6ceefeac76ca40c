"""Every existing admin action writes its audit entry, whichever service carries it out."""

import uuid

from tests.conftest import ADMIN_KEY, eventually

ADMIN = {"X-Api-Key": ADMIN_KEY}


async def _call(gateway, method: str, path: str, json=None, expect: int | None = None) -> dict:
    async with gateway.request(method, path, json=json, headers=ADMIN) as r:
        body = await r.json() if r.status != 204 else {}
        assert expect is None or r.status == expect, (r.status, body)
        return body


async def test_set_up_actions_of_membership_billing_and_notify_are_audited(gateway):
    async with gateway.get("/admin/api/audit?limit=1", headers=ADMIN) as r:
        since = ((await r.json())["entries"] or [{"at": "2000-01-01T00:00:00+00:00"}])[0]["at"]
    tag = uuid.uuid4().hex[:8]
    program = await _call(gateway, "POST", "/admin/api/programs", {"name": f"Audited {tag}"}, 201)
    level = await _call(gateway, "POST", "/admin/api/levels", {"program_id": program["id"], "name": "One"}, 201)
    page = await _call(gateway, "POST", "/admin/api/pages", {"path": f"/audited/{tag}", "title": "A",
                                                              "level_ids": [level["id"]]}, 201)
    await _call(gateway, "PATCH", f"/admin/api/pages/{page['id']}", {"title": "B"}, 200)
    await _call(gateway, "POST", "/admin/api/fields", {"name": f"f_{tag}", "type": "text"}, 201)
    site = await _call(gateway, "GET", "/admin/api/site")
    await _call(gateway, "PATCH", "/admin/api/site", {"embed_origins": site["embed_origins"]}, 200)
    product = await _call(gateway, "POST", "/admin/api/products", {"name": f"Audited {tag}", "kind": "one_time",
                                                                   "price": {"amount": 500, "currency": "USD"}}, 201)

    # A product of its own for the rule: a rule on a demo product would change what every later test's
    # purchase of it grants. Membership learns of the product from billing's event.
    async def rule_created():
        async with gateway.post("/admin/api/rules", json={"product_id": product["product"]["id"], "level_id": level["id"]},
                                headers=ADMIN) as r:
            return r.status == 201

    await eventually(rule_created, message="membership learned the product")
    hook = await _call(gateway, "POST", "/admin/api/webhooks", {"url": "https://hooks.example.org/cc",
                                                                "event_types": ["auth.password.changed"]}, 201)
    await _call(gateway, "PATCH", f"/admin/api/webhooks/{hook['id']}", {"active": False}, 200)
    await _call(gateway, "DELETE", f"/admin/api/webhooks/{hook['id']}", None, 204)
    mail = await _call(gateway, "GET", "/admin/api/email-settings")
    await _call(gateway, "PUT", "/admin/api/email-settings", {"mail_from": mail["mail_from"],
                                                               "reply_to": mail["reply_to"]}, 200)

    async with gateway.get("/admin/api/audit?limit=200", headers=ADMIN) as r:
        entries = [e for e in (await r.json())["entries"] if e["at"] > since]
    by_action = {e["action"]: e for e in entries}
    for action, service in (("program.created", "membership"), ("level.created", "membership"),
                            ("page.created", "membership"), ("page.updated", "membership"),
                            ("rule.created", "membership"), ("field.created", "membership"),
                            ("site.updated", "membership"), ("product.created", "billing"),
                            ("webhook.created", "notify"), ("webhook.updated", "notify"),
                            ("webhook.deleted", "notify"), ("email_settings.saved", "notify")):
        assert by_action.get(action, {}).get("service") == service, (action, sorted(by_action))
    assert by_action["page.updated"]["before"]["title"] == "A" and by_action["page.updated"]["after"]["title"] == "B"
    assert "secret" not in str(by_action["webhook.created"]["after"])
    assert by_action["webhook.updated"]["after"]["active"] is False
