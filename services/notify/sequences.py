"""Running sequences: every enrolment whose next step is due by ``as_of`` gets that step's email.

Due enrolments are claimed with ``FOR UPDATE SKIP LOCKED`` and advanced in the same transaction as
the email is queued, so several notify workers never send a step twice; the message id is derived
from (enrolment, enrolment time, step), so even a second attempt maps to the same message. Each
step is due its delay after the previous step was due (the first: after enrolment), so a
controllable clock (``as_of``) replays time exactly.
"""

import uuid
from datetime import datetime, timedelta, timezone
from uuid import UUID

from services.notify import repository as repo
from services.notify.email import queue_for_contact
from shared.db import UnitOfWork
from shared.logging import get_logger
from shared.worker import ListeningWorker

log = get_logger("notify.sequences")
STEP_NAMESPACE = uuid.UUID("2b0f3d4e-9a61-4c1e-8f0a-73657175656e")


async def run_due(
    pool,
    settings,
    *,
    as_of: datetime,
    site_id: UUID | None = None,
    correlation_id: str = "sequences",
    batch: int = 50,
    sites=None,
) -> int:
    """Send every step due by ``as_of``; the number of steps sent (or held)."""
    done = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repo.claim_due_enrolments(conn, as_of=as_of, site_id=site_id, limit=batch)
            if not rows:
                return done
            steps = await repo.steps_of(conn, list({r["sequence_id"] for r in rows}))
            uow = UnitOfWork(conn, producer=settings.service, correlation_id=correlation_id, causation_id=None)
            for row in rows:
                sequence_steps = steps[row["sequence_id"]]
                position = row["next_step"]
                if position < len(sequence_steps):
                    step = sequence_steps[position]
                    await queue_for_contact(
                        uow,
                        settings,
                        template_name=step["template"],
                        site_id=row["site_id"],
                        contact_id=row["contact_id"],
                        key=uuid.uuid5(STEP_NAMESPACE, f"{row['id']}:{row['enrolled_at'].isoformat()}:{position}"),
                        enrolment_id=row["id"],
                        step=position,
                        sites=sites,
                    )
                    done += 1
                    log.info("sequence.step_sent", enrolment_id=str(row["id"]), step=position)
                following = position + 1
                due = (
                    row["next_due_at"] + timedelta(seconds=sequence_steps[following]["delay_seconds"])
                    if following < len(sequence_steps)
                    else None
                )
                await repo.advance(conn, row["id"], next_step=following, next_due_at=due)
            if len(rows) < batch:
                return done


class SequenceScheduler(ListeningWorker):
    """The scheduled loop: runs what is due now, woken by a new enrolment, else every few seconds."""

    name = "sequences"

    def __init__(self, settings, pool, sites=None) -> None:
        super().__init__(settings, pool, "notify_enrolments", poll_seconds=settings.sequence_poll_seconds)
        self.sites = sites

    async def work_once(self) -> bool:
        await run_due(self.pool, self.settings, as_of=datetime.now(timezone.utc), sites=self.sites)
        return False
