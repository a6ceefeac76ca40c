-- The outbox keeps each envelope as the JSON text it was written as (json), not parsed into jsonb:
-- nothing queries inside it but the relay's `envelope->>'correlation_id'`, which json answers as
-- well, and the relay sends the text as it is. Parsing ~900 bytes into jsonb on insert and printing
-- it back on the relay's claim cost PostgreSQL about 6 µs per event, twice what json costs (a
-- billing run writes one event per payment). A jsonb value still inserted (`$1::jsonb`) is cast on
-- assignment.
ALTER TABLE outbox ALTER COLUMN envelope TYPE json USING envelope::json;
