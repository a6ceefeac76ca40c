"""The admin API of membership through the gateway: contacts with tags and typed fields, programs
with ordered levels, pages, site settings and registration defaults."""

from tests.conftest import eventually
from tests.factories import registration, unique_email


async def test_contacts_are_created_searched_paged_and_patched(new_site, events):
    admin = await new_site()
    await admin.ok("POST", "/admin/api/fields", {"name": "company", "type": "text"})
    await admin.ok("POST", "/admin/api/fields", {"name": "seats", "type": "number"})
    await admin.ok("POST", "/admin/api/fields", {"name": "renewal", "type": "date"})
    await admin.ok("POST", "/admin/api/fields", {"name": "tier", "type": "choice", "choices": ["small", "large"]})
    status, dup = await admin.call("POST", "/admin/api/fields", {"name": "tier", "type": "text"})
    assert status == 409 and dup["error"]["code"] == "name_taken"

    zoe = await admin.contact(
        first_name="Zoe", last_name="Quist", tags=["vip", "beta", "vip"],
        fields={"company": "Quist Ltd", "seats": 12, "renewal": "2026-09-01", "tier": "large"},
        start_sequences=["onboarding"],
    )
    assert zoe["tags"] == ["beta", "vip"] and zoe["fields"]["seats"] == 12 and zoe["grants"] == []
    others = [await admin.contact(first_name=f"Ola{i}") for i in range(3)]

    async def created():
        return events.of("membership.contact.created", contact_id=zoe["id"])

    [event] = await eventually(created, message="membership.contact.created")
    assert event["payload"]["start_sequences"] == ["onboarding"] and event["payload"]["site_id"] == admin.site_id
    assert events.of("membership.granted", contact_id=zoe["id"]) == []

    status, bad = await admin.call("POST", "/admin/api/contacts", {
        "email": unique_email(), "first_name": "A", "last_name": "B", "fields": {"seats": "many", "tier": "huge", "nope": 1},
    })
    assert status == 422 and set(bad["error"]["details"]["fields"]) == {"fields.seats", "fields.tier", "fields.nope"}
    status, taken = await admin.call("POST", "/admin/api/contacts", {"email": zoe["email"].upper(), "first_name": "Z", "last_name": "Q"})
    assert status == 409

    found = await admin.ok("GET", "/admin/api/contacts?q=quist")
    assert [c["id"] for c in found["items"]] == [zoe["id"]] and found["total"] == 1
    assert [c["id"] for c in (await admin.ok("GET", f"/admin/api/contacts?q={zoe['email'][:10]}"))["items"]] == [zoe["id"]]
    assert [c["id"] for c in (await admin.ok("GET", "/admin/api/contacts?tag=vip"))["items"]] == [zoe["id"]]
    first = await admin.ok("GET", "/admin/api/contacts?limit=2")
    second = await admin.ok("GET", "/admin/api/contacts?limit=2&offset=2")
    assert first["total"] == second["total"] == 4
    assert [c["id"] for c in first["items"] + second["items"]] == [c["id"] for c in reversed([zoe, *others])]
    status, _ = await admin.call("GET", "/admin/api/contacts?limit=1000")
    assert status == 422

    patched = await admin.ok("PATCH", f"/admin/api/contacts/{zoe['id']}", {
        "last_name": "Quist-Berg", "tags": ["customer"], "fields": {"seats": 15, "company": None},
    })
    assert patched["last_name"] == "Quist-Berg" and patched["tags"] == ["customer"]
    assert patched["fields"] == {"seats": 15, "renewal": "2026-09-01", "tier": "large"}
    assert (await admin.ok("GET", f"/admin/api/contacts/{zoe['id']}"))["fields"] == patched["fields"]

    # Another site's admin sees none of it.
    stranger = await new_site()
    status, missing = await stranger.call("GET", f"/admin/api/contacts/{zoe['id']}")
    assert status == 404
    status, _ = await stranger.call("PATCH", f"/admin/api/contacts/{zoe['id']}", {"first_name": "X"})
    assert status == 404
    assert (await stranger.ok("GET", "/admin/api/contacts"))["total"] == 0


