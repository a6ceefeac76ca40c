"""Admin: programs, their ordered levels, protected pages and the rules that grant levels."""

import json
import uuid

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import NameTaken, UnknownLevel, check_redirect
from services.membership.http.common import connection, path_id, work
from services.membership.schemas import LevelCreate, PageCreate, PagePatch, ProgramCreate, RuleCreate
from shared import audit
from shared.errors import Conflict, InvalidRequest, NotFound
from shared.http import read_body
from shared.identity import admin_site_of

routes = web.RouteTableDef()


def _program(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "levels": json.loads(row["levels"])}


def _page(row) -> dict:
    return {"id": str(row["id"]), "path": row["path"], "title": row["title"], "levels": json.loads(row["levels"])}


@routes.post("/admin/api/programs")
async def create_program(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, ProgramCreate)
    program_id = uuid.uuid4()
    answer = {"id": str(program_id), "name": body.name, "levels": []}
    async with work(request) as uow:
        if not await repo.upsert_program(uow.conn, program_id=program_id, site_id=site_id, name=body.name):
            raise NameTaken("This site already has a program by that name.")
        await audit.record(uow.conn, admin, "program.created", "program", program_id, after=answer)
    return web.json_response(answer, status=201)


@routes.get("/admin/api/programs")
async def list_programs(request: web.Request) -> web.Response:
    """Every program of the site with its levels in order."""
    site_id = admin_site_of(request).site_id
    async with connection(request) as conn:
        rows = await repo.programs(conn, site_id)
    return web.json_response({"items": [_program(r) for r in rows]})


@routes.post("/admin/api/levels")
async def create_level(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, LevelCreate)
    level_id = uuid.uuid4()
    async with work(request) as uow:
        program = await repo.program_of_site(uow.conn, site_id, body.program_id)
        if program is None:
            raise InvalidRequest("No such program on this site.", details={"fields": {"program_id": "no such program"}})
        rank = body.rank if body.rank is not None else await repo.next_rank(uow.conn, program["id"])
        if not await repo.upsert_level(uow.conn, level_id=level_id, program_id=program["id"], name=body.name, rank=rank):
            raise NameTaken("This program already has a level by that name.")
        answer = {"id": str(level_id), "program_id": str(program["id"]), "program": program["name"], "name": body.name,
                  "rank": rank}
        await audit.record(uow.conn, admin, "level.created", "level", level_id, after=answer)
    return web.json_response(answer, status=201)


@routes.get("/admin/api/levels")
async def list_levels(request: web.Request) -> web.Response:
    """The site's levels, by program and rank; ``?program_id=`` narrows to one program."""
    site_id = admin_site_of(request).site_id
    try:
        program_id = uuid.UUID(request.query["program_id"]) if "program_id" in request.query else None
    except ValueError:
        raise InvalidRequest(details={"fields": {"program_id": "not an id"}}) from None
    async with connection(request) as conn:
        rows = await repo.levels(conn, site_id, program_id)
    return web.json_response(
        {
            "items": [
                {"id": str(r["id"]), "name": r["name"], "rank": r["rank"], "program_id": str(r["program_id"]), "program": r["program"]}
                for r in rows
            ]
        }
    )


async def _check_levels(conn, site_id, level_ids) -> list:
    unique = list(dict.fromkeys(level_ids))
    if await repo.count_levels_of_site(conn, site_id, unique) != len(unique):
        raise UnknownLevel("Some of these levels are not levels of this site.", details={"fields": {"level_ids": "unknown level"}})
    return unique


@routes.post("/admin/api/pages")
async def create_page(request: web.Request) -> web.Response:
    """A protected page: any one of its levels opens it."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, PageCreate)
    page_id = uuid.uuid4()
    async with work(request) as uow:
        level_ids = await _check_levels(uow.conn, site_id, body.level_ids)
        if not await repo.upsert_page(uow.conn, page_id=page_id, site_id=site_id, path=body.path, title=body.title, level_ids=level_ids):
            raise Conflict("This site already protects a page at that path.")
        [row] = await repo.pages(uow.conn, site_id, page_id)
        await audit.record(uow.conn, admin, "page.created", "page", page_id, after=_page(row))
    return web.json_response(_page(row), status=201)


@routes.patch("/admin/api/pages/{page_id}")
async def patch_page(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    page_id = path_id(request, "page_id")
    body = await read_body(request, PagePatch)
    async with work(request) as uow:
        page = await repo.page_of_site(uow.conn, site_id, page_id)
        if page is None:
            raise NotFound("No such page.")
        level_ids = await _check_levels(uow.conn, site_id, body.level_ids) if body.level_ids is not None else None
        site = await repo.site_by_id(uow.conn, site_id)
        if level_ids is not None and site.post_login_redirect == page["path"]:
            # The post-login page keeps opening for every level that can log in.
            check_redirect(await repo.site_levels(uow.conn, site_id), page["path"], set(level_ids))
        [before] = await repo.pages(uow.conn, site_id, page_id)
        await repo.update_page(uow.conn, page_id, title=body.title, level_ids=level_ids)
        [row] = await repo.pages(uow.conn, site_id, page_id)
        await audit.record(uow.conn, admin, "page.updated", "page", page_id, before=_page(before), after=_page(row))
    return web.json_response(_page(row))


@routes.get("/admin/api/pages")
async def list_pages(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with connection(request) as conn:
        rows = await repo.pages(conn, site_id)
    return web.json_response({"items": [_page(r) for r in rows]})


@routes.post("/admin/api/rules")
async def create_rule(request: web.Request) -> web.Response:
    """"The first successful payment of product P grants level L" (applied once per contact)."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, RuleCreate)
    rule_id = uuid.uuid4()
    async with work(request) as uow:
        level = await repo.level_of_site(uow.conn, site_id, body.level_id)
        if level is None:
            raise UnknownLevel(details={"fields": {"level_id": "no such level on this site"}})
        if not await repo.insert_rule(uow.conn, rule_id=rule_id, site_id=site_id, product_id=body.product_id, level_id=level.id):
            raise Conflict("This rule exists already.")
        answer = {"id": str(rule_id), "product_id": str(body.product_id), "level_id": str(level.id), "level": level.name,
                  "program": level.program_name}
        await audit.record(uow.conn, admin, "rule.created", "rule", rule_id, after=answer)
    return web.json_response(answer, status=201)


@routes.get("/admin/api/rules")
async def list_rules(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with connection(request) as conn:
        rows = await repo.rules(conn, site_id)
    return web.json_response(
        {
            "items": [
                {"id": str(r["id"]), "product_id": str(r["product_id"]), "level_id": str(r["level_id"]), "level": r["level"], "program": r["program"]}
                for r in rows
            ]
        }
    )
