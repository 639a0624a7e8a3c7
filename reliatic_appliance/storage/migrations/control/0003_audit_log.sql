-- The audit log of acts on control.db (SPEC §5): keys, users, invitations, logins, tenant
-- disable/enable, backup and restore. Each row is written in the transaction of its act.
-- One hash chain per tenant: `hash` = SHA-256 over the entry's canonical JSON, which includes
-- `prev_hash` (the previous entry's `hash` in the same chain, or 64 zeros for the first), so
-- an altered, removed or reordered row breaks the chain (`reliatic audit verify`).
CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    address     TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    -- JSON object: what changed; never a secret.
    changes     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Each chain's newest (seq, hash), written with every entry: a removed newest entry, which
-- the chain alone cannot show, leaves the head pointing past the end.
CREATE TABLE audit_head (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
);
