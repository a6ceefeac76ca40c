-- The outbox's rows handed to their own process's relay (shared/outbox.py) are written with a lease:
-- `next_attempt_at` a few seconds ahead, so that no relay claims them while the process that committed
-- them publishes them itself. Waking the relays for such an insert would only make each of them claim
-- nothing: the trigger notifies when the statement inserted a row that is due now (a row written
-- with no relay in its process, or put back).
CREATE FUNCTION notify_on_due_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM inserted WHERE next_attempt_at <= now()) THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '_' || TG_TABLE_NAME, '');
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER outbox_inserted ON outbox;
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION notify_on_due_insert();
