-- The delivery worker is woken (NOTIFY notify_messages on commit) for a message it has to send: one
-- inserted 'queued'. A message inserted 'sending' by the express lane (delivery.py) is ended by the
-- process whose transaction inserted it, and a held one is not sent: neither wakes the worker for an
-- empty claim. Messages queued again by an UPDATE (a retry, an uncertain resend) are found by its poll.
DROP TRIGGER outgoing_inserted ON outgoing;
CREATE TRIGGER messages_queued AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION notify_on_insert();
