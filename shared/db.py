"""PostgreSQL: a pool per service bound to the service's schema, migrations, the unit of work."""

import asyncio
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterable
from uuid import UUID

import asyncpg

from shared.events import Envelope, Event, envelopes_json
from shared.faults import crash_point
from shared.logging import get_logger

log = get_logger("shared.db")

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _schema(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a schema name: {name!r}")
    return name


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection returns to the pool: our code sets no session state (no
    LISTEN, no session-level SET or advisory lock on pooled connections; ``SET LOCAL`` and
    ``pg_advisory_xact_lock`` end with their transaction). asyncpg still rolls back a transaction
    left open. Without this, every release cost a round trip (``RESET ALL; UNLISTEN *; ...``)."""


async def create_pool(settings, schema: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        server_settings={"search_path": _schema(schema), "application_name": f"cc-{schema}"},
        reset=_keep_session,
    )


def migration_files(service_dir: Path) -> list[tuple[str, Path]]:
    """(version, path) in the order they apply: shared tables first, then the service's own."""
    files = [(f"shared/{p.name}", p) for p in sorted(SHARED_MIGRATIONS.glob("*.sql"))]
    files += [(p.name, p) for p in sorted((service_dir / "migrations").glob("*.sql"))]
    return files


async def migrate(database_url: str, schema: str, service_dir: Path) -> list[str]:
    """Apply the schema's pending migrations, each in its own transaction. Safe to run concurrently."""
    schema = _schema(schema)
    conn = await asyncpg.connect(database_url)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"cc-migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
        for version, path in migration_files(service_dir):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(path.read_text())
                await conn.execute(f"INSERT INTO {schema}.schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
            log.info("migration.applied", schema=schema, version=version)
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"cc-migrate:{schema}")
        finally:
            await conn.close()
    return applied_now


async def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL when it does not exist. True when it was created."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        if not re.match(r"^[A-Za-z0-9_]+$", name):
            raise ValueError(f"refusing to create a database named {name!r}")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


def values_statements(head: str, casts: tuple[str, ...], tail: str = "", most: int = 4) -> list[str]:
    """``<head> VALUES (...), ... <tail>`` for 1 to ``most`` rows (the statement for n rows at n - 1),
    one numbered parameter per column with its cast: a few rows without the arrays ``unnest`` needs,
    which asyncpg encodes element by element."""
    width = len(casts)
    row = lambda i: "(" + ", ".join(f"${width * i + j + 1}{cast}" for j, cast in enumerate(casts)) + ")"  # noqa: E731
    return [f"{head} VALUES " + ", ".join(row(i) for i in range(n)) + tail for n in range(1, most + 1)]


_INSERT_FEW = values_statements("INSERT INTO outbox (event_id, routing_key, envelope)", ("", "", "::json"))


Settler = Callable[[bool], Awaitable[None]]


class UnitOfWork:
    """One transaction: the state change and the events it causes commit together, or neither.

    ``then(settler)``: work that must follow the transaction's outcome, awaited with True right after
    the commit, or with False when it rolled back (notify ends an SMTP message it began inside the
    transaction). Only a unit of work whose owner runs them offers it (``settles``: ``unit_of_work``
    and the consumer's); on any other, a caller does its work the ordinary way."""

    def __init__(
        self, conn: asyncpg.Connection, *, producer: str, correlation_id: str, causation_id: UUID | None,
        settles: bool = False,
    ) -> None:
        self.conn = conn
        self.producer = producer
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.published: list[UUID] = []  # the ids of the events written
        self.settles = settles
        self.settlers: list[Settler] = []

    def then(self, settler: Settler) -> None:
        if not self.settles:
            raise RuntimeError("this unit of work's owner does not run what follows its outcome")
        self.settlers.append(settler)

    async def publish(self, event: Event) -> Envelope:
        """Write the event to the outbox, inside this transaction."""
        envelope = Envelope.wrap(
            event,
            producer=self.producer,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )
        await self.conn.execute(_INSERT_FEW[0], envelope.id, envelope.type, envelope.model_dump_json())
        self.published.append(envelope.id)
        return envelope

    async def publish_all(self, events: list[Event]) -> list[UUID]:
        """``publish`` for many events, in one statement (a batch's events); their envelopes' ids."""
        rows = envelopes_json(
            events, producer=self.producer, correlation_id=self.correlation_id, causation_id=self.causation_id
        )
        if not rows:
            return []
        if len(rows) <= len(_INSERT_FEW):  # a handler's few events: plain parameters, no arrays to encode
            await self.conn.execute(_INSERT_FEW[len(rows) - 1], *(value for row in rows for value in row))
        else:
            await self.conn.execute(
                "INSERT INTO outbox (event_id, routing_key, envelope)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::json[])",
                *map(list, zip(*rows)),
            )
        self.published.extend(row[0] for row in rows)
        return [row[0] for row in rows]


async def settle(uows: Iterable[UnitOfWork], committed: bool) -> None:
    """Run what follows each unit of work's outcome (``UnitOfWork.then``), in order. A settler's
    failure is logged, never raised: the transaction's outcome stands and its owner goes on (acks)."""
    for uow in uows:
        settlers, uow.settlers = uow.settlers, []
        for settler in settlers:
            try:
                await settler(committed)
            except Exception as exc:
                log.error("uow.settler_failed", committed=committed, error=repr(exc))


@asynccontextmanager
async def unit_of_work(
    pool: asyncpg.Pool, *, producer: str, correlation_id: str, causation_id: UUID | None = None
) -> AsyncIterator[UnitOfWork]:
    uow = None
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                uow = UnitOfWork(
                    conn, producer=producer, correlation_id=correlation_id, causation_id=causation_id, settles=True
                )
                yield uow
                if uow.published:
                    crash_point("uow.before_commit")
    except BaseException:
        if uow is not None:
            await asyncio.shield(settle([uow], committed=False))
        raise
    if uow.published:
        crash_point("uow.after_commit")
    await settle([uow], committed=True)
