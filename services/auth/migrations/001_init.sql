-- Sites as auth learned them from membership's events (auth never reads membership's tables).
CREATE TABLE sites (
    id   uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL
);

CREATE TABLE logins (
    id              uuid PRIMARY KEY,
    site_id         uuid NOT NULL REFERENCES sites (id),
    contact_id      uuid NOT NULL,
    username        text NOT NULL CHECK (btrim(username) <> ''),
    email           text NOT NULL,
    first_name      text NOT NULL,
    password_hash   text,
    password_set_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, contact_id)
);
CREATE UNIQUE INDEX logins_site_username ON logins (site_id, lower(username));

-- Set-password and reset links: only a SHA-256 of the token is stored.
CREATE TABLE password_tokens (
    id         uuid PRIMARY KEY,
    login_id   uuid NOT NULL REFERENCES logins (id),
    token_hash bytea NOT NULL UNIQUE,
    purpose    text NOT NULL CHECK (purpose IN ('set_password', 'reset')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX password_tokens_login ON password_tokens (login_id);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_pem text NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- Refresh tokens: opaque to the client, stored hashed, one family per login session.
CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    login_id     uuid NOT NULL REFERENCES logins (id),
    family_id    uuid NOT NULL,
    refresh_hash bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX sessions_family ON sessions (family_id);
