-- Inspections, FMEA, actions (and their SLA level), RBI, MOC, status histories and alerts
-- (SPEC §5, §6, §7): the final shape of storage/migrations/tenant/0002_reliability_domain.sql
-- on PostgreSQL, under the rules of docs/postgresql.md and scale-out.md: `tenant_id` first
-- in every key and index, foreign keys within one tenant, Row Level Security on every table.
-- Assets are never deleted (soft delete), so references to them need no ON DELETE rule.
-- As in 0002: ids, and the columns holding them, are COLLATE "C" (byte order, SQLite's
-- BINARY: the default order and the `after` cursor compare them); indexes that serve a sort
-- declare it NULLS FIRST, the order SQLite gives NULLs and postgresql/listing.py asks for.
-- No triggers: the SQLite file has none on these tables either; the stores do the work.

CREATE TABLE inspections (
    tenant_id                 text NOT NULL,
    id                        text COLLATE "C" NOT NULL,
    asset_id                  text COLLATE "C" NOT NULL,
    inspection_type           text NOT NULL,
    inspection_date           date NOT NULL,
    inspector_name            text NOT NULL,
    coverage_percent          double precision,
    status                    text NOT NULL DEFAULT 'completed',
    findings                  text,
    min_measured_thickness_mm double precision,
    effectiveness             text NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id)
);
-- The corrosion rules read an asset's completed readings in date order.
CREATE INDEX inspections_by_asset_date ON inspections (tenant_id, asset_id, inspection_date, id);
CREATE INDEX inspections_by_date ON inspections (tenant_id, inspection_date NULLS FIRST, id);
CREATE INDEX inspections_by_type ON inspections (tenant_id, inspection_type, id);
CREATE INDEX inspections_by_updated ON inspections (tenant_id, updated_at NULLS FIRST, id);

CREATE TABLE failure_modes (
    tenant_id         text NOT NULL,
    id                text COLLATE "C" NOT NULL,
    asset_id          text COLLATE "C" NOT NULL,
    description       text NOT NULL,
    severity          integer NOT NULL,
    occurrence        integer NOT NULL,
    detection         integer NOT NULL,
    rpn               integer NOT NULL,
    priority          text NOT NULL,
    action_priority   text NOT NULL,
    failure_mechanism text,
    effect            text,
    cause             text,
    current_controls  text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id)
);
CREATE INDEX failure_modes_by_asset ON failure_modes (tenant_id, asset_id, id);
CREATE INDEX failure_modes_by_rpn ON failure_modes (tenant_id, rpn NULLS FIRST, id);
CREATE INDEX failure_modes_by_updated ON failure_modes (tenant_id, updated_at NULLS FIRST, id);

CREATE TABLE actions (
    tenant_id        text NOT NULL,
    id               text COLLATE "C" NOT NULL,
    title            text NOT NULL,
    description      text,
    priority         text NOT NULL,
    status           text NOT NULL DEFAULT 'open',
    asset_id         text COLLATE "C",
    failure_mode_id  text COLLATE "C",
    inspection_id    text COLLATE "C",
    assignee_id      text,
    due_date         date,
    -- Highest SLA escalation level already raised (SPEC §7), so each level fires once.
    escalation_level integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id),
    -- Only the referencing column is cleared (PostgreSQL 15's column list): `tenant_id` stays.
    -- A backstop: PgFailureModes.delete_failure_mode clears it first, moving updated_at.
    FOREIGN KEY (tenant_id, failure_mode_id) REFERENCES failure_modes (tenant_id, id)
        ON DELETE SET NULL (failure_mode_id),
    FOREIGN KEY (tenant_id, inspection_id) REFERENCES inspections (tenant_id, id)
);
CREATE INDEX actions_by_status ON actions (tenant_id, status, id);
CREATE INDEX actions_by_asset ON actions (tenant_id, asset_id, id);
CREATE INDEX actions_by_failure_mode ON actions (tenant_id, failure_mode_id);
CREATE INDEX actions_by_inspection ON actions (tenant_id, inspection_id);
CREATE INDEX actions_by_due ON actions (tenant_id, due_date NULLS FIRST, id);
CREATE INDEX actions_by_updated ON actions (tenant_id, updated_at NULLS FIRST, id);

