"""What the gateway's pages and order form ask membership: a site's public settings, and the contact
an order form's buyer is (found by email, or created)."""

import uuid
from uuid import UUID

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import SiteNotFound
from services.membership.http.common import connection, work
from services.membership.schemas import CheckoutContact, SitePublic
from shared.events.membership import ContactCreated
from shared.http import json_response, read_body
from shared.logging import get_logger

log = get_logger("membership.checkout")
routes = web.RouteTableDef()


async def _site(conn, ref: str):
    """A site by slug, or by id."""
    try:
        return await repo.site_by_id(conn, UUID(ref))
    except ValueError:
        return await repo.site_by_slug(conn, ref)


@routes.get("/internal/sites/{ref}/public")
async def site_public(request: web.Request) -> web.Response:
    async with connection(request) as conn:
        site = await _site(conn, request.match_info["ref"])
    if site is None:
        raise SiteNotFound()
    return json_response(
        SitePublic(
            id=site.id, slug=site.slug, name=site.name, language=site.language, theme=site.theme,
            customer_center_enabled=site.customer_center_enabled, post_login_redirect=site.redirect_path,
        )
    )


@routes.post("/internal/sites/{ref}/checkout-contacts")
async def checkout_contact(request: web.Request) -> web.Response:
    """The order form's buyer: the site's contact with that email, or a new one (with
    ``membership.contact.created``, no registration defaults: the product's rules grant the levels).

    Found rather than refused, so a buyer whose first card was declined can try another. Nothing about
    the existing contact is answered but its id, which only travels inside the system.
    """
    body = await read_body(request, CheckoutContact)
    async with work(request) as uow:
        site = await _site(uow.conn, request.match_info["ref"])
        if site is None:
            raise SiteNotFound()
        contact_id = uuid.uuid4()
        created = await repo.insert_contact(
            uow.conn, contact_id=contact_id, site_id=site.id, email=body.email,
            first_name=body.first_name, last_name=body.last_name,
        ) is not None
        if created:
            await uow.publish(
                ContactCreated(
                    contact_id=contact_id, site_id=site.id, site_slug=site.slug, email=body.email,
                    first_name=body.first_name, last_name=body.last_name, start_sequences=[],
                )
            )
            contact = {"id": contact_id, "email": body.email, "first_name": body.first_name, "last_name": body.last_name}
        else:
            contact = await repo.contact_by_email(uow.conn, site.id, body.email)
    log.info("checkout.contact", contact_id=str(contact["id"]), created=created)
    return web.json_response(
        {
            "contact_id": str(contact["id"]), "site_id": str(site.id), "created": created,
            # As membership knows them, for billing's copy (the buyer may have typed another spelling).
            "email": contact["email"], "first_name": contact["first_name"], "last_name": contact["last_name"],
        },
        status=201 if created else 200,
    )
