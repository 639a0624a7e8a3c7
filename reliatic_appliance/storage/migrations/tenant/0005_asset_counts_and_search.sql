-- Cheap, never-wrong list totals and an index for `search` over assets (issue 7).
-- Both are kept in step by triggers, so they change in the same transaction as the row,
-- whoever writes it (the server, the CLI's import, a restore).

-- How many assets have each (status, asset_type): `meta.total` of a list filtered only by
-- those (or by nothing) is a sum over at most 15 rows instead of a COUNT over 100k.
CREATE TABLE asset_counts (
    status     TEXT NOT NULL,
    asset_type TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (status, asset_type)
) WITHOUT ROWID;

INSERT INTO asset_counts (status, asset_type, n)
    SELECT status, asset_type, COUNT(*) FROM assets GROUP BY status, asset_type;

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

-- Both list filters at once (SPEC §5 `type` and `status`), in id order: a page of a rare
-- combination (inactive vessels) is a seek, not a walk over every vessel checking status.
CREATE INDEX assets_by_type_status ON assets (asset_type, status, id);

-- `search` (SPEC §5: case-insensitive substring of tag_number or description). The text is
-- indexed as SQLite's lower() gives it (ASCII letters folded, nothing else), trigram-split
-- and case-sensitive, so a MATCH of the ASCII-lowered term finds exactly the rows the
-- `LIKE '%term%'` it replaces finds: no superset to re-check, no Unicode folding LIKE
-- would not do. Terms under 3 characters have no trigram; they still use LIKE.
-- The index follows assets by rowid; nothing in the appliance runs VACUUM (which may
-- renumber rowids of a table without an INTEGER PRIMARY KEY). Should one ever be run:
-- DELETE FROM asset_search; then the INSERT … SELECT below again.
CREATE VIRTUAL TABLE asset_search USING fts5(
    tag_number, description, tokenize = 'trigram case_sensitive 1'
);

INSERT INTO asset_search (rowid, tag_number, description)
    SELECT rowid, lower(tag_number), lower(description) FROM assets;

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
