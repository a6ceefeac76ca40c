-- The sandbox processor's memory. It keeps no card number either: a token, brand, last four digits,
-- expiry, and how the test card behaves.
CREATE TABLE tokens (
    token      text PRIMARY KEY,
    brand      text NOT NULL,
    last4      char(4) NOT NULL,
    exp_month  integer NOT NULL,
    exp_year   integer NOT NULL,
    behaviour  text NOT NULL CHECK (behaviour IN ('succeed', 'decline', 'insufficient_funds', 'processing_error')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One charge per idempotency key, like a real processor: a replay returns the stored charge.
CREATE TABLE charges (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    request_hash    text NOT NULL,
    token           text NOT NULL REFERENCES tokens (token),
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    failure_code    text,
    failure_message text,
    amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Keys whose first attempt already failed transiently: the next attempt with the key succeeds.
CREATE TABLE transient_failures (
    idempotency_key text PRIMARY KEY,
    failed_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refunds (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    request_hash    text NOT NULL,
    charge_id       text NOT NULL REFERENCES charges (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
