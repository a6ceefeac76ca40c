"""Staff accounts for the admin console (``auth.staff``): created by the operator, per site, with a
role (``owner`` or ``support``). The password is hashed with auth's argon2id settings and must pass
auth's password rules; it is read from stdin or ``CC_STAFF_PASSWORD``, never from the arguments."""

import uuid

import asyncpg

from services.auth import repository as auth_repo
from services.auth.domain import check_password_policy, check_staff, staff_account_key
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from services.membership import repository as membership
from services.ops.admin_keys import SiteNotFound


async def create_staff(database_url: str, *, site_slug: str, email: str, role: str, password: str) -> tuple[asyncpg.Record, str]:
    """Create (or, for an email the site already has, give a new role and password: its open sessions
    end and a login lock lifts) a staff account → (row, site name)."""
    email = check_staff(email, role)
    check_password_policy(password, context=(email,))
    membership_conn = await asyncpg.connect(database_url, server_settings={"search_path": "membership"})
    try:
        site = await membership.site_by_slug(membership_conn, site_slug)
    finally:
        await membership_conn.close()
    if site is None:
        raise SiteNotFound(site_slug)
    passwords = Passwords(AuthSettings())
    try:
        password_hash = await passwords.hash(password)
    finally:
        passwords.close()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "auth"})
    try:
        async with conn.transaction():
            row = await auth_repo.upsert_staff(
                conn, staff_id=uuid.uuid4(), site_id=site.id, email=email, role=role, password_hash=password_hash
            )
            if not row["created"]:  # a new password: the sessions opened with the old one end, a lock lifts
                await auth_repo.revoke_sessions_of_staff(conn, row["id"])
            await auth_repo.clear_throttle(conn, staff_account_key(site_id=site.id, email=email))
    finally:
        await conn.close()
    return row, site.name
