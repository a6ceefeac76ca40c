-- Contacts as notify learned them from membership's events.
CREATE TABLE contacts (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL,
    email      text NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL
);

-- Every email, sent or held. The id is derived from (event, template): a redelivered event maps to
-- the same row, so it can never be sent twice.
CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    event_id        uuid NOT NULL,
    template        text NOT NULL,
    site_id         uuid,
    contact_id      uuid,
    correlation_id  text NOT NULL DEFAULT '',
    to_address      text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('queued', 'sent', 'held')),
    reason          text,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (event_id, template)
);
CREATE INDEX messages_contact ON messages (contact_id, created_at DESC);
CREATE INDEX messages_queued ON messages (next_attempt_at) WHERE status = 'queued';

-- The rendered email until it is delivered. It may hold a set-password link, so it is deleted as
-- soon as the message is sent or held: links do not outlive their delivery in this database.
CREATE TABLE outgoing (
    message_id uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    mime       bytea NOT NULL
);

CREATE TRIGGER outgoing_inserted AFTER INSERT ON outgoing
    FOR EACH STATEMENT EXECUTE FUNCTION notify_on_insert();
