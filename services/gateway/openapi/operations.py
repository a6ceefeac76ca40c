"""Every operation the gateway serves: path, method, who may call, body and answers.

Bodies the services validate are their own pydantic models; answers are theirs where they declare
one, ``models.py`` otherwise. A status listed here is one the code can send (the builder adds those
every call of a kind can get: 401 with a token or key, 404 with an id in the path, 413 and 422 with
a body, 503 when a service behind the gateway is down, 500).
"""

from services.auth import schemas as auth
from services.billing import schemas as billing
from services.gateway.openapi import models as m
from services.gateway.web.checkout import CheckoutIn
from services.gateway.openapi.builder import API_KEY, BEARER, HTML, JS, NO_CONTENT, TEXT, Op, query
from services.membership import schemas as membership
from services.notify import schemas as notify
from services.sandbox.http import TokenRequest

E = "error"
LIMIT_200 = [query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
             query("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0})]
CURSOR = [query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
          query("cursor", {"type": "string"}, "The `next_cursor` of the previous page.")]


def customer(method, path, summary, responses, **kw) -> Op:
    return Op(method, path, summary, kw.pop("tag", "Customer Center"), responses, security=BEARER, **kw)


def admin(method, path, summary, tag, responses, **kw) -> Op:
    return Op(method, path, summary, tag, responses, security=API_KEY, **kw)


def public(method, path, summary, responses, **kw) -> Op:
    return Op(method, path, summary, kw.pop("tag", "Login"), responses, **kw)


AUTH = [
    public("POST", "/api/login", "Log in: an access token, a refresh token and the page to open",
           {200: auth.LoginResponse, 401: E, 429: E}, body=auth.LoginRequest,
           description="Unknown username, no password yet or a wrong password: the same 401 `invalid_credentials`."),
    public("POST", "/api/token/refresh", "Exchange a refresh token (good once) for a new pair",
           {200: auth.TokenResponse, 401: E}, body=auth.RefreshRequest),
    customer("POST", "/api/logout", "End this session: its tokens stop working", {200: auth.LoggedOut}, tag="Login"),
    public("POST", "/api/password/set", "Set a password with the token of a welcome or reset email",
           {200: auth.SetPasswordResponse, 400: E}, body=auth.SetPasswordRequest,
           description="400 `token_invalid` for an unknown, used or expired link; 422 `password_rejected` for a weak password."),
    public("POST", "/api/password/forgot", "Email a reset link (always 202, known email or not)",
           {202: auth.Accepted}, body=auth.ForgotPasswordRequest),
    customer("PUT", "/api/account/username", "Change the username (the current password confirms it)",
             {200: auth.UsernameResponse, 403: E, 409: E, 429: E}, body=auth.ChangeUsernameRequest, tag="Account"),
    customer("PUT", "/api/account/password", "Change the password; every other session ends",
             {200: auth.PasswordChangedResponse, 403: E, 429: E}, body=auth.ChangePasswordRequest, tag="Account"),
    admin("POST", "/admin/api/contacts/{contact_id}/resend-credentials", "Email the contact a fresh set-password link",
          "Contacts", {202: auth.CredentialsResent}),
    public("GET", "/.well-known/jwks.json", "The public keys that verify access tokens", {200: m.Jwks}, tag="Keys"),
]

MEMBERSHIP = [
    public("POST", "/api/register", "Register on a site that allows it (the welcome email follows)",
           {201: membership.RegisterResponse, 403: E, 404: E, 409: E}, body=membership.RegisterRequest,
           description="404 `site_not_found`, 403 `registration_closed`, 409 `email_taken` or `no_default_level`."),
    customer("GET", "/api/me", "The contact and their memberships", {200: membership.Me, 404: E}, tag="Account"),
    customer("GET", "/api/can-open", "Whether the contact may open a page of their site now", {200: m.PageAccess, 422: E},
             query=[query("page", {"type": "string"}, "The page's path, e.g. `/members/lessons`.", required=True)],
             tag="Account",
             description="A host site asks on each view of one of its protected pages (one indexed query). "
                         "A path that is not a protected page is open: `protected` false, `allowed` true."),
    admin("GET", "/admin/api/site", "The site's settings", "Site", {200: membership.SiteOut, 404: E}),
    admin("PATCH", "/admin/api/site", "Change the site's settings", "Site", {200: membership.SiteOut, 404: E},
          body=membership.SitePatch,
          description="422 `redirect_page_lacks_access` when a level able to log in could not open the post-login page."),
    admin("POST", "/admin/api/contacts", "Add a contact (a level granted only if given)", "Contacts",
          {201: membership.ContactOut, 409: E}, body=membership.ContactCreate),
    admin("GET", "/admin/api/contacts", "Contacts, newest first", "Contacts", {200: membership.ContactPage, 422: E},
          query=[query("q", {"type": "string"}, "Searches name and email."), query("tag", {"type": "string"}),
                 *LIMIT_200]),
    admin("GET", "/admin/api/contacts/{contact_id}", "One contact with their grants", "Contacts",
          {200: membership.ContactOut}),
    admin("PATCH", "/admin/api/contacts/{contact_id}", "Change a contact (a null custom field removes it)", "Contacts",
          {200: membership.ContactOut, 409: E}, body=membership.ContactPatch),
    admin("GET", "/admin/api/contacts/{contact_id}/access", "May the contact open a page, and every reason why",
          "Access", {200: membership.AccessOut, 422: E},
          query=[query("page", {"type": "string"}, "A page path; the site's post-login page by default."),
                 query("as_of", {"type": "string", "format": "date-time"}, "Now by default.")]),
    admin("POST", "/admin/api/contacts/{contact_id}/grants", "Grant a level by hand", "Access",
          {201: membership.GrantOut}, body=membership.GrantCreate),
    admin("DELETE", "/admin/api/contacts/{contact_id}/grants/{grant_id}", "End a grant now", "Access",
          {200: membership.GrantOut, 409: E}, body=membership.GrantRevoke, body_required=False),
    admin("POST", "/admin/api/fields", "Define a custom field", "Contacts", {201: membership.FieldCreate, 409: E},
          body=membership.FieldCreate),
    admin("GET", "/admin/api/fields", "The site's custom fields", "Contacts", {200: m.FieldList}),
    admin("POST", "/admin/api/programs", "Add a program", "Set-up", {201: m.Program, 409: E},
          body=membership.ProgramCreate),
    admin("GET", "/admin/api/programs", "Programs with their levels in order", "Set-up", {200: m.ProgramList}),
    admin("POST", "/admin/api/levels", "Add a level to a program", "Set-up", {201: m.Level, 409: E},
          body=membership.LevelCreate),
    admin("GET", "/admin/api/levels", "The site's levels", "Set-up", {200: m.LevelList, 422: E},
          query=[query("program_id", {"type": "string", "format": "uuid"})]),
    admin("POST", "/admin/api/pages", "Protect a page (any one of its levels opens it)", "Set-up",
          {201: m.Page, 409: E}, body=membership.PageCreate),
    admin("GET", "/admin/api/pages", "Protected pages", "Set-up", {200: m.PageList}),
    admin("PATCH", "/admin/api/pages/{page_id}", "Change a protected page", "Set-up", {200: m.Page},
          body=membership.PagePatch),
    admin("GET", "/admin/api/api-keys", "The site's API keys (labels and dates, never a key)", "Keys",
          {200: membership.ApiKeyList}),
    admin("POST", "/admin/api/api-keys", "A new API key: the key is in this answer only", "Keys",
          {201: membership.ApiKeyCreated}, body=membership.ApiKeyCreate),
    admin("DELETE", "/admin/api/api-keys/{key_id}", "Revoke an API key", "Keys", {204: NO_CONTENT}),
    admin("POST", "/admin/api/rules", "The first payment of a product grants a level", "Set-up",
          {201: m.Rule, 409: E}, body=membership.RuleCreate),
    admin("GET", "/admin/api/rules", "The site's rules", "Set-up", {200: m.RuleList}),
]

BILLING = [
    customer("GET", "/api/invoices", "The contact's invoices, newest first", {200: m.InvoicePage, 422: E},
             query=[query("status", {"enum": ["unpaid", "paid", "void", "all"], "default": "all"}), *LIMIT_200]),
    customer("POST", "/api/invoices/{id}/pay", "Pay an unpaid invoice now with one of the contact's cards",
             {200: m.InvoiceAnswer, 402: E, 409: E}, body=billing.PayIn),
    customer("GET", "/api/payments", "Every payment, newest first", {200: m.PaymentPage, 422: E}, query=LIMIT_200),
    customer("GET", "/api/payments/{id}/receipt", "A printable receipt", {200: HTML}),
    customer("GET", "/api/orders", "Subscriptions and payment plans", {200: m.OrderPage, 422: E}, query=LIMIT_200),
    customer("POST", "/api/orders/{id}/cancel", "Cancel a subscription, at the period's end or now",
             {200: m.OrderAnswer, 409: E}, body=billing.CancelIn),
    customer("POST", "/api/orders/{id}/pause", "Pause a subscription", {200: m.OrderAnswer, 409: E}),
    customer("POST", "/api/orders/{id}/resume", "Resume a paused subscription", {200: m.OrderAnswer, 409: E}),
    customer("POST", "/api/orders/{id}/pay-off", "Pay what is left of a payment plan now",
             {200: m.PaidOff, 402: E, 409: E}, body=billing.PayOffIn),
    customer("GET", "/api/cards", "The contact's cards", {200: m.CardList}),
    customer("POST", "/api/cards", "Add a card tokenised by the payment processor (it pays unpaid invoices at once)",
             {200: m.CardAdded, 201: m.CardAdded}, body=billing.CardIn,
             description="200 when the token's card was added already; 422 `card_token_invalid` for an unknown token."),
    customer("PATCH", "/api/cards/{id}", "Make a card a fallback (or not)", {200: m.CardAnswer}, body=billing.CardPatch),
    customer("DELETE", "/api/cards/{id}", "Remove a card no open order uses", {204: NO_CONTENT, 409: E},
             description="409 `card_in_use`, its `details.orders` naming the orders the card pays."),
    customer("POST", "/api/cards/{id}/use-for-all", "This card pays every open subscription and payment plan",
             {200: m.CardUsedForAll}),
    admin("POST", "/admin/api/products", "Add a product", "Billing", {201: m.ProductCreated}, body=billing.ProductIn),
    admin("GET", "/admin/api/products", "The site's products", "Billing", {200: m.ProductPage, 422: E}, query=LIMIT_200),
    public("POST", "/api/checkout", "The order form: a new customer buys a product with a tokenised card",
           {201: m.CheckoutAnswer, 402: E, 404: E, 409: E}, body=CheckoutIn, tag="Checkout",
           description="The buyer becomes (or is found as) a contact of the site, then the first charge happens now."
                       " 402 with the decline's code: no order exists. The same `idempotency_key` answers the same"
                       " order, never a second charge."),
    admin("POST", "/admin/api/orders", "Place an order as an order form would: the first charge now", "Billing",
          {200: m.OrderAnswer, 201: m.OrderAnswer, 402: E, 404: E}, body=billing.OrderIn,
          description="200 for an `idempotency_key` seen before (the same order, never a second charge)."),
    admin("GET", "/admin/api/orders/{id}", "One order", "Billing", {200: m.OrderAnswer}),
    admin("PATCH", "/admin/api/orders/{id}", "Change one order's card or next billing date", "Billing",
          {200: m.OrderAnswer, 409: E}, body=billing.OrderPatch),
    admin("POST", "/admin/api/orders/{id}/cancel", "Cancel a subscription", "Billing", {200: m.OrderAnswer, 409: E},
          body=billing.CancelIn),
    admin("POST", "/admin/api/orders/{id}/pause", "Pause a subscription", "Billing", {200: m.OrderAnswer, 409: E}),
    admin("POST", "/admin/api/orders/{id}/resume", "Resume a subscription", "Billing", {200: m.OrderAnswer, 409: E}),
    admin("GET", "/admin/api/contacts/{id}/purchases", "The contact's orders, invoices, payments and cards",
          "Billing", {200: m.Purchases}),
    admin("POST", "/admin/api/payments/{id}/refund", "Refund a succeeded payment in full", "Billing",
          {200: m.PaymentAnswer, 409: E}),
    admin("POST", "/admin/api/billing/run", "Run billing now (it also runs on a schedule)", "Billing",
          {200: m.RunAnswer}, body=billing.RunIn, body_required=False),
    public("POST", "/sandbox/v1/tokens", "Tokenise a card at the sandbox payment processor (the card form posts here)",
           {201: m.CardToken}, body=TokenRequest, tag="Payment processor",
           description="422 `card_invalid` for a Luhn-invalid or expired card."),
]

NOTIFY = [
    admin("GET", "/admin/api/templates", "Every email template: defaults, the site's versions, its own", "Email",
          {200: m.TemplateList}),
    admin("GET", "/admin/api/templates/{name}", "One template", "Email", {200: m.Template}),
    admin("PUT", "/admin/api/templates/{name}", "Save the site's version of a template", "Email",
          {200: m.Template}, body=notify.TemplateBody,
          description="422 `undeclared_merge_field` or `template_invalid` for a template that could not be sent."),
    admin("POST", "/admin/api/templates/{name}/preview", "The template (or a draft of it) rendered for a contact",
          "Email", {200: m.TemplatePreview}, body=notify.PreviewBody,
          description="A made-up sample contact when `contact_id` is not given; parts left out are the template's "
                      "current ones. 422 `undeclared_merge_field` naming the field, as saving would."),
    admin("DELETE", "/admin/api/templates/{name}", "Back to the default (200) or, for the site's own, gone (204)",
          "Email", {200: m.Template, 204: NO_CONTENT}),
    admin("GET", "/admin/api/email-settings", "From and Reply-To", "Email", {200: m.EmailSettings}),
    admin("PUT", "/admin/api/email-settings", "Set From and Reply-To", "Email", {200: m.EmailSettings},
          body=notify.EmailSettingsBody),
    admin("GET", "/admin/api/messages", "Emails sent or held, with why held", "Email", {200: m.MessagePage, 422: E},
          query=[query("contact_id", {"type": "string", "format": "uuid"}), *CURSOR]),
    admin("GET", "/admin/api/sequences", "Email sequences", "Sequences", {200: m.SequenceList}),
    admin("POST", "/admin/api/sequences", "Add a sequence", "Sequences", {201: m.Sequence, 409: E},
          body=notify.SequenceBody),
    admin("POST", "/admin/api/sequences/run", "Send every step due by `as_of` (default now)", "Sequences",
          {200: m.SequenceRun}, body=notify.RunBody),
    admin("GET", "/admin/api/sequences/{id}", "One sequence", "Sequences", {200: m.Sequence}),
    admin("PUT", "/admin/api/sequences/{id}", "Replace a sequence's name and steps", "Sequences",
          {200: m.Sequence, 409: E}, body=notify.SequenceBody),
    admin("DELETE", "/admin/api/sequences/{id}", "Delete a sequence and its enrolments", "Sequences",
          {204: NO_CONTENT}),
    admin("GET", "/admin/api/sequences/{id}/enrolments", "Who goes through the sequence", "Sequences",
          {200: m.EnrolmentList}),
    admin("POST", "/admin/api/sequences/{id}/enrolments", "Enrol a contact", "Sequences", {201: m.Enrolment},
          body=notify.EnrolmentBody),
    admin("DELETE", "/admin/api/sequences/{id}/enrolments/{contact_id}", "Stop the sequence for a contact",
          "Sequences", {200: m.Enrolment}),
    admin("GET", "/admin/api/webhooks", "Outgoing webhook endpoints", "Webhooks", {200: m.WebhookList}),
    admin("POST", "/admin/api/webhooks", "Add an endpoint (its signing secret is shown once)", "Webhooks",
          {201: m.WebhookCreated}, body=notify.WebhookBody),
    admin("GET", "/admin/api/webhooks/{id}", "One endpoint", "Webhooks", {200: m.Webhook}),
    admin("PATCH", "/admin/api/webhooks/{id}", "Change an endpoint", "Webhooks", {200: m.Webhook},
          body=notify.WebhookPatch),
    admin("DELETE", "/admin/api/webhooks/{id}", "Delete an endpoint", "Webhooks", {204: NO_CONTENT}),
    admin("GET", "/admin/api/webhooks/{id}/deliveries", "The delivery log with every attempt", "Webhooks",
          {200: m.DeliveryPage, 422: E}, query=CURSOR),
    admin("POST", "/admin/api/webhooks/{id}/deliveries/{delivery_id}/replay", "Send a delivery again now",
          "Webhooks", {202: m.Pending}),
]

OPERATIONS_API = [
    admin("GET", "/admin/api/dead-letters", "Messages a service gave up on (the site's), oldest first",
          "Operations", {200: m.DeadLetterList},
          description="Every service with a consumer is asked; one that is down is named in `unavailable`."),
    admin("POST", "/admin/api/dead-letters/{id}/replay", "Deliver a dead letter again to the service(s) it died in",
          "Operations", {200: m.Replayed, 409: E},
          description="Each service applies it once (its inbox absorbs a copy it already applied). One older than "
                      "the inbox retention (`CC_INBOX_RETENTION_DAYS`, 30 days; its event occurred or was first "
                      "parked before) is refused, 409 `dead_letter_too_old`, and stays in the queue."),
]

AUDIT = [
    admin("GET", "/admin/api/audit", "Who did what, when, before and after: every service's entries, newest first",
          "Audit", {200: m.AuditPage, 422: E},
          query=[query("contact_id", {"type": "string", "format": "uuid"}, "Only the entries about this contact."),
                 query("before", {"type": "string", "format": "date-time"}, "Entries older than this (`next_before`)."),
                 query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
          description="Every admin action (API key or console) writes its entry in the same transaction as its "
                      "effect. 503 naming a service that cannot answer."),
]

GATEWAY = [
    Op("GET", "/openapi.json", "This document", "Gateway", {200: {"type": "object"}}, forwarded=False),
    Op("GET", "/healthz", "The gateway is up", "Gateway", {200: m.Health}, forwarded=False),
    Op("GET", "/readyz", "Every service behind the gateway is ready", "Gateway",
       {200: m.Readiness, 503: m.Readiness}, forwarded=False),
    Op("GET", "/metrics", "Prometheus metrics", "Gateway", {200: TEXT}, forwarded=False),
    Op("GET", "/", "The home page", "Pages", {200: HTML}, forwarded=False),
    Op("GET", "/password/set", "The set-password form (opening it consumes nothing)", "Pages", {200: HTML},
       query=[query("token", {"type": "string"})], forwarded=False),
    Op("GET", "/embed.js", "The embed snippet: `<script src=\".../embed.js\" data-site=\"<slug>\"></script>`", "Embedding",
       {200: JS}, forwarded=False,
       description="Inserts an iframe of `/center?site=<slug>&embed=1` sized to its content, with the host page's "
                   "font and colours. Only the site's `embed_origins` may frame it (CSP frame-ancestors, CORS)."),
    Op("GET", "/embed/frame.js", "The Customer Center's side of embedding: its height and the host's theme",
       "Embedding", {200: JS}, forwarded=False),
]


def page(path: str, summary: str, **kw) -> Op:
    return Op("GET", path, summary, "Pages", {200: HTML}, forwarded=False, **kw)


def form(path: str, summary: str, answers: dict | None = None) -> Op:
    """A page's form post (``application/x-www-form-urlencoded`` with the CSRF token): 303 onwards,
    or the page again with the reason (4xx, HTML); 403 without a valid CSRF token; 400 for a body
    that is no form (multipart without a boundary...)."""
    return Op("POST", path, summary, "Pages", {303: NO_CONTENT, 400: HTML, 403: HTML, **(answers or {})}, forwarded=False)


SESSION_NOTE = "Needs the session cookies set by `POST /login`; without them, 303 to `/login`."
SITE = [query("site", {"type": "string"}, "The site's slug (default: the gateway's default site).")]

PAGES = [
    page("/login", "The login page", query=SITE),
    form("/login", "Log in: sets the session cookies (HttpOnly), then 303 to the site's post-login page",
         {400: HTML, 401: HTML, 429: HTML}),
    form("/logout", "Log out: the session is revoked and its cookies cleared"),
    page("/password/forgot", "The forgot-password form", query=SITE),
    form("/password/forgot", "Email a reset link (the page says so whether or not the email is known)", {200: HTML}),
    form("/password/set", "Set the password with the link's token", {200: HTML, 400: HTML, 422: HTML}),
    page("/checkout/{product_id}", "The order form: a new customer buys a product (the card goes to the processor)",
         query=SITE),
    form("/checkout/{product_id}", "Place the order (first charge now); a decline shows why", {200: HTML, 402: HTML}),
    page("/center", "The Customer Center: every section", description=SESSION_NOTE),
    *(page(f"/center/{section}", f"The Customer Center's {title} alone (embeddable)", description=SESSION_NOTE)
      for section, title in (("invoices", "unpaid invoices"), ("payments", "payment history"),
                             ("orders", "subscriptions and payment plans"), ("cards", "cards"),
                             ("account", "account"))),
    page("/center/receipts/{id}", "A printable receipt", description=SESSION_NOTE),
    form("/center/invoices/{id}/pay", "Pay an unpaid invoice now with a chosen card"),
    form("/center/orders/{id}/cancel", "Cancel a subscription, with a reason, at period end or now"),
    form("/center/cards", "Add a card (its token, from the processor)"),
    form("/center/cards/{id}/use-for-all", "This card pays every open subscription and payment plan"),
    form("/center/cards/{id}/remove", "Remove a card no open order uses"),
    form("/center/account/username", "Change the username (the current password confirms it)"),
    form("/center/account/password", "Change the password (other sessions end)"),
]

OPERATIONS = [*AUTH, *MEMBERSHIP, *BILLING, *NOTIFY, *OPERATIONS_API, *AUDIT, *GATEWAY, *PAGES]
