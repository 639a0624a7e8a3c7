-- Assets (SPEC §5) and their maintained counts: the final shape of
-- SQLite's tenant/0001 and 0005, with every tenant's rows in one table under RLS.
--
-- Text that lists sort or page by is COLLATE "C": byte order, as SQLite's BINARY compares
-- it (and ids, which the default order and the `after` cursor compare, the same way).
-- Indexes that serve a sort declare it NULLS FIRST, the order SQLite gives NULLs
-- (postgresql/listing.py orders `ASC NULLS FIRST` / `DESC NULLS LAST`).
--
-- Under FORCE ROW LEVEL SECURITY only LEAKPROOF conditions (plain comparisons of a column
-- with a value) can use an index for the server's role (postgresql/listing.py). Hence
-- `tag_key` below rather than an index on lower(tag_number), and no index for `search`:
-- SQLite's FTS5 trigram table has no counterpart here that RLS would let a query use
-- (LIKE and pg_trgm's operators are not LEAKPROOF), so `search` is a filter on the rows
-- the other conditions leave, in the list's order (postgresql/assets.py). (Until 0005,
-- which gives search a trigram index through a function that may use it.)

CREATE TABLE assets (
    tenant_id                  text NOT NULL,
    id                         text COLLATE "C" NOT NULL,
    tag_number                 text COLLATE "C" NOT NULL,
    -- Plant tags are case-insensitive identifiers: V-101 and v-101 are one vessel. The tag
    -- as SQLite's NOCASE compares it (A-Z folded, nothing else; listing.fold in Python),
    -- kept by the database itself; never in a row the stores return.
    tag_key                    text COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (lower(tag_number COLLATE "C")) STORED,
    name                       text COLLATE "C" NOT NULL,
    asset_type                 text NOT NULL,
    description                text COLLATE "C",
    status                     text NOT NULL DEFAULT 'active',
    location                   text,
    unit                       text,
    manufacturer               text,
    material                   text,
    install_date               date,
    design_pressure_kpa        double precision,
    design_temperature_c       double precision,
    nominal_thickness_mm       double precision,
    required_thickness_mm      double precision,
    corrosion_allowance_mm     double precision,
    criticality                text,
    -- Computed fields (SPEC §5/§6), kept up to date by the writes that change them so a
    -- list of 100 assets reads them without a join.
    risk_ranking               text,
    last_inspection_date       date,
    corrosion_rate_mm_per_year double precision,
    remaining_life_years       double precision,
    next_inspection_due        date,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One tag per tenant, whatever its case; named for tag_number, the column a conflict names
-- (postgresql/errors.py). NULLS FIRST, as the tag sort orders (the column has none).
CREATE UNIQUE INDEX assets_tag_number_key ON assets (tenant_id, tag_key NULLS FIRST);

CREATE INDEX assets_by_status ON assets (tenant_id, status, id);
CREATE INDEX assets_by_type ON assets (tenant_id, asset_type, id);
-- Both list filters at once, in id order: a page of inactive vessels is a seek.
CREATE INDEX assets_by_type_status ON assets (tenant_id, asset_type, status, id);
CREATE INDEX assets_by_updated ON assets (tenant_id, updated_at NULLS FIRST, id);
CREATE INDEX assets_by_created ON assets (tenant_id, created_at NULLS FIRST, id);

-- How many assets of a tenant have each (status, asset_type): `meta.total` of a list
-- filtered only by those (or by nothing) is a sum over at most 15 rows instead of a COUNT.
-- Kept by triggers, so it changes in the same transaction as the rows, whoever writes them
-- (the server, the CLI's import, `storage copy`). Inserts and deletes are counted once per
-- statement from transition tables (a bulk import of 100k assets adds 15 rows' worth of
-- work, not 100k); an update only when it moves a row between cells, which the API's
-- writes seldom do. Writers of one tenant are serialised by its advisory lock, so the
-- read-modify-write of a cell never races.
CREATE TABLE asset_counts (
    tenant_id  text NOT NULL,
    status     text NOT NULL,
    asset_type text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, status, asset_type)
);

CREATE FUNCTION asset_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_counts AS c (tenant_id, status, asset_type, n)
        SELECT tenant_id, status, asset_type, COUNT(*) FROM inserted
            GROUP BY tenant_id, status, asset_type
        ON CONFLICT (tenant_id, status, asset_type) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_counts AS c SET n = c.n - d.n
        FROM (SELECT tenant_id, status, asset_type, COUNT(*) AS n FROM deleted
                GROUP BY tenant_id, status, asset_type) AS d
        WHERE c.tenant_id = d.tenant_id AND c.status = d.status
            AND c.asset_type = d.asset_type;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND status = OLD.status
            AND asset_type = OLD.asset_type;
    INSERT INTO asset_counts AS c (tenant_id, status, asset_type, n)
        VALUES (NEW.tenant_id, NEW.status, NEW.asset_type, 1)
        ON CONFLICT (tenant_id, status, asset_type) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER asset_counts_insert AFTER INSERT ON assets
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION asset_counts_inserted();

CREATE TRIGGER asset_counts_delete AFTER DELETE ON assets
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION asset_counts_deleted();

CREATE TRIGGER asset_counts_update AFTER UPDATE OF status, asset_type, tenant_id ON assets
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.asset_type IS DISTINCT FROM NEW.asset_type
        OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
    EXECUTE FUNCTION asset_counts_moved();

ALTER TABLE assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE assets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assets
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON assets TO reliatic_server;

ALTER TABLE asset_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE asset_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON asset_counts
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON asset_counts TO reliatic_server;
