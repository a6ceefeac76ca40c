-- Contacts billing learned from membership.contact.created; cards (processor tokens only: never a
-- card number); orders; invoices (one per order and billing period); payments (one per charge
-- attempt, keyed by the idempotency key the processor saw). Money: integer minor units.

CREATE TABLE contacts (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL,
    email      text NOT NULL,
    first_name text NOT NULL DEFAULT '',
    last_name  text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_site ON contacts (site_id);

CREATE TABLE cards (
    id            uuid PRIMARY KEY,
    site_id       uuid NOT NULL,
    contact_id    uuid NOT NULL REFERENCES contacts (id),
    token         text NOT NULL,
    brand         text NOT NULL,
    last4         char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month     integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year      integer NOT NULL,
    is_default    boolean NOT NULL DEFAULT false,
    -- Fallback cards are tried in this order when a retry on the order's own card fails.
    fallback_rank integer CHECK (fallback_rank > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz
);
CREATE UNIQUE INDEX cards_one_default ON cards (contact_id) WHERE is_default AND removed_at IS NULL;
CREATE UNIQUE INDEX cards_token_once ON cards (contact_id, token) WHERE removed_at IS NULL;

CREATE TABLE orders (
    id                   uuid PRIMARY KEY,
    site_id              uuid NOT NULL,
    contact_id           uuid NOT NULL REFERENCES contacts (id),
    product_id           uuid NOT NULL REFERENCES products (id),
    -- The price and terms at purchase: a later change of the product does not reprice the order.
    product_name         text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('one_time', 'subscription', 'payment_plan')),
    amount               bigint NOT NULL CHECK (amount >= 0),
    currency             char(3) NOT NULL,
    interval             text CHECK (interval IN ('week', 'month', 'year')),
    interval_count       integer CHECK (interval_count > 0),
    installments         integer CHECK (installments > 1),
    status               text NOT NULL
                         CHECK (status IN ('active', 'past_due', 'paused', 'cancelled', 'completed', 'suspended')),
    card_id              uuid REFERENCES cards (id),
    -- Period i starts at anchor_at + (i - anchor_index) intervals, counted from the anchor each time.
    anchor_at            timestamptz NOT NULL,
    anchor_index         integer NOT NULL DEFAULT 0,
    periods_billed       integer NOT NULL DEFAULT 0,
    next_billing_at      timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    cancelled_at         timestamptz,
    cancelled_by         text,
    cancel_reason        text,
    access_ends_at       timestamptz,
    paused_at            timestamptz,
    suspended_at         timestamptz,
    completed_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_due ON orders (next_billing_at) WHERE status = 'active';
CREATE INDEX orders_contact ON orders (contact_id, created_at);
CREATE INDEX orders_card ON orders (card_id);

CREATE TABLE invoices (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (id),
    site_id         uuid NOT NULL,
    contact_id      uuid NOT NULL,
    sequence        integer NOT NULL CHECK (sequence > 0),
    -- How many periods (installments) it pays: more than one when a payment plan is paid off early.
    covers          integer NOT NULL DEFAULT 1 CHECK (covers > 0),
    period_start    timestamptz NOT NULL,
    period_end      timestamptz,
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('unpaid', 'paid', 'void')),
    charge_attempts integer NOT NULL DEFAULT 0,
    failures        integer NOT NULL DEFAULT 0,
    transient_errors integer NOT NULL DEFAULT 0,
    first_failed_at timestamptz,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    -- One invoice per order and billing period, whoever runs the billing and however often.
    UNIQUE (order_id, sequence)
);
CREATE INDEX invoices_due ON invoices (next_attempt_at) WHERE status = 'unpaid';
CREATE INDEX invoices_unpaid_order ON invoices (order_id) WHERE status = 'unpaid';
CREATE INDEX invoices_contact ON invoices (contact_id, created_at);

CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    invoice_id          uuid NOT NULL REFERENCES invoices (id),
    order_id            uuid NOT NULL REFERENCES orders (id),
    site_id             uuid NOT NULL,
    contact_id          uuid NOT NULL,
    card_id             uuid REFERENCES cards (id),
    amount              bigint NOT NULL CHECK (amount >= 0),
    currency            char(3) NOT NULL,
    status              text NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
    -- The key the processor saw: the database refuses a second payment for the same key.
    idempotency_key     text NOT NULL UNIQUE,
    processor_charge_id text,
    failure_code        text,
    failure_message     text,
    amount_refunded     bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payments_one_success_per_invoice ON payments (invoice_id) WHERE status IN ('succeeded', 'refunded');
CREATE INDEX payments_contact ON payments (contact_id, created_at);
CREATE INDEX payments_invoice ON payments (invoice_id);
