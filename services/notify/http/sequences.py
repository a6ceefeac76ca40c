"""Sequences: CRUD, enrolments, and the run with a controllable clock (``as_of``)."""

import uuid
from datetime import datetime, timezone

from aiohttp import web

from services.notify import repository as repo
from services.notify.http.common import iso, path_id
from services.notify.schemas import EnrolmentBody, RunBody, SequenceBody
from services.notify.sequences import run_due
from services.notify.sites import SITES
from services.notify.templates import DEFAULTS
from shared import audit
from shared.app import POOL, SETTINGS
from shared.errors import Conflict, InvalidRequest, NotFound
from shared.http import read_body
from shared.identity import admin_site_of

routes = web.RouteTableDef()


def _sequence(row, steps) -> dict:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "steps": [{"template": s["template"], "delay_seconds": s["delay_seconds"]} for s in steps],
        "created_at": iso(row["created_at"]),
    }


def _enrolment(row) -> dict:
    return {
        "id": str(row["id"]),
        "sequence_id": str(row["sequence_id"]),
        "contact_id": str(row["contact_id"]),
        "source": row["source"],
        "status": row["status"],
        "next_step": row["next_step"] if row["status"] == "active" else None,
        "next_due_at": iso(row["next_due_at"]),
        "enrolled_at": iso(row["enrolled_at"]),
        "ended_at": iso(row["ended_at"]),
    }


async def _check_templates(conn, site_id, body: SequenceBody) -> None:
    own = {r["name"] for r in await repo.site_templates(conn, site_id)}
    unknown = {
        f"steps.{i}.template": f"no template named {s.template}"
        for i, s in enumerate(body.steps)
        if s.template not in DEFAULTS and s.template not in own
    }
    if unknown:
        raise InvalidRequest("A step names a template that does not exist.", details={"fields": unknown})


async def _owned(conn, request: web.Request):
    site_id = admin_site_of(request).site_id
    row = await repo.sequence(conn, site_id, path_id(request, "id"))
    if row is None:
        raise NotFound()
    return site_id, row


@routes.post("/admin/api/sequences")
async def create_sequence(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, SequenceBody)
    sequence_id = uuid.uuid4()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await _check_templates(conn, site_id, body)
        steps = [(s.template, s.delay_seconds) for s in body.steps]
        if not await repo.create_sequence(conn, sequence_id=sequence_id, site_id=site_id, name=body.name, steps=steps):
            raise Conflict("A sequence of this name exists.", details={"fields": {"name": "taken"}})
        row = await repo.sequence(conn, site_id, sequence_id)
        found = await repo.steps_of(conn, [sequence_id])
        await audit.record(conn, admin, "sequence.created", "sequence", sequence_id, after=_sequence(row, found[sequence_id]))
    return web.json_response(_sequence(row, found[sequence_id]), status=201)


@routes.get("/admin/api/sequences")
async def list_sequences(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with request.app[POOL].acquire() as conn:
        rows = await repo.sequences_of_site(conn, site_id)
        steps = await repo.steps_of(conn, [r["id"] for r in rows])
    return web.json_response({"sequences": [_sequence(r, steps[r["id"]]) for r in rows]})


@routes.get("/admin/api/sequences/{id}")
async def get_sequence(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        _, row = await _owned(conn, request)
        steps = await repo.steps_of(conn, [row["id"]])
    return web.json_response(_sequence(row, steps[row["id"]]))


@routes.put("/admin/api/sequences/{id}")
async def replace_sequence(request: web.Request) -> web.Response:
    """New name and steps; contacts already going through it continue at their next step number."""
    body = await read_body(request, SequenceBody)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        site_id, row = await _owned(conn, request)
        before = _sequence(row, (await repo.steps_of(conn, [row["id"]]))[row["id"]])
        await _check_templates(conn, site_id, body)
        if not await repo.rename_sequence(conn, row["id"], body.name):
            raise Conflict("A sequence of this name exists.", details={"fields": {"name": "taken"}})
        await repo.replace_steps(conn, row["id"], [(s.template, s.delay_seconds) for s in body.steps])
        row = await repo.sequence(conn, site_id, row["id"])
        steps = await repo.steps_of(conn, [row["id"]])
        await audit.record(conn, admin_site_of(request), "sequence.replaced", "sequence", row["id"], before=before,
                           after=_sequence(row, steps[row["id"]]))
    return web.json_response(_sequence(row, steps[row["id"]]))


@routes.delete("/admin/api/sequences/{id}")
async def delete_sequence(request: web.Request) -> web.Response:
    """The sequence and its enrolments: nobody gets another step of it."""
    admin = admin_site_of(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        site_id, row = await _owned(conn, request)
        before = _sequence(row, (await repo.steps_of(conn, [row["id"]]))[row["id"]])
        if not await repo.delete_sequence(conn, site_id, row["id"]):
            raise NotFound()
        await audit.record(conn, admin, "sequence.deleted", "sequence", row["id"], before=before)
    return web.Response(status=204)


@routes.post("/admin/api/sequences/run")
async def run_sequences(request: web.Request) -> web.Response:
    """Send every step of this site due by ``as_of`` (default now): the controllable clock."""
    site_id = admin_site_of(request).site_id
    body = await read_body(request, RunBody)
    as_of = body.as_of or datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=timezone.utc)
    sent = await run_due(
        request.app[POOL],
        request.app[SETTINGS],
        as_of=as_of,
        site_id=site_id,
        correlation_id=request["correlation_id"],
        sites=request.app[SITES],
    )
    async with request.app[POOL].acquire() as conn:  # the run sent each step in its own transaction
        await audit.record(conn, admin_site_of(request), "sequences.run", "sequence_run", None,
                           after={"as_of": as_of, "steps_sent": sent})
    return web.json_response({"as_of": as_of.isoformat(), "steps_sent": sent})


@routes.post("/admin/api/sequences/{id}/enrolments")
async def enrol(request: web.Request) -> web.Response:
    body = await read_body(request, EnrolmentBody)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        site_id, row = await _owned(conn, request)
        if await repo.contact(conn, body.contact_id, site_id) is None:
            raise NotFound("No such contact on this site.", details={"fields": {"contact_id": "not found"}})
        enrolment = await repo.enrol(
            conn, enrolment_id=uuid.uuid4(), sequence_id=row["id"], site_id=site_id, contact_id=body.contact_id, source="admin"
        )
        await audit.record(conn, admin_site_of(request), "sequence.enrolled", "sequence", row["id"],
                           contact_id=body.contact_id, after=_enrolment(enrolment))
    return web.json_response(_enrolment(enrolment), status=201)


@routes.get("/admin/api/sequences/{id}/enrolments")
async def list_enrolments(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        _, row = await _owned(conn, request)
        rows = await repo.enrolments_of(conn, row["id"])
    return web.json_response({"enrolments": [_enrolment(r) for r in rows]})


@routes.delete("/admin/api/sequences/{id}/enrolments/{contact_id}")
async def unenrol(request: web.Request) -> web.Response:
    """Stops the rest of the sequence for this contact."""
    async with request.app[POOL].acquire() as conn, conn.transaction():
        _, row = await _owned(conn, request)
        contact_id = path_id(request, "contact_id")
        enrolment = await repo.unenrol(conn, row["id"], contact_id)
        if enrolment is None:
            raise NotFound()
        await audit.record(conn, admin_site_of(request), "sequence.unenrolled", "sequence", row["id"],
                           contact_id=contact_id, after=_enrolment(enrolment))
    return web.json_response(_enrolment(enrolment))
