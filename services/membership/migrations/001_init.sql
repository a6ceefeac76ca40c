CREATE TABLE sites (
    id                uuid PRIMARY KEY,
    slug              text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name              text NOT NULL CHECK (btrim(name) <> ''),
    registration_open boolean NOT NULL DEFAULT true,
    default_level_id  uuid,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE programs (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    name       text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

CREATE TABLE levels (
    id         uuid PRIMARY KEY,
    program_id uuid NOT NULL REFERENCES programs (id),
    name       text NOT NULL CHECK (btrim(name) <> ''),
    rank       integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, name)
);

ALTER TABLE sites ADD CONSTRAINT sites_default_level FOREIGN KEY (default_level_id) REFERENCES levels (id);

CREATE TABLE contacts (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    email      text NOT NULL CHECK (btrim(email) <> ''),
    first_name text NOT NULL,
    last_name  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_site_email ON contacts (site_id, lower(email));

CREATE TABLE grants (
    id           uuid PRIMARY KEY,
    contact_id   uuid NOT NULL REFERENCES contacts (id),
    level_id     uuid NOT NULL REFERENCES levels (id),
    source       text NOT NULL CHECK (source IN ('registration', 'rule', 'manual')),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz,
    ended_reason text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grants_contact ON grants (contact_id);

CREATE TABLE pages (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    path       text NOT NULL CHECK (path LIKE '/%'),
    title      text NOT NULL DEFAULT '',
    UNIQUE (site_id, path)
);

CREATE TABLE page_levels (
    page_id  uuid NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    level_id uuid NOT NULL REFERENCES levels (id),
    PRIMARY KEY (page_id, level_id)
);

-- Admin API keys: only a SHA-256 of the key is kept; each key belongs to one site.
CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id),
    key_hash   bytea NOT NULL UNIQUE,
    label      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
