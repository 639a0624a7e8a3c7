-- Inspections, FMEA, actions, RBI, MOC and alerts (SPEC §5, §6).
-- Assets are never deleted (soft delete), so references to them need no ON DELETE rule.

CREATE TABLE inspections (
    id                        TEXT PRIMARY KEY,
    asset_id                  TEXT NOT NULL REFERENCES assets(id),
    inspection_type           TEXT NOT NULL,
    inspection_date           TEXT NOT NULL,
    inspector_name            TEXT NOT NULL,
    coverage_percent          REAL,
    status                    TEXT NOT NULL DEFAULT 'completed',
    findings                  TEXT,
    min_measured_thickness_mm REAL,
    effectiveness             TEXT NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);
-- The corrosion rules read an asset's completed readings in date order.
CREATE INDEX inspections_by_asset_date ON inspections (asset_id, inspection_date, id);
CREATE INDEX inspections_by_date ON inspections (inspection_date, id);
CREATE INDEX inspections_by_type ON inspections (inspection_type, id);
CREATE INDEX inspections_by_updated ON inspections (updated_at, id);

CREATE TABLE failure_modes (
    id                TEXT PRIMARY KEY,
    asset_id          TEXT NOT NULL REFERENCES assets(id),
    description       TEXT NOT NULL,
    severity          INTEGER NOT NULL,
    occurrence        INTEGER NOT NULL,
    detection         INTEGER NOT NULL,
    rpn               INTEGER NOT NULL,
    priority          TEXT NOT NULL,
    action_priority   TEXT NOT NULL,
    failure_mechanism TEXT,
    effect            TEXT,
    cause             TEXT,
    current_controls  TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX failure_modes_by_asset ON failure_modes (asset_id, id);
CREATE INDEX failure_modes_by_rpn ON failure_modes (rpn, id);
CREATE INDEX failure_modes_by_updated ON failure_modes (updated_at, id);

CREATE TABLE actions (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    description      TEXT,
    priority         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open',
    asset_id         TEXT REFERENCES assets(id),
    failure_mode_id  TEXT REFERENCES failure_modes(id) ON DELETE SET NULL,
    inspection_id    TEXT REFERENCES inspections(id),
    assignee_id      TEXT,
    due_date         TEXT,
    -- Highest SLA escalation level already raised (SPEC §7), so each level fires once.
    escalation_level INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX actions_by_status ON actions (status, id);
CREATE INDEX actions_by_asset ON actions (asset_id, id);
CREATE INDEX actions_by_failure_mode ON actions (failure_mode_id);
CREATE INDEX actions_by_inspection ON actions (inspection_id);
CREATE INDEX actions_by_due ON actions (due_date, id);
CREATE INDEX actions_by_updated ON actions (updated_at, id);

CREATE TABLE action_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id   TEXT NOT NULL REFERENCES actions(id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    comment     TEXT,
    at          TEXT NOT NULL,
    by          TEXT
);
CREATE INDEX action_history_by_action ON action_history (action_id, id);

CREATE TABLE risk_assessments (
    id                     TEXT PRIMARY KEY,
    asset_id               TEXT NOT NULL REFERENCES assets(id),
    probability_of_failure INTEGER NOT NULL,
    consequence_of_failure INTEGER NOT NULL,
    risk_score             INTEGER NOT NULL,
    risk_ranking           TEXT NOT NULL,
    assessed_by            TEXT,
    assessment_date        TEXT NOT NULL,
    damage_mechanisms      TEXT,
    notes                  TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
-- "Newest" = latest assessment_date, then latest created (SPEC §5).
CREATE INDEX risk_assessments_newest ON risk_assessments (asset_id, assessment_date, created_at);
CREATE INDEX risk_assessments_by_ranking ON risk_assessments (risk_ranking, id);
CREATE INDEX risk_assessments_by_updated ON risk_assessments (updated_at, id);

CREATE TABLE mocs (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT,
    asset_id     TEXT REFERENCES assets(id),
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'draft',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX mocs_by_status ON mocs (status, id);
CREATE INDEX mocs_by_asset ON mocs (asset_id, id);
CREATE INDEX mocs_by_updated ON mocs (updated_at, id);

CREATE TABLE moc_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    moc_id      TEXT NOT NULL REFERENCES mocs(id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    comment     TEXT,
    at          TEXT NOT NULL,
    by          TEXT
);
CREATE INDEX moc_history_by_moc ON moc_history (moc_id, id);

-- Raised by the scheduler (SLA escalation) and by webhook auto-disable (SPEC §7).
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    severity      TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    level         INTEGER,
    message       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (kind, resource_type, resource_id, level)
);
CREATE INDEX alerts_by_updated ON alerts (updated_at, id);
