-- The audit log of acts on this tenant's own file (SPEC §5): webhook subscriptions created,
-- changed, rotated, removed, or disabled by the scheduler. Written in the act's transaction;
-- hash-chained as control.db's audit_log is (see control/0003_audit_log.sql).
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    address     TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    changes     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

-- The chain's newest (seq, hash), one row (see control/0003_audit_log.sql).
CREATE TABLE audit_head (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    seq      INTEGER NOT NULL,
    hash     TEXT NOT NULL
);
