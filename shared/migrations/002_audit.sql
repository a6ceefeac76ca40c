-- The audit log, created in every service's schema: each admin action writes its row in the same
-- transaction as its effect (shared/audit.py), so an effect that rolls back leaves no entry.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    site_id     uuid NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    actor_role  text,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text,
    contact_id  uuid,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_site_at ON audit_log (site_id, at DESC);
CREATE INDEX audit_log_site_contact_at ON audit_log (site_id, contact_id, at DESC) WHERE contact_id IS NOT NULL;
