"""A site's email settings (From, Reply-To) and its own templates."""

from uuid import UUID

import asyncpg


async def email_settings(conn: asyncpg.Connection, site_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT mail_from, reply_to, updated_at FROM email_settings WHERE site_id = $1", site_id)


async def put_email_settings(conn: asyncpg.Connection, site_id: UUID, *, mail_from: str | None, reply_to: str | None) -> None:
    await conn.execute(
        "INSERT INTO email_settings (site_id, mail_from, reply_to) VALUES ($1, $2, $3) ON CONFLICT (site_id)"
        " DO UPDATE SET mail_from = EXCLUDED.mail_from, reply_to = EXCLUDED.reply_to, updated_at = now()",
        site_id,
        mail_from,
        reply_to,
    )


async def site_template(conn: asyncpg.Connection, site_id: UUID, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT name, subject, text_body, html_body, updated_at FROM site_templates WHERE site_id = $1 AND name = $2",
        site_id,
        name,
    )


async def site_templates(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT name, subject, text_body, html_body, updated_at FROM site_templates WHERE site_id = $1 ORDER BY name",
        site_id,
    )


async def put_site_template(conn: asyncpg.Connection, site_id: UUID, *, name: str, subject: str, text: str, html: str) -> None:
    await conn.execute(
        "INSERT INTO site_templates (site_id, name, subject, text_body, html_body) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (site_id, name) DO UPDATE SET subject = EXCLUDED.subject, text_body = EXCLUDED.text_body,"
        " html_body = EXCLUDED.html_body, updated_at = now()",
        site_id,
        name,
        subject,
        text,
        html,
    )


async def delete_site_template(conn: asyncpg.Connection, site_id: UUID, name: str) -> bool:
    return await conn.fetchval(
        "DELETE FROM site_templates WHERE site_id = $1 AND name = $2 RETURNING 1", site_id, name
    ) is not None
