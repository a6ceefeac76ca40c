"""Response bodies that no service declares as a model (billing and notify build their answers as
dicts in their views; a few membership set-up answers too). Written here once, proven against what
the code sends by ``tests/e2e/api/test_openapi_conformance.py``."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.events.billing import Money


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable snake_case code, e.g. not_found, validation_failed, card_in_use.")
    message: str = Field(description="For a person.")
    details: dict[str, Any] = Field(
        description="More about the error; for 422 `fields` names each bad field: {\"fields\": {\"a.b\": \"why\"}}."
    )


class Error(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


# --- auth ------------------------------------------------------------------------------------------


class Jwk(BaseModel):
    kty: str
    crv: str | None = None
    x: str | None = None
    kid: str
    alg: str | None = None
    use: str | None = None


class Jwks(BaseModel):
    keys: list[Jwk]


# --- billing ---------------------------------------------------------------------------------------

Interval = Literal["week", "month", "year"]
Kind = Literal["one_time", "subscription", "payment_plan"]


class Product(BaseModel):
    id: UUID
    name: str
    kind: Kind
    price: Money
    interval: Interval | None
    interval_count: int | None
    installments: int | None


class ProductCreated(BaseModel):
    product: Product


class ProductPage(BaseModel):
    products: list[Product]
    limit: int
    offset: int
    next_offset: int | None


class CardRef(BaseModel):
    id: UUID
    brand: str
    last4: str


class Installments(BaseModel):
    paid: int
    total: int
    left: Money
    summary: str


class Order(BaseModel):
    id: UUID
    contact_id: UUID
    product_id: UUID
    product_name: str
    kind: Kind
    price: Money
    interval: Interval | None
    interval_count: int | None
    status: str = Field(description="active, past_due, paused, cancelled or completed.")
    next_billing_date: datetime | None
    card: CardRef | None
    created_at: datetime
    cancel_at_period_end: bool
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    access_ends_at: datetime | None
    paused_at: datetime | None
    installments: Installments | None = Field(None, description="Payment plans only.")


class OrderAnswer(BaseModel):
    order: Order


class CheckoutOrder(BaseModel):
    """What the order form's buyer learns of the order placed for them."""

    id: UUID
    product_id: UUID
    product_name: str
    kind: Kind
    price: Money
    status: str
    next_billing_date: datetime | None


class CheckoutAnswer(BaseModel):
    order: CheckoutOrder


class PaidOff(BaseModel):
    order: Order
    invoice_id: UUID


class OrderPage(BaseModel):
    orders: list[Order]
    limit: int
    offset: int
    next_offset: int | None


class Invoice(BaseModel):
    id: UUID
    order_id: UUID
    product_name: str
    sequence: int
    covers: int
    period_start: datetime | None
    period_end: datetime | None
    amount: Money
    status: Literal["unpaid", "paid", "void"]
    paid_at: datetime | None
    created_at: datetime
    failed_attempts: int
    next_retry_at: datetime | None
    last_error: str | None


class InvoiceAnswer(BaseModel):
    invoice: Invoice


class InvoicePage(BaseModel):
    invoices: list[Invoice]
    limit: int
    offset: int
    next_offset: int | None


class Payment(BaseModel):
    id: UUID
    invoice_id: UUID | None
    order_id: UUID | None
    product_name: str | None
    amount: Money
    status: Literal["succeeded", "failed", "refunded"]
    card: CardRef | None
    failure_code: str | None
    failure_message: str | None
    amount_refunded: Money
    created_at: datetime
    receipt_url: str | None


class PaymentAnswer(BaseModel):
    payment: Payment


class PaymentPage(BaseModel):
    payments: list[Payment]
    limit: int
    offset: int
    next_offset: int | None


class CardOrder(BaseModel):
    id: UUID
    product_name: str
    status: str
    next_billing_date: datetime | None
    amount: Money


class Card(BaseModel):
    id: UUID
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    fallback_rank: int | None
    orders: list[CardOrder] = Field(description="The open orders this card pays.")


class CardList(BaseModel):
    cards: list[Card]


class CardAnswer(BaseModel):
    card: Card


class CardAdded(BaseModel):
    card: Card
    settled_invoices: list[UUID] = Field(description="Unpaid invoices the new card paid at once.")


class CardUsedForAll(BaseModel):
    card: Card
    moved_orders: list[Order]


class Purchases(BaseModel):
    contact_id: UUID
    orders: list[Order]
    invoices: list[Invoice]
    payments: list[Payment]
    cards: list[Card]


class RunSummary(BaseModel):
    as_of: str
    invoices_created: int
    charged: int
    succeeded: int
    declined: int
    transient: int
    cancelled: int
    expiring_cards: int


class RunAnswer(BaseModel):
    run: RunSummary


class CardToken(BaseModel):
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


# --- membership set-up -----------------------------------------------------------------------------


