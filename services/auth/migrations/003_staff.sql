-- The business's people: staff accounts per site for the admin console (/admin). Apart from the
-- contacts' logins: a staff session is never a contact's, and a contact's token never opens /admin.
CREATE TABLE staff (
    id            uuid PRIMARY KEY,
    site_id       uuid NOT NULL,
    email         text NOT NULL CHECK (btrim(email) <> ''),
    role          text NOT NULL CHECK (role IN ('owner', 'support')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_site_email ON staff (site_id, lower(email));

-- A staff session: an opaque token (256 bits) of which only the SHA-256 is kept.
CREATE TABLE staff_sessions (
    id         uuid PRIMARY KEY,
    staff_id   uuid NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
