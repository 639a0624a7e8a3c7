-- One tenant's file: assets and the event feed (SPEC §5, §7).
CREATE TABLE assets (
    id                         TEXT PRIMARY KEY,
    -- Plant tags are case-insensitive identifiers: V-101 and v-101 are one vessel.
    tag_number                 TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                       TEXT NOT NULL,
    asset_type                 TEXT NOT NULL,
    description                TEXT,
    status                     TEXT NOT NULL DEFAULT 'active',
    location                   TEXT,
    unit                       TEXT,
    manufacturer               TEXT,
    material                   TEXT,
    install_date               TEXT,
    design_pressure_kpa        REAL,
    design_temperature_c       REAL,
    nominal_thickness_mm       REAL,
    required_thickness_mm      REAL,
    corrosion_allowance_mm     REAL,
    criticality                TEXT,
    -- Computed fields (SPEC §5/§6), kept up to date by the writes that change them so a
    -- list of 100 assets reads them without a join.
    risk_ranking               TEXT,
    last_inspection_date       TEXT,
    corrosion_rate_mm_per_year REAL,
    remaining_life_years       REAL,
    next_inspection_due        TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);

CREATE INDEX assets_by_status ON assets (status, id);
CREATE INDEX assets_by_type ON assets (asset_type, id);
CREATE INDEX assets_by_updated ON assets (updated_at, id);
CREATE INDEX assets_by_created ON assets (created_at, id);

-- Every emitted event, in the same transaction as the change (SPEC §7). The integer id
-- increases monotonically, so it is also the `after` cursor of the feed.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    data          TEXT NOT NULL,
    actor         TEXT,
    created_at    TEXT NOT NULL
);

CREATE INDEX events_by_type ON events (type, id);