class ProgramLevel(BaseModel):
    id: UUID
    name: str
    rank: int


class Program(BaseModel):
    id: UUID
    name: str
    levels: list[ProgramLevel]


class ProgramList(BaseModel):
    items: list[Program]


class Level(BaseModel):
    id: UUID
    program_id: UUID
    program: str
    name: str
    rank: int


class LevelList(BaseModel):
    items: list[Level]


class PageLevel(BaseModel):
    id: UUID
    name: str
    program: str


class PageAccess(BaseModel):
    page: str
    protected: bool = Field(description="The path is one of the site's protected pages.")
    allowed: bool = Field(description="The contact may open it now (always true for a page that is not protected).")


class Page(BaseModel):
    id: UUID
    path: str
    title: str
    levels: list[PageLevel]


class PageList(BaseModel):
    items: list[Page]


class Rule(BaseModel):
    id: UUID
    product_id: UUID
    level_id: UUID
    level: str
    program: str


class RuleList(BaseModel):
    items: list[Rule]


class FieldDefinition(BaseModel):
    name: str
    type: Literal["text", "number", "date", "choice"]
    choices: list[str]


class FieldList(BaseModel):
    items: list[FieldDefinition]


# --- notify ----------------------------------------------------------------------------------------


class Template(BaseModel):
    name: str
    kind: Literal["default", "custom"]
    event: str | None
    description: str
    merge_fields: list[str]
    customized: bool
    subject: str
    text: str
    html: str
    updated_at: datetime | None


class TemplateList(BaseModel):
    templates: list[Template]


class PreviewContact(BaseModel):
    id: UUID | None = Field(description="null for the made-up sample contact")
    email: str
    first_name: str
    last_name: str


class TemplatePreview(BaseModel):
    name: str
    contact: PreviewContact
    subject: str
    text: str
    html: str


class EffectiveSender(BaseModel):
    from_: str = Field(alias="from")
    reply_to: str | None


class EmailSettings(BaseModel):
    mail_from: str | None
    reply_to: str | None
    effective: EffectiveSender


class MessageStep(BaseModel):
    enrolment_id: UUID
    step: int | None


class Message(BaseModel):
    id: UUID
    template: str
    contact_id: UUID | None
    to: str
    subject: str | None
    status: str = Field(description="queued, sending (ended, the mail server's answer not yet recorded), sent or held.")
    reason: str | None = Field(description="Why a message was held, or why it is queued again.")
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    sequence: MessageStep | None


class MessagePage(BaseModel):
    messages: list[Message]
    next_cursor: str | None


class Step(BaseModel):
    template: str
    delay_seconds: int


class Sequence(BaseModel):
    id: UUID
    name: str
    steps: list[Step]
    created_at: datetime


class SequenceList(BaseModel):
    sequences: list[Sequence]


class SequenceRun(BaseModel):
    as_of: datetime
    steps_sent: int


class Enrolment(BaseModel):
    id: UUID
    sequence_id: UUID
    contact_id: UUID
    source: str
    status: str
    next_step: int | None
    next_due_at: datetime | None
    enrolled_at: datetime
    ended_at: datetime | None


class EnrolmentList(BaseModel):
    enrolments: list[Enrolment]


class Webhook(BaseModel):
    id: UUID
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(Webhook):
    secret: str = Field(description="Signs every delivery; shown only in this answer.")


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class DeliveryAttempt(BaseModel):
    n: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int | None


class Delivery(BaseModel):
    id: UUID
    event_id: UUID
    event_type: str
    status: str
    attempts: list[DeliveryAttempt]
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None


class Pending(BaseModel):
    status: Literal["pending"]


# --- the gateway's own -----------------------------------------------------------------------------


# --- operations ------------------------------------------------------------------------------------


class DeadLetter(BaseModel):
    id: str = Field(description="The message (event) id: what replay takes.")
    service: Literal["auth", "membership", "billing", "notify"] = Field(description="Whose consumer gave up on it.")
    routing_key: str
    reason: str = Field(description="`rejected` (could never be processed) or `delivery_limit` (kept failing).")
    deaths: int
    first_death: str
    correlation_id: str
    size: int
    site_id: str | None


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetter]
    unavailable: list[str] = Field(description="Services that could not be asked (their dead letters are not listed).")


class Replayed(BaseModel):
    id: str
    replayed: list[DeadLetter]


class Health(BaseModel):
    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, bool]


# --- the audit log (every service's entries, merged by the gateway) ---------------------------------


class AuditActor(BaseModel):
    kind: Literal["staff", "api_key", "unknown"]
    id: str
    name: str
    role: str | None


class AuditEntry(BaseModel):
    id: UUID
    at: datetime
    actor: AuditActor
    action: str
    target_type: str
    target_id: str | None
    contact_id: UUID | None
    before: Any
    after: Any
    service: str


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_before: datetime | None = Field(description="Pass as `before` for the next (older) page; null at the end.")
