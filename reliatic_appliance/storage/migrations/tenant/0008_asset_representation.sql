-- reliatic: foreign_keys off
-- Each asset's JSON representation, made by SQLite when the row is written rather than on
-- every read of a list page (issue 16): building 25 rows' JSON from 24 columns each was
-- two thirds of a page's time in SQLite (make bench, "list 25"). A STORED generated column
-- is rewritten by SQLite itself on every INSERT and UPDATE, whoever writes (the server, the
-- CLI's import, a restore), so it can never disagree with the columns it is made of. Same
-- keys, same order, same values as `storage/assets.py` COLUMNS (tests/test_asset_listing.py).
--
-- SQLite cannot add a STORED column to a table, so the table is rebuilt (the procedure of
-- https://www.sqlite.org/lang_altertable.html#otheralter): rows keep their rowids, which the
-- `asset_search` index follows, and the indexes and triggers the old table had are made
-- again. Foreign keys are off while this runs (the first line tells storage/migrate.py),
-- and checked before it commits.

CREATE TABLE assets_rebuilt (
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
    updated_at                 TEXT NOT NULL,
    representation             TEXT GENERATED ALWAYS AS (json_object(
        'id', id,
        'tag_number', tag_number,
        'name', name,
        'asset_type', asset_type,
        'description', description,
        'status', status,
        'location', location,
        'unit', unit,
        'manufacturer', manufacturer,
        'material', material,
        'install_date', install_date,
        'design_pressure_kpa', design_pressure_kpa,
        'design_temperature_c', design_temperature_c,
        'nominal_thickness_mm', nominal_thickness_mm,
        'required_thickness_mm', required_thickness_mm,
        'corrosion_allowance_mm', corrosion_allowance_mm,
        'criticality', criticality,
        'risk_ranking', risk_ranking,
        'last_inspection_date', last_inspection_date,
        'corrosion_rate_mm_per_year', corrosion_rate_mm_per_year,
        'remaining_life_years', remaining_life_years,
        'next_inspection_due', next_inspection_due,
        'created_at', created_at,
        'updated_at', updated_at
    )) STORED
);

INSERT INTO assets_rebuilt (
    rowid, id, tag_number, name, asset_type, description, status, location, unit,
    manufacturer, material, install_date, design_pressure_kpa, design_temperature_c,
    nominal_thickness_mm, required_thickness_mm, corrosion_allowance_mm, criticality,
    risk_ranking, last_inspection_date, corrosion_rate_mm_per_year, remaining_life_years,
    next_inspection_due, created_at, updated_at
)
SELECT
    rowid, id, tag_number, name, asset_type, description, status, location, unit,
    manufacturer, material, install_date, design_pressure_kpa, design_temperature_c,
    nominal_thickness_mm, required_thickness_mm, corrosion_allowance_mm, criticality,
    risk_ranking, last_inspection_date, corrosion_rate_mm_per_year, remaining_life_years,
    next_inspection_due, created_at, updated_at
FROM assets;

DROP TABLE assets;
ALTER TABLE assets_rebuilt RENAME TO assets;

-- What 0001 and 0005 made on the old table, unchanged.
CREATE INDEX assets_by_status ON assets (status, id);
CREATE INDEX assets_by_type ON assets (asset_type, id);
CREATE INDEX assets_by_updated ON assets (updated_at, id);
CREATE INDEX assets_by_created ON assets (created_at, id);
CREATE INDEX assets_by_type_status ON assets (asset_type, status, id);

CREATE TRIGGER asset_counts_insert AFTER INSERT ON assets BEGIN
    INSERT INTO asset_counts (status, asset_type, n) VALUES (new.status, new.asset_type, 1)
        ON CONFLICT (status, asset_type) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER asset_counts_delete AFTER DELETE ON assets BEGIN
    UPDATE asset_counts SET n = n - 1
        WHERE status = old.status AND asset_type = old.asset_type;
END;

CREATE TRIGGER asset_counts_update AFTER UPDATE OF status, asset_type ON assets
    WHEN old.status IS NOT new.status OR old.asset_type IS NOT new.asset_type
BEGIN
    UPDATE asset_counts SET n = n - 1
        WHERE status = old.status AND asset_type = old.asset_type;
    INSERT INTO asset_counts (status, asset_type, n) VALUES (new.status, new.asset_type, 1)
        ON CONFLICT (status, asset_type) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER asset_search_insert AFTER INSERT ON assets BEGIN
    INSERT INTO asset_search (rowid, tag_number, description)
        VALUES (new.rowid, lower(new.tag_number), lower(new.description));
END;

CREATE TRIGGER asset_search_delete AFTER DELETE ON assets BEGIN
    DELETE FROM asset_search WHERE rowid = old.rowid;
END;

CREATE TRIGGER asset_search_update AFTER UPDATE OF tag_number, description ON assets
    WHEN old.tag_number IS NOT new.tag_number OR old.description IS NOT new.description
BEGIN
    DELETE FROM asset_search WHERE rowid = old.rowid;
    INSERT INTO asset_search (rowid, tag_number, description)
        VALUES (new.rowid, lower(new.tag_number), lower(new.description));
END;