-- Insertion order is history order: the identity is per database, but writes of one tenant
-- are serialised by its advisory lock, so a tenant's ids still increase in commit order.
CREATE TABLE action_history (
    tenant_id   text NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    action_id   text COLLATE "C" NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    comment     text,
    at          timestamptz NOT NULL,
    "by"        text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, action_id) REFERENCES actions (tenant_id, id)
);
CREATE INDEX action_history_by_action ON action_history (tenant_id, action_id, id);

CREATE TABLE risk_assessments (
    tenant_id              text NOT NULL,
    id                     text COLLATE "C" NOT NULL,
    asset_id               text COLLATE "C" NOT NULL,
    probability_of_failure integer NOT NULL,
    consequence_of_failure integer NOT NULL,
    risk_score             integer NOT NULL,
    risk_ranking           text NOT NULL,
    assessed_by            text,
    assessment_date        date NOT NULL,
    damage_mechanisms      text,
    notes                  text,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id)
);
-- "Newest" = latest assessment_date, then latest created (SPEC §5).
CREATE INDEX risk_assessments_newest
    ON risk_assessments (tenant_id, asset_id, assessment_date, created_at);
CREATE INDEX risk_assessments_by_ranking ON risk_assessments (tenant_id, risk_ranking, id);
CREATE INDEX risk_assessments_by_updated
    ON risk_assessments (tenant_id, updated_at NULLS FIRST, id);

CREATE TABLE mocs (
    tenant_id    text NOT NULL,
    id           text COLLATE "C" NOT NULL,
    title        text NOT NULL,
    description  text,
    asset_id     text COLLATE "C",
    requested_by text NOT NULL,
    status       text NOT NULL DEFAULT 'draft',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id)
);
CREATE INDEX mocs_by_status ON mocs (tenant_id, status, id);
CREATE INDEX mocs_by_asset ON mocs (tenant_id, asset_id, id);
CREATE INDEX mocs_by_updated ON mocs (tenant_id, updated_at NULLS FIRST, id);

CREATE TABLE moc_history (
    tenant_id   text NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    moc_id      text COLLATE "C" NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    comment     text,
    at          timestamptz NOT NULL,
    "by"        text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, moc_id) REFERENCES mocs (tenant_id, id)
);
CREATE INDEX moc_history_by_moc ON moc_history (tenant_id, moc_id, id);

-- Raised by the scheduler (SLA escalation) and by webhook auto-disable (SPEC §7). One alert
-- per (kind, resource, level): PgAlerts.insert_alert relies on this key (ON CONFLICT). As in
-- SQLite, NULLs are distinct, so level-less alerts (webhook disabled) may repeat.
CREATE TABLE alerts (
    tenant_id     text NOT NULL,
    id            text COLLATE "C" NOT NULL,
    kind          text NOT NULL,
    severity      text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text COLLATE "C" NOT NULL,
    level         integer,
    message       text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT alerts_level_key UNIQUE (tenant_id, kind, resource_type, resource_id, level)
);
CREATE INDEX alerts_by_updated ON alerts (tenant_id, updated_at NULLS FIRST, id);

-- Row Level Security on every table above (SPEC §11): the tenant of the transaction only,
-- for reads and writes alike, even for SQL that forgets its WHERE tenant_id.
ALTER TABLE inspections ENABLE ROW LEVEL SECURITY;
ALTER TABLE inspections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inspections
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON inspections TO reliatic_server;

ALTER TABLE failure_modes ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure_modes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure_modes
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON failure_modes TO reliatic_server;

ALTER TABLE actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE actions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON actions
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON actions TO reliatic_server;

ALTER TABLE action_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE action_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON action_history
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON action_history TO reliatic_server;

ALTER TABLE risk_assessments ENABLE ROW LEVEL SECURITY;
ALTER TABLE risk_assessments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON risk_assessments
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON risk_assessments TO reliatic_server;

ALTER TABLE mocs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mocs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mocs
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON mocs TO reliatic_server;

ALTER TABLE moc_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE moc_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON moc_history
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON moc_history TO reliatic_server;

ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alerts
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON alerts TO reliatic_server;