async def test_programs_have_ordered_levels_and_a_contact_holds_levels_in_several(new_site):
    admin = await new_site()
    courses = await admin.ok("POST", "/admin/api/programs", {"name": "Courses"})
    coaching = await admin.ok("POST", "/admin/api/programs", {"name": "Coaching"})
    status, _ = await admin.call("POST", "/admin/api/programs", {"name": "Courses"})
    assert status == 409
    gold = await admin.ok("POST", "/admin/api/levels", {"program_id": courses["id"], "name": "Gold", "rank": 20})
    silver = await admin.ok("POST", "/admin/api/levels", {"program_id": courses["id"], "name": "Silver", "rank": 10})
    platinum = await admin.ok("POST", "/admin/api/levels", {"program_id": courses["id"], "name": "Platinum"})
    assert platinum["rank"] > gold["rank"]
    calls = await admin.ok("POST", "/admin/api/levels", {"program_id": coaching["id"], "name": "Calls"})

    programs = {p["name"]: p for p in (await admin.ok("GET", "/admin/api/programs"))["items"]}
    assert [lv["name"] for lv in programs["Courses"]["levels"]] == ["Silver", "Gold", "Platinum"]
    listed = await admin.ok("GET", f"/admin/api/levels?program_id={courses['id']}")
    assert [lv["name"] for lv in listed["items"]] == ["Silver", "Gold", "Platinum"]

    page = await admin.ok("POST", "/admin/api/pages", {"path": "/vip", "title": "VIP", "level_ids": [gold["id"], calls["id"]]})
    assert {lv["name"] for lv in page["levels"]} == {"Gold", "Calls"}
    other = await new_site()
    other_program = await other.ok("POST", "/admin/api/programs", {"name": "X"})
    foreign = await other.level(other_program["id"], "Foreign")
    status, refused = await admin.call("POST", "/admin/api/pages", {"path": "/x", "level_ids": [foreign]})
    assert status == 422 and refused["error"]["code"] == "unknown_level"
    status, _ = await admin.call("POST", "/admin/api/rules", {"product_id": other.site_id, "level_id": foreign})
    assert status == 422
    status, _ = await admin.call("POST", "/admin/api/pages", {"path": "/vip", "level_ids": [gold["id"]]})
    assert status == 409
    changed = await admin.ok("PATCH", f"/admin/api/pages/{page['id']}", {"level_ids": [silver["id"]]})
    assert [lv["name"] for lv in changed["levels"]] == ["Silver"]

    contact = await admin.contact(level_id=silver["id"])
    await admin.ok("POST", f"/admin/api/contacts/{contact['id']}/grants", {"level_id": calls["id"]})
    grants = (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"]
    assert {(g["program"], g["level"], g["source"]) for g in grants} == {("Courses", "Silver", "manual"), ("Coaching", "Calls", "manual")}
    status, _ = await admin.call("POST", f"/admin/api/contacts/{contact['id']}/grants", {"level_id": foreign})
    assert status == 422


async def test_site_settings_and_registration_defaults(new_site, gateway, events, smtp):
    admin = await new_site()
    program = await admin.ok("POST", "/admin/api/programs", {"name": "Members"})
    free = await admin.level(program["id"], "Free")
    site = await admin.ok("GET", "/admin/api/site")
    assert site["customer_center_enabled"] is True and site["post_login_redirect"] == "customer_center"

    site = await admin.ok("PATCH", "/admin/api/site", {
        "registration_defaults": {"level_id": free, "tags": ["lead", "newsletter"], "sequences": ["welcome-drip"]},
        "embed_origins": ["https://shop.example.com", "http://localhost:3000/"],
    })
    assert site["registration_defaults"] == {"level_id": free, "tags": ["lead", "newsletter"], "sequences": ["welcome-drip"]}
    assert site["embed_origins"] == ["https://shop.example.com", "http://localhost:3000"]
    status, bad = await admin.call("PATCH", "/admin/api/site", {"embed_origins": ["javascript:alert(1)"], "post_login_redirect": "nowhere"})
    assert status == 422 and {"embed_origins.0", "post_login_redirect"} <= set(bad["error"]["details"]["fields"])

    body = registration(site=admin.slug)
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201, await r.text()
        registered = await r.json()
    assert registered["level"] == "Free"
    contact = await admin.ok("GET", f"/admin/api/contacts/{registered['contact_id']}")
    assert contact["tags"] == ["lead", "newsletter"]
    assert [(g["level"], g["source"]) for g in contact["grants"]] == [("Free", "registration")]

    async def created():
        return events.of("membership.contact.created", contact_id=registered["contact_id"])

    [event] = await eventually(created)
    assert event["payload"]["start_sequences"] == ["welcome-drip"]
    await smtp.wait_for(body["email"])
