-- Users of the admin panel, their sessions and the invitations that let them register
-- (SPEC §4 sessions, §10). Secrets are never stored: a password as its argon2id PHC
-- string, a session or invitation token as its SHA-256.

-- A login form has only an email and a password, so an email names one user in one tenant:
-- unique across control.db, compared without case (services/users.py also lowers it).
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'engineer')),
    password_hash TEXT NOT NULL,
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    disabled_at   TEXT
);

CREATE INDEX users_by_tenant ON users (tenant_id, id);

-- One row per live session; logout and disabling the user delete it, so a row that exists
-- and is within both timeouts is a session that may be used.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    -- The absolute end (created_at + [sessions] absolute_hours); the idle end is
    -- last_seen_at + [sessions] idle_minutes, judged with the setting of the day.
    expires_at   TEXT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    email       TEXT COLLATE NOCASE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'engineer')),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by     TEXT REFERENCES users(id)
);

CREATE INDEX invitations_by_tenant ON invitations (tenant_id, id);
