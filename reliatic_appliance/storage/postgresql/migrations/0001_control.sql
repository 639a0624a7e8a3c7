-- PostgreSQL schema 1: the control data (SQLite: control.db, migrations/control/0001..0004)
-- and both audit chains (SQLite: control/0003_audit_log.sql, tenant/0006_audit_log.sql).
-- Run by the role of `[storage] admin_dsn`, which owns every table; the server's role (`dsn`)
-- is a member of the group role reliatic_server, which gets DML only (docs/postgresql.md).
--
-- Instants are timestamptz (storage/postgresql/types.py gives back the text the services
-- wrote); hashes and digests bytea; permissions jsonb (the store hands back the list).
-- Unique constraints are named <table>_<column>_key: storage/postgresql/errors.py reads the
-- column from the name.

-- The group role the server's login role belongs to. Created here when the migrating role
-- may (superuser or CREATEROLE); otherwise the DBA creates it first, as docs/postgresql.md
-- says, and a missing role stops the migration with that advice.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reliatic_server') THEN
        IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE reliatic_server NOLOGIN NOSUPERUSER NOBYPASSRLS;
        ELSE
            RAISE EXCEPTION 'role reliatic_server does not exist'
                USING HINT = 'Create it as docs/postgresql.md says (CREATE ROLE reliatic_server NOLOGIN), then start again.';
        END IF;
    END IF;
END
$$;

-- == Control tables: shared by every tenant; Citus reference tables (docs/scale-out.md) ==

CREATE TABLE tenants (
    id                    text PRIMARY KEY,
    slug                  text NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
    name                  text NOT NULL,
    rate_limit_per_minute integer,
    disabled_at           timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id                    text PRIMARY KEY,
    tenant_id             text NOT NULL REFERENCES tenants (id),
    name                  text NOT NULL,
    prefix                text NOT NULL,
    -- SHA-256 of the full key; the key itself is never stored (SPEC §4).
    key_hash              bytea NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE,
    level                 text NOT NULL CHECK (level IN ('read_only', 'read_write')),
    permissions           jsonb NOT NULL,
    rate_limit_per_minute integer,
    created_by            text,
    created_at            timestamptz NOT NULL,
    expires_at            timestamptz,
    last_used_at          timestamptz,
    revoked_at            timestamptz
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- A login form has only an email and a password, so an email names one user in one tenant:
-- unique across every tenant, compared without case (SQLite: COLLATE NOCASE).
CREATE TABLE users (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (id),
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'engineer')),
    password_hash text NOT NULL,
    created_by    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_by_tenant ON users (tenant_id, id);

CREATE TABLE sessions (
    id           text PRIMARY KEY,
    token_hash   bytea NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    user_id      text NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

CREATE TABLE invitations (
    id          text PRIMARY KEY,
    token_hash  bytea NOT NULL CONSTRAINT invitations_token_hash_key UNIQUE,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    email       text,
    role        text NOT NULL CHECK (role IN ('admin', 'engineer')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     text REFERENCES users (id)
);

CREATE INDEX invitations_by_tenant ON invitations (tenant_id, id);

-- The audit chain of acts on control data, one chain per tenant (SQLite: control.db's
-- audit_log/audit_head). `changes` is the JSON text exactly as hashed: text, not jsonb,
-- which would reorder its keys and break the chain.
CREATE TABLE control_audit_log (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    seq         bigint NOT NULL,
    id          text NOT NULL CONSTRAINT control_audit_log_id_key UNIQUE,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    address     text,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    changes     text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX control_audit_log_by_at ON control_audit_log (tenant_id, at, seq);

CREATE TABLE control_audit_head (
    tenant_id text PRIMARY KEY REFERENCES tenants (id),
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

-- Authentication remembers a key's row while the control data has not changed (ports
-- ControlStore.remembered). On SQLite, PRAGMA data_version says so; here this one row does:
-- every change to tenants or api_keys bumps it in the changing transaction, and a node reads
-- it once per request. A revocation or a disabled tenant through any node (or `reliatic` on
-- any host) is therefore seen by every node on its next request, for one indexed read of one
-- row. Why not the alternatives: a sequence (nextval) moves before its transaction commits,
-- so a reader could remember the old row under the new number and never look again;
-- LISTEN/NOTIFY arrives asynchronously, after the next request may already have been let in.
CREATE TABLE control_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);

INSERT INTO control_version (only_row, version) VALUES (true, 1);

CREATE FUNCTION bump_control_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE control_version SET version = version + 1 WHERE only_row;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION bump_control_version();
CREATE TRIGGER api_keys_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bump_control_version();

GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenants, api_keys, users, sessions, invitations, control_audit_log, control_audit_head
    TO reliatic_server;
GRANT SELECT, UPDATE ON control_version TO reliatic_server;

-- == Tenant tables: every row carries tenant_id, isolated by row level security ==

-- The audit chain of acts on one tenant's own data (SQLite: the tenant file's audit_log):
-- webhook subscriptions created, changed, rotated, removed, or disabled by the scheduler.
CREATE TABLE audit_log (
    tenant_id   text NOT NULL,
    seq         bigint NOT NULL,
    id          text NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    address     text,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    changes     text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT audit_log_id_key UNIQUE (tenant_id, id)
);

CREATE INDEX audit_log_by_at ON audit_log (tenant_id, at, seq);

-- The chain's newest (seq, hash): one row per tenant.
CREATE TABLE audit_head (
    tenant_id text NOT NULL PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO reliatic_server;

ALTER TABLE audit_head ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_head FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_head
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_head TO reliatic_server;
