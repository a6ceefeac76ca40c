-- Sites as notify learned them from events (names for emails; never read from membership's tables).
CREATE TABLE sites (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL DEFAULT '',
    name       text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per-site From and Reply-To, set by the site's admin; the service default applies otherwise.
CREATE TABLE email_settings (
    site_id    uuid PRIMARY KEY,
    mail_from  text,
    reply_to   text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A site's own version of a default template, or a template of its own (used by sequences).
CREATE TABLE site_templates (
    site_id    uuid NOT NULL,
    name       text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, name)
);

ALTER TABLE messages ADD COLUMN enrolment_id uuid;
ALTER TABLE messages ADD COLUMN step integer;
CREATE INDEX messages_site ON messages (site_id, created_at DESC, id DESC);

-- Sequences: named lists of steps, each "send template T, D seconds after the previous step".
CREATE TABLE sequences (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

CREATE TABLE sequence_steps (
    sequence_id   uuid NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    template      text NOT NULL,
    delay_seconds bigint NOT NULL CHECK (delay_seconds >= 0),
    PRIMARY KEY (sequence_id, position)
);

-- A contact going through a sequence: the next step and when it is due. Claimed with SKIP LOCKED.
CREATE TABLE enrolments (
    id          uuid PRIMARY KEY,
    sequence_id uuid NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
    site_id     uuid NOT NULL,
    contact_id  uuid NOT NULL,
    source      text NOT NULL CHECK (source IN ('registration', 'admin')),
    status      text NOT NULL CHECK (status IN ('active', 'completed', 'stopped')),
    next_step   integer NOT NULL DEFAULT 0,
    next_due_at timestamptz,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    UNIQUE (sequence_id, contact_id)
);
CREATE INDEX enrolments_due ON enrolments (next_due_at) WHERE status = 'active';

CREATE TRIGGER enrolments_inserted AFTER INSERT ON enrolments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_on_insert();

-- Outgoing webhooks: a site's endpoints, the event types each wants, a signing secret each.
CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY,
    site_id     uuid NOT NULL,
    url         text NOT NULL,
    event_types text[] NOT NULL,
    secret      text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_site ON webhook_endpoints (site_id) WHERE active;

-- One event to one endpoint: retried with backoff for a day (from first_attempt window_start).
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    window_start    timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    n            integer NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

CREATE TRIGGER webhook_deliveries_inserted AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_on_insert();
