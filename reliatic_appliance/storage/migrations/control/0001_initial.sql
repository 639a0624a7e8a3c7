-- control.db: tenants and the API keys that reach them (SPEC §8).
CREATE TABLE tenants (
    id                    TEXT PRIMARY KEY,
    slug                  TEXT NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    rate_limit_per_minute INTEGER,
    disabled_at           TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);

CREATE TABLE api_keys (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    name                  TEXT NOT NULL,
    prefix                TEXT NOT NULL,
    -- SHA-256 of the full key; the key itself is never stored (SPEC §4).
    key_hash              BLOB NOT NULL UNIQUE,
    level                 TEXT NOT NULL CHECK (level IN ('read_only', 'read_write')),
    permissions           TEXT NOT NULL,
    rate_limit_per_minute INTEGER,
    created_by            TEXT,
    created_at            TEXT NOT NULL,
    expires_at            TEXT,
    last_used_at          TEXT,
    revoked_at            TEXT
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);
