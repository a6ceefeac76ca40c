-- The transactional outbox and the idempotency inbox, created in every service's schema.

CREATE TABLE outbox (
    seq             bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    routing_key     text NOT NULL,
    envelope        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, seq);

-- Wakes a worker on commit (NOTIFY is delivered only when the transaction commits): the channel is
-- <schema>_<table>, e.g. auth_outbox. Services use it for their own work queues too.
CREATE FUNCTION notify_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_' || TG_TABLE_NAME, '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_on_insert();

CREATE TABLE inbox (
    event_id     uuid NOT NULL,
    handler      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, handler)
);
