-- Idempotency-Key records (SPEC §3): the first response to a POST, replayed for 24 h.
CREATE TABLE idempotency_keys (
    -- Keys are scoped per API key (or user): two integrations may pick the same key.
    principal     TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    -- SHA-256 of the request body: the same key with another body is a 409.
    request_hash  BLOB NOT NULL,
    -- 'in_progress' while the first request runs, 'done' once its response is stored.
    state         TEXT NOT NULL,
    status        INTEGER,
    headers       TEXT,
    body          BLOB,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
