-- The event feed, webhook subscriptions, the delivery outbox, its attempt log, and the
-- Idempotency-Key records (SPEC §3, §7): the final shapes of the SQLite tenant migrations
-- 0001 (events), 0003 (webhooks), 0004 (idempotency) and 0007 (the pending index), one
-- database for every tenant. Rules (docs/scale-out.md): `tenant_id` leads every key and
-- index, foreign keys carry it, and row level security is the backstop when SQL forgets its
-- `WHERE tenant_id`. No triggers: the stores (storage/postgresql/events.py, webhooks.py,
-- idempotency.py) do all the bookkeeping these tables need. Ids are `COLLATE "C"`: they
-- order byte-wise, as SQLite orders them (listing.py).

-- Every emitted event, written in the same transaction as the change. The id is the feed's
-- `after` cursor and must increase within a tenant: one identity for all tenants is enough,
-- because a tenant's writes are serialised by its advisory lock (database.py), so a tenant's
-- ids are taken, and become visible, in commit order.
CREATE TABLE events (
    tenant_id     text NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    type          text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    -- The compact JSON text the store wrote, kept as text (not jsonb, which would re-space
    -- it): a webhook sender splices it into the body as it is (scheduler/claim.py).
    data          text NOT NULL,
    actor         text,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_by_type ON events (tenant_id, type, id);
CREATE INDEX events_by_created ON events (tenant_id, created_at);

CREATE TABLE webhooks (
    tenant_id                  text NOT NULL,
    id                         text COLLATE "C" NOT NULL,
    url                        text NOT NULL,
    -- JSON array of event types, as text (the store decodes it, as the SQLite one does).
    events                     text NOT NULL,
    description                text,
    enabled                    boolean NOT NULL DEFAULT true,
    -- AES-GCM ciphertexts sealed by the services (secretbox.py); never the secret in clear.
    secret_enc                 bytea NOT NULL,
    -- During a rotation both secrets sign until previous_secret_expires_at (24 h).
    previous_secret_enc        bytea,
    previous_secret_expires_at timestamptz,
    disabled_reason            text,
    -- Deliveries in a row that ended `failed`; 20 disables the subscription (SPEC §7).
    consecutive_failures       integer NOT NULL DEFAULT 0,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The outbox: one row per (event, subscription), written in the event's transaction.
-- Claimed with FOR UPDATE SKIP LOCKED and a lease (storage/postgresql/webhooks.py).
CREATE TABLE webhook_deliveries (
    tenant_id       text NOT NULL,
    id              text COLLATE "C" NOT NULL,
    webhook_id      text COLLATE "C" NOT NULL,
    -- NULL for a `ping`, whose payload is kept here instead.
    event_id        bigint,
    event_type      text NOT NULL,
    payload         text,
    status          text NOT NULL DEFAULT 'pending',
    -- All attempts ever made, and those of the current retry cycle (a manual redelivery
    -- starts a new one; the retry schedule indexes by it).
    attempts        integer NOT NULL DEFAULT 0,
    cycle_attempts  integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    -- Whoever holds an unexpired lease is sending it; nobody else may.
    lease_owner     text,
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_deliveries_event_id_key UNIQUE (tenant_id, event_id, webhook_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (tenant_id, status, next_attempt_at, id);
-- A subscription's log, newest first: `created_at DESC NULLS LAST, id DESC` is what the list
-- builder asks for (SQLite's NULL order), which only a NULLS FIRST column serves, backwards.
CREATE INDEX webhook_deliveries_by_webhook
    ON webhook_deliveries (tenant_id, webhook_id, created_at NULLS FIRST, id);
CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (tenant_id, created_at);
-- The backlog only, by age: /metrics reads the oldest pending one at every scrape.
CREATE INDEX webhook_deliveries_pending
    ON webhook_deliveries (tenant_id, created_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    tenant_id   text NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id text COLLATE "C" NOT NULL,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    http_status integer,
    error       text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (tenant_id, delivery_id, attempt);

-- Idempotency-Key records (SPEC §3): the first response to a POST, replayed for 24 h, on
-- every node (they all read this table). Keys are scoped per API key (or user).
CREATE TABLE idempotency_keys (
    tenant_id    text NOT NULL,
    principal    text NOT NULL,
    idem_key     text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    -- SHA-256 of the request body: the same key with another body is a 409.
    request_hash bytea NOT NULL,
    -- in_progress -> applied (in the work's transaction) -> done (response stored).
    state        text NOT NULL,
    status       integer,
    headers      text,
    body         bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, principal, idem_key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (tenant_id, created_at);

-- Row level security: a transaction sees and writes only the rows of the tenant it set
-- (`set_config('app.tenant_id', ..., true)` in database.py), even when SQL forgets.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON events TO reliatic_server;

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhooks
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO reliatic_server;

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO reliatic_server;

ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_attempts TO reliatic_server;

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO reliatic_server;
