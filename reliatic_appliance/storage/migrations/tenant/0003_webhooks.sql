-- Webhook subscriptions, the delivery outbox and its attempt log (SPEC §7).

CREATE TABLE webhooks (
    id                       TEXT PRIMARY KEY,
    url                      TEXT NOT NULL,
    -- JSON array of event types.
    events                   TEXT NOT NULL,
    description              TEXT,
    enabled                  INTEGER NOT NULL DEFAULT 1,
    -- AES-GCM ciphertexts (secretbox.py); the secret is never stored in clear.
    secret_enc               BLOB NOT NULL,
    -- During a rotation both secrets sign until previous_secret_expires_at (24 h).
    previous_secret_enc      BLOB,
    previous_secret_expires_at TEXT,
    disabled_reason          TEXT,
    -- Deliveries in a row that ended `failed`; 20 disables the subscription (SPEC §7).
    consecutive_failures     INTEGER NOT NULL DEFAULT 0,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);

-- The outbox: one row per (event, subscription), written in the event's transaction.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id        INTEGER REFERENCES events(id) ON DELETE CASCADE,
    -- `ping` deliveries have no event row; their payload is kept here.
    event_type      TEXT NOT NULL,
    payload         TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    -- All attempts ever made (the log), and those of the current retry cycle, which a
    -- manual redelivery starts afresh (the retry schedule indexes by the latter).
    attempts        INTEGER NOT NULL DEFAULT 0,
    cycle_attempts  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- A claim: whoever holds an unexpired lease is sending it; nobody else may.
    lease_owner     TEXT,
    lease_until     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    completed_at    TEXT,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  REAL NOT NULL,
    http_status  INTEGER,
    error        TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
CREATE INDEX events_by_created ON events (created_at);
