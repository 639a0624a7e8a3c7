-- `search` over assets through an index (SPEC §5: substring, case-insensitive, over
-- tag_number and description), the counterpart of SQLite's FTS5 trigram table (tenant/0005).
--
-- Why a function and a role of its own: under FORCE ROW LEVEL SECURITY a condition can use
-- an index only if it is LEAKPROOF (postgresql/listing.py), and LIKE and pg_trgm's operators
-- are not; so for the server's role no index can serve LIKE, and a search read every asset
-- of the tenant (about 40 ms for 100k, twice per request). `asset_search_ids(term)` runs
-- as `reliatic_search`, a NOLOGIN role with BYPASSRLS and nothing but SELECT on assets, where
-- the trigram index below can serve LIKE. What keeps it to one tenant:
-- - it reads the tenant from `app.tenant_id`, the very setting the policies compare with,
--   and matches `tenant_id =` that value (no setting: NULL: no row), so it gives the caller
--   nothing the policies would not;
-- - it returns ids only, and the caller reads the rows through the policies as ever
--   (postgresql/assets.py: `id IN (SELECT asset_search_ids(…))`), so even a wrong id would
--   bring back no other tenant's row.
-- The server's role still owns nothing and has no BYPASSRLS (tests/test_pg_rls.py).
--
-- `reliatic_search` needs a superuser to create (BYPASSRLS); the migrating role must be a
-- member, to hand the function over. docs/postgresql.md gives the DBA's two statements; a
-- superuser running this migration does both itself.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reliatic_search') THEN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE reliatic_search NOLOGIN BYPASSRLS;
        ELSE
            RAISE EXCEPTION 'role reliatic_search does not exist'
                USING HINT = 'As a superuser: CREATE ROLE reliatic_search NOLOGIN BYPASSRLS; GRANT reliatic_search TO '
                    || current_user || '; then start again (docs/postgresql.md).';
        END IF;
    END IF;
    IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'reliatic_search') THEN
        RAISE EXCEPTION 'role reliatic_search has no BYPASSRLS'
            USING HINT = 'As a superuser: ALTER ROLE reliatic_search BYPASSRLS (docs/postgresql.md).';
    END IF;
    IF NOT pg_has_role(current_user, 'reliatic_search', 'MEMBER') THEN
        RAISE EXCEPTION 'role % is not a member of reliatic_search', current_user
            USING HINT = 'As a superuser: GRANT reliatic_search TO ' || current_user
                || ' (docs/postgresql.md).';
    END IF;
END
$$;

-- Both are trusted extensions (PostgreSQL 13+): the database's owner may create them; both
-- ship with PostgreSQL itself (Debian's postgresql-15). btree_gin lets tenant_id lead the
-- index, as it leads every index here (docs/scale-out.md), and keeps each tenant's trigram
-- lists apart.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The text the index holds: folded as SQLite's lower() folds (A-Z only, listing.FOLDED),
-- with ASCII punctuation written as a letter. pg_trgm splits words at anything that is not
-- a letter or digit, so a tag fragment such as `e-6` would leave it no trigram to look up
-- (every asset a candidate); as `ex6` it has one. The index only finds candidates: the
-- per-column LIKE in asset_search_ids is the answer, so what the mapping makes alike costs
-- a recheck, never a wrong row.
CREATE FUNCTION asset_search_text(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT translate(lower($1 COLLATE "C"), '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')
$$;

-- Kept in the row, made once per write: the index's recheck reads it rather than mapping
-- every candidate's text again (translate() costs several µs a row; a common term has
-- 100k candidates). The tag, a unit separator (never mapped, so no trigram spans it), the
-- description. Never in a row the stores return (they name their columns).
ALTER TABLE assets ADD COLUMN search_text text NOT NULL
    GENERATED ALWAYS AS (
        asset_search_text(tag_number) || E'\x1f' || asset_search_text(coalesce(description, ''))
    ) STORED;

CREATE INDEX assets_search ON assets USING gin (tenant_id, search_text gin_trgm_ops);

GRANT SELECT ON assets TO reliatic_search;

-- The ids of the current tenant's assets whose tag or description contains `term`, case
-- folded as SQLite's LIKE folds (SPEC §5 search; the rows listing.contains_any finds).
-- `search_text` finds candidates through the index; the per-column LIKE is the answer.
-- EXECUTE plans each call with its values, so the index is chosen for a rare term and not
-- for a common one.
CREATE FUNCTION asset_search_ids(term text) RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    ROWS 100
AS $function$
DECLARE
    -- LIKE's wildcards and escape in the term are literal.
    exact text := '%' || replace(replace(replace(lower(term COLLATE "C"),
        '\', '\\'), '%', '\%'), '_', '\_') || '%';
    -- No wildcard is left in the mapped term: %, _ and \ are punctuation.
    mapped text := '%' || public.asset_search_text(term) || '%';
BEGIN
    RETURN QUERY EXECUTE
        $query$
        SELECT id::text FROM public.assets
        WHERE tenant_id = $3
            AND search_text LIKE $2
            AND (lower(tag_number COLLATE "C") LIKE $1 ESCAPE '\'
                OR lower(description COLLATE "C") LIKE $1 ESCAPE '\')
        $query$
        USING exact, mapped, current_setting('app.tenant_id', true);
END
$function$;

-- Handing the function over needs CREATE on its schema for the new owner, only for the
-- moment of the ALTER.
GRANT CREATE ON SCHEMA public TO reliatic_search;
ALTER FUNCTION asset_search_ids(text) OWNER TO reliatic_search;
REVOKE CREATE ON SCHEMA public FROM reliatic_search;
REVOKE ALL ON FUNCTION asset_search_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION asset_search_ids(text) TO reliatic_server;
