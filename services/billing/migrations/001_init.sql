-- Products. Money is integer minor units with an ISO currency, never floats.
CREATE TABLE products (
    id             uuid PRIMARY KEY,
    site_id        uuid NOT NULL,
    name           text NOT NULL CHECK (btrim(name) <> ''),
    kind           text NOT NULL CHECK (kind IN ('one_time', 'subscription', 'payment_plan')),
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    interval       text CHECK (interval IN ('week', 'month', 'year')),
    interval_count integer CHECK (interval_count > 0),
    installments   integer CHECK (installments > 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'one_time') = (interval IS NULL)),
    CHECK ((kind = 'payment_plan') = (installments IS NOT NULL))
);
CREATE INDEX products_site ON products (site_id);
