-- 'sending': committed just before the final "." of the SMTP DATA is written, so a message found in
-- it after a crash is the only one whose delivery is uncertain (before that "." the server had not
-- taken it: a message still 'queued' was certainly not delivered). See delivery.py.
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check CHECK (status IN ('queued', 'sending', 'sent', 'held'));
ALTER TABLE messages ADD COLUMN sending_at timestamptz;
-- How often this message was found in 'sending' by a later worker and sent again (at least once).
ALTER TABLE messages ADD COLUMN uncertain_resends integer NOT NULL DEFAULT 0;
CREATE INDEX messages_sending ON messages (sending_at) WHERE status = 'sending';
