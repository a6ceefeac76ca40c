"""The pure access reasoning: every reason the admin's "why can't they get in?" answer gives."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.membership.access import GrantView, LoginState, PageLevel, explain, landing
from services.membership.domain import FieldDefinition, Level, Site, check_fields, check_redirect
from shared.errors import InvalidRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
BASIC, GOLD, TRIAL = (Level(uuid.uuid4(), name, "Members") for name in ("Basic", "Gold", "Trial"))
LOGGED_IN = LoginState(known=True, has_login=True, password_set=True, username="ann@example.org")


def site(**overrides) -> Site:
    return Site(id=uuid.uuid4(), slug="s", name="S", registration_open=True, default_level_id=None, **overrides)


def page(*levels: Level) -> list[PageLevel]:
    return [PageLevel(level.id, level.name, level.program_name) for level in levels]


def grant(level: Level, *, starts=NOW - timedelta(days=30), ends=None, why=None) -> GrantView:
    return GrantView(uuid.uuid4(), level.id, level.name, level.program_name, "manual", starts, ends, why)


def answer(*, s=None, path="/gold", levels=page(GOLD), grants=(), login=LOGGED_IN, as_of=NOW, redirect_levels=None):
    return explain(
        site=s or site(), page=path, page_levels=levels, redirect_page_levels=redirect_levels,
        grants=list(grants), login=login, as_of=as_of, now=NOW,
    )


def codes(a) -> list[str]:
    return [r.code for r in a.reasons]


def test_a_level_that_opens_the_page_allows_it():
    a = answer(grants=[grant(BASIC), grant(GOLD)])
    assert a.allowed and codes(a) == [] and a.can_log_in is True


def test_missing_level_is_named():
    a = answer(grants=[grant(BASIC)])
    assert not a.allowed and codes(a) == ["no_level_for_page"]
    assert "Gold" in a.reasons[0].message


def test_an_ended_grant_says_when_and_why_and_as_of_sees_before_the_end():
    ends = NOW + timedelta(days=5)
    g = grant(GOLD, ends=ends, why="subscription cancelled by the contact")
    assert answer(grants=[g]).allowed
    after = answer(grants=[g], as_of=ends)
    assert not after.allowed and codes(after) == ["no_level_for_page", "grant_ended"]
    assert after.reasons[1].details == {"grant_id": str(g.id), "level": "Gold", "ended_at": ends.isoformat(), "why": g.ended_reason}


def test_a_grant_that_starts_later_is_named():
    a = answer(grants=[grant(GOLD, starts=NOW + timedelta(days=1))])
    assert codes(a) == ["no_level_for_page", "grant_not_started"]


@pytest.mark.parametrize(
    "login, code",
    [
        (LoginState(known=True, has_login=False), "no_login"),
        (LoginState(known=True, has_login=True, password_set=False), "password_not_set"),
        (LoginState(known=True, has_login=True, password_set=True, locked_until=NOW + timedelta(minutes=15)), "account_locked"),
    ],
)
def test_login_problems_block_even_a_page_the_levels_open(login, code):
    a = answer(grants=[grant(GOLD)], login=login)
    assert not a.allowed and a.can_log_in is False and codes(a) == [code]


def test_an_expired_lock_is_no_reason():
    a = answer(grants=[grant(GOLD)], login=LoginState(known=True, has_login=True, password_set=True, locked_until=NOW - timedelta(seconds=1)))
    assert a.allowed and codes(a) == []


def test_unknown_login_state_is_reported_without_deciding():
    a = answer(grants=[grant(GOLD)], login=LoginState(known=False))
    assert a.allowed and a.can_log_in is None and codes(a) == ["login_state_unknown"]


def test_the_redirect_page_needing_a_level_the_contact_lacks():
    s = site(post_login_redirect="/start")
    a = answer(s=s, path="/start", levels=page(BASIC, GOLD), redirect_levels=page(BASIC, GOLD), grants=[grant(TRIAL)])
    assert codes(a) == ["no_level_for_page", "redirect_page_needs_level"]
    assert (a.landing.redirect, a.landing.reason) == ("/center", "redirect_page_needs_level")
    ok = answer(s=s, path="/start", levels=page(BASIC, GOLD), redirect_levels=page(BASIC, GOLD), grants=[grant(BASIC)])
    assert ok.allowed and (ok.landing.redirect, ok.landing.reason) == ("/start", "post_login_page")


def test_customer_center_off():
    s = site(customer_center_enabled=False)
    a = answer(s=s, path="/center", levels=None, grants=[grant(BASIC)])
    assert not a.allowed and codes(a) == ["customer_center_disabled"]
    assert a.landing.reason == "customer_center_disabled"
    assert landing(site(), True).reason == "customer_center"


def test_a_redirect_page_some_level_cannot_open_is_refused_naming_the_levels():
    with pytest.raises(InvalidRequest) as refused:
        check_redirect([BASIC, GOLD, TRIAL], "/gold", {GOLD.id})
    assert [lv["level"] for lv in refused.value.details["levels_lacking_access"]] == ["Basic", "Trial"]
    check_redirect([BASIC, GOLD], "/start", {BASIC.id, GOLD.id})
    check_redirect([BASIC, GOLD], "/public", None)


def test_custom_fields_are_checked_by_type():
    defs = {
        "age": FieldDefinition("age", "number"),
        "born": FieldDefinition("born", "date"),
        "plan": FieldDefinition("plan", "choice", ["a", "b"]),
        "note": FieldDefinition("note", "text"),
    }
    assert check_fields(defs, {"age": 41, "born": "1985-02-03", "plan": "a", "note": "hi"}) == {
        "age": 41, "born": "1985-02-03", "plan": "a", "note": "hi",
    }
    assert check_fields(defs, {"born": "2026-01-02T03:04:05+01:00"})["born"] == "2026-01-02T02:04:05+00:00"
    with pytest.raises(InvalidRequest) as bad:
        check_fields(defs, {"age": "old", "born": "yesterday", "plan": "c", "colour": "red", "note": 5})
    assert set(bad.value.details["fields"]) == {"fields.age", "fields.born", "fields.plan", "fields.colour", "fields.note"}
