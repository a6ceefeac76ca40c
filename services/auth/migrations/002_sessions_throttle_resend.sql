-- What membership.granted told auth, kept so an admin's "resend credentials" has every merge field.
ALTER TABLE logins ADD COLUMN program_name text NOT NULL DEFAULT '';
ALTER TABLE logins ADD COLUMN level_name text NOT NULL DEFAULT '';
CREATE INDEX logins_site_email ON logins (site_id, lower(email));

-- A session is a family of refresh tokens (family_id, the access token's "sid"); each row is one
-- refresh token. Revoking a session revokes every row of its family.
ALTER TABLE sessions ADD COLUMN revoked_reason text;
CREATE INDEX sessions_login ON sessions (login_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Failed logins per account ('login:<id>' or 'name:<site>:<username>' for unknown names, so both
-- behave alike) and per client address ('addr:<ip>'). A lock grows with each one (locks).
CREATE TABLE login_throttle (
    key             text PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz,
    locks           integer NOT NULL DEFAULT 0
);
