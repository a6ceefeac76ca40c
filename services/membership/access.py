"""Why a contact can or cannot open a page, log in, and where they land. Pure: no I/O.

Answers the article's troubleshooting recipes itself: a level missing, the post-login page needing a
level the contact lacks, a locked account, a grant that ended, the Customer Center switched off.
"""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.membership.domain import CENTER_PATH, CUSTOMER_CENTER, Site


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GrantView:
    id: UUID
    level_id: UUID
    level_name: str
    program_name: str
    source: str
    starts_at: datetime
    ends_at: datetime | None
    ended_reason: str | None

    def active(self, as_of: datetime) -> bool:
        return self.starts_at <= as_of and (self.ends_at is None or self.ends_at > as_of)


@dataclass(frozen=True)
class PageLevel:
    level_id: UUID
    level_name: str
    program_name: str


@dataclass(frozen=True)
class LoginState:
    """What auth says about the contact's login; ``known`` is False when auth did not answer."""

    known: bool
    has_login: bool = False
    password_set: bool = False
    username: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Landing:
    redirect: str
    reason: str
    message: str


@dataclass(frozen=True)
class Answer:
    allowed: bool
    page: str
    reasons: list[Reason]
    can_log_in: bool | None
    landing: Landing


def page_access(page_levels: list[PageLevel] | None, grants: list[GrantView], as_of: datetime) -> tuple[bool, list[Reason]]:
    """Open when the page is unprotected or the contact holds, at ``as_of``, any level that opens it."""
    if not page_levels:
        return True, []
    opening = {p.level_id for p in page_levels}
    if any(g.level_id in opening and g.active(as_of) for g in grants):
        return True, []
    names = ", ".join(p.level_name for p in page_levels)
    reasons = [
        Reason(
            "no_level_for_page",
            f"The contact holds none of the levels that open this page ({names}).",
            {"levels_that_open_it": [p.level_name for p in page_levels]},
        )
    ]
    for g in grants:
        if g.level_id not in opening:
            continue
        if g.ends_at is not None and g.ends_at <= as_of:
            why = g.ended_reason or "ended"
            reasons.append(
                Reason(
                    "grant_ended",
                    f"Their {g.level_name} level ended at {g.ends_at.isoformat()}: {why}.",
                    {"grant_id": str(g.id), "level": g.level_name, "ended_at": g.ends_at.isoformat(), "why": why},
                )
            )
        elif g.starts_at > as_of:
            reasons.append(
                Reason(
                    "grant_not_started",
                    f"Their {g.level_name} level starts only at {g.starts_at.isoformat()}.",
                    {"grant_id": str(g.id), "level": g.level_name, "starts_at": g.starts_at.isoformat()},
                )
            )
    return False, reasons


def login_access(login: LoginState, now: datetime) -> tuple[bool | None, list[Reason]]:
    """Whether the contact can log in at all (None: unknown, auth did not answer)."""
    if not login.known:
        return None, [
            Reason(
                "login_state_unknown",
                "The auth service did not answer, so whether this contact can log in is unknown.",
            )
        ]
    if not login.has_login:
        return False, [
            Reason(
                "no_login",
                "The contact has no login on this site: one is created with their first level.",
            )
        ]
    reasons = []
    if not login.password_set:
        reasons.append(
            Reason(
                "password_not_set",
                "The contact never set a password: resend their credentials for a fresh set-password link.",
                {"username": login.username},
            )
        )
    if login.locked_until is not None and login.locked_until > now:
        reasons.append(
            Reason(
                "account_locked",
                f"The account is locked after failed logins until {login.locked_until.isoformat()}.",
                {"locked_until": login.locked_until.isoformat(), "username": login.username},
            )
        )
    return not reasons, reasons


def landing(site: Site, may_open_redirect_page: bool) -> Landing:
    """Where the contact lands after login: the site's post-login page when they may open it, else the Center."""
    if site.post_login_redirect == CUSTOMER_CENTER:
        if site.customer_center_enabled:
            return Landing(CENTER_PATH, "customer_center", "The site sends people to the Customer Center.")
        return Landing(
            CENTER_PATH,
            "customer_center_disabled",
            "The site sends people to the Customer Center, but it is switched off.",
        )
    if may_open_redirect_page:
        return Landing(site.post_login_redirect, "post_login_page", "The contact may open the site's post-login page.")
    return Landing(
        CENTER_PATH,
        "redirect_page_needs_level",
        f"The post-login page {site.post_login_redirect} needs a level the contact lacks; they land on the Customer Center.",
    )


def explain(
    *,
    site: Site,
    page: str,
    page_levels: list[PageLevel] | None,
    redirect_page_levels: list[PageLevel] | None,
    grants: list[GrantView],
    login: LoginState,
    as_of: datetime,
    now: datetime,
) -> Answer:
    """Allowed or not, with every reason: login, levels, ended grants, the post-login page, the Center."""
    can_log_in, reasons = login_access(login, now)
    if page == CENTER_PATH:
        page_ok = site.customer_center_enabled
        if not page_ok:
            reasons.append(
                Reason("customer_center_disabled", "The site's Customer Center is switched off (site settings).")
            )
    else:
        page_ok, page_reasons = page_access(page_levels, grants, as_of)
        reasons.extend(page_reasons)
        if not page_ok and page == site.post_login_redirect:
            reasons.append(
                Reason(
                    "redirect_page_needs_level",
                    f"{page} is the site's post-login page, and it needs a level this contact lacks:"
                    " check the page's levels.",
                    {"levels_that_open_it": [p.level_name for p in page_levels or []]},
                )
            )
    redirect_ok, _ = page_access(redirect_page_levels, grants, as_of)
    where = landing(site, redirect_ok)
    if where.redirect == CENTER_PATH and not site.customer_center_enabled and page != CENTER_PATH:
        where = Landing(where.redirect, "customer_center_disabled", where.message + " The Customer Center is switched off.")
    return Answer(
        allowed=page_ok and can_log_in is not False,
        page=page,
        reasons=reasons,
        can_log_in=can_log_in,
        landing=where,
    )
