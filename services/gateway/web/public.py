"""Pages before a login: log in and out, set and forgot password, and the order form.

Links in emails survive mail scanners: opening one (GET) only shows a form; the person's POST uses it.
"""

import secrets

from aiohttp import web

from services.gateway.identity import REVOKED, authenticate_contact
from services.gateway.pages import language, money, render
from services.gateway.web import checkout
from services.gateway.web.common import ask, error_text, form_with_csrf, see_other
from services.gateway.web.session import SITE_COOKIE, clear_session, set_session
from services.gateway.web.sites import site as site_of
from shared.app import SETTINGS
from shared.errors import ServiceError, Unauthorized

routes = web.RouteTableDef()


def _site_ref(request: web.Request, form: dict | None = None) -> str:
    return (
        (form or {}).get("site") or request.query.get("site") or request.cookies.get(SITE_COOKIE)
        or request.app[SETTINGS].default_site
    )


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return see_other("/center")


def host_look(request: web.Request) -> list[tuple[str, str]]:
    """An embedded Center's host look (the snippet's ``theme_*`` parameters), carried through the
    login inside the frame so the Center after it still looks like the host page."""
    return [(k, v) for k, v in request.query.items() if k.startswith("theme_")]


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    site = await site_of(request, _site_ref(request))
    done = "logged_out" if request.query.get("done") == "logged_out" else None
    return render(request, "login.html", site=site, title_key="login.title", username="", done=done,
                  host_look=host_look(request))


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    site = await site_of(request, _site_ref(request, form))
    answer = await ask(request, "auth", "POST", "/api/login", {
        "site": site["slug"], "username": form.get("username", ""), "password": form.get("password", ""),
    })
    if not answer.ok:
        return render(request, "login.html", status=answer.status, site=site, title_key="login.title",
                      username=form.get("username", ""), error=error_text(request, site, answer.code),
                      host_look=host_look(request))
    response = see_other(answer.body.get("redirect") or "/center", **dict(host_look(request)))
    set_session(response, request, answer.body, site=site["slug"])
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    await form_with_csrf(request)
    site = request.cookies.get(SITE_COOKIE) or request.app[SETTINGS].default_site
    try:
        contact = await authenticate_contact(request)
        answer = await ask(request, "auth", "POST", "/api/logout", {}, contact.headers())
        if answer.ok:
            request.app[REVOKED].revoke_now(contact.session_id)
    except Unauthorized:
        pass
    response = see_other("/login", site=site, done="logged_out")
    clear_session(response, request)
    return response


@routes.get("/password/forgot")
async def forgot_page(request: web.Request) -> web.Response:
    site = await site_of(request, _site_ref(request))
    return render(request, "forgot_password.html", site=site, title_key="forgot.title", sent=False)


@routes.post("/password/forgot")
async def forgot(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    site = await site_of(request, _site_ref(request, form))
    answer = await ask(request, "auth", "POST", "/api/password/forgot", {"site": site["slug"], "email": form.get("email", "")})
    if not answer.ok and answer.status != 422:
        return render(request, "forgot_password.html", status=answer.status, site=site, title_key="forgot.title",
                      sent=False, error=error_text(request, site, answer.code))
    return render(request, "forgot_password.html", site=site, title_key="forgot.title", sent=True)


@routes.get("/password/set")
async def set_password_page(request: web.Request) -> web.Response:
    """Shows the form and consumes nothing: mail scanners that open links do no harm."""
    site = await _optional_site(request)
    return render(request, "set_password.html", site=site, title_key="set.title", token=request.query.get("token", ""))


@routes.post("/password/set")
async def set_password(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    site = await _optional_site(request)
    token, password, confirm = (form.get(k, "") for k in ("token", "new_password", "confirm_password"))
    if password != confirm:
        return render(request, "set_password.html", status=422, site=site, title_key="set.title", token=token,
                      error=error_text(request, site, "password_mismatch"))
    answer = await ask(request, "auth", "POST", "/api/password/set", {"token": token, "new_password": password})
    if not answer.ok:
        code = answer.code
        if answer.status == 422 and code not in ("token_invalid",):
            code = "weak_password" if "new_password" in str(answer.body) else code
        return render(request, "set_password.html", status=answer.status, site=site, title_key="set.title",
                      token=token, error=error_text(request, site, code))
    site = await _optional_site(request, answer.body.get("site"))
    return render(request, "password_set.html", site=site, title_key="set.done_title",
                  username=answer.body["username"], site_name=(site or {}).get("name") or answer.body.get("site"),
                  site_slug=answer.body.get("site"))


async def _optional_site(request: web.Request, ref: str | None = None) -> dict | None:
    """The page's site for its looks when it can be told; a set-password page works without one."""
    ref = ref or request.query.get("site") or request.cookies.get(SITE_COOKIE)
    if not ref:
        return None
    try:
        return await site_of(request, ref)
    except ServiceError:
        return None


@routes.get("/checkout/{product_id}")
async def checkout_page(request: web.Request) -> web.Response:
    site = await site_of(request, _site_ref(request))
    product = await checkout.product(request, site, request.match_info["product_id"])
    return render(request, "checkout.html", site=site, title_key="checkout.title", title_values={"product": product["name"]},
                  product=product, checkout_key=secrets.token_urlsafe(24),
                  form={"first_name": "", "last_name": "", "email": ""})


@routes.post("/checkout/{product_id}")
async def checkout_form(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    site = await site_of(request, _site_ref(request, form))
    product = await checkout.product(request, site, request.match_info["product_id"])
    fields = {k: form.get(k, "").strip() for k in ("first_name", "last_name", "email")}
    try:
        order = await checkout.place(request, site, product, card_token=form.get("card_token", ""),
                                     idempotency_key=form.get("checkout_key") or secrets.token_urlsafe(24), **fields)
    except checkout.CheckoutRefused as refused:
        return render(request, "checkout.html", status=refused.status, site=site, title_key="checkout.title",
                      title_values={"product": product["name"]}, product=product,
                      checkout_key=secrets.token_urlsafe(24), form=fields, error=error_text(request, site, refused.code))
    return render(request, "checkout_done.html", status=201, site=site, title_key="checkout.thanks_title",
                  amount=money(order["price"], language(request, site)), product_name=order["product_name"],
                  email=fields["email"])
