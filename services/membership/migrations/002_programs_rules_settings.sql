-- Site settings: the Customer Center switch, where people land after logging in, registration
-- defaults, embed origins and which custom fields record a cancellation.
ALTER TABLE sites
    ADD COLUMN customer_center_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN post_login_redirect     text NOT NULL DEFAULT 'customer_center'
        CHECK (post_login_redirect = 'customer_center' OR post_login_redirect LIKE '/%'),
    ADD COLUMN registration_tags       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN registration_sequences  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN embed_origins           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN cancellation_fields     jsonb NOT NULL DEFAULT '{}';

-- Contacts: tags and typed custom fields (values checked against the site's field definitions).
ALTER TABLE contacts
    ADD COLUMN tags   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fields jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX contacts_site_created ON contacts (site_id, created_at DESC, id);

CREATE TABLE field_definitions (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    type       text NOT NULL CHECK (type IN ('text', 'number', 'date', 'choice')),
    choices    text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

-- Rules: the first successful payment of a product grants a level.
CREATE TABLE rules (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    product_id uuid NOT NULL,
    level_id   uuid NOT NULL REFERENCES levels (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, product_id, level_id)
);
CREATE INDEX rules_product ON rules (site_id, product_id);

-- A grant made by a rule remembers the rule and the order it came from (so a cancellation or
-- suspension ends the right grant). An order's payments grant a rule's level once.
ALTER TABLE grants
    ADD COLUMN rule_id  uuid REFERENCES rules (id),
    ADD COLUMN order_id uuid;
CREATE UNIQUE INDEX grants_once_per_rule_and_order ON grants (rule_id, order_id) WHERE rule_id IS NOT NULL;
CREATE INDEX grants_rule_contact ON grants (rule_id, contact_id) WHERE rule_id IS NOT NULL;
CREATE INDEX grants_order ON grants (order_id) WHERE order_id IS NOT NULL;

-- How billing said an order ended (cancelled or suspended), so a payment event that arrives after
-- it (a redelivery out of order) still makes a grant that ends when it should.
CREATE TABLE order_endings (
    order_id   uuid PRIMARY KEY,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    ends_at    timestamptz NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The access check: a contact's grants of the levels that open a page, in one index probe.
CREATE INDEX grants_contact_level ON grants (contact_id, level_id, starts_at, ends_at);
CREATE INDEX page_levels_level ON page_levels (level_id);
