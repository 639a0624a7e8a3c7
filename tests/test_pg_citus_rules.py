"""The schema meets Citus's rules and the RLS design, read from pg_catalog (SPEC §11).

Citus is not in Debian 12's packages (docs/scale-out.md), so it cannot be run here; this test
shows instead that the migrated schema is what `create_distributed_table(t, 'tenant_id')`
(colocated) and `create_reference_table` accept, and that every tenant table carries the
isolation of pg-common.md:

- RLS ENABLEd and FORCEd, with a policy whose USING and WITH CHECK both compare tenant_id with
  current_setting('app.tenant_id');
- tenant_id leads the primary key, every unique constraint and unique index, every index,
  and every foreign key on both sides (a distributed table may also reference a control
  table: Citus allows distributed -> reference, never reference -> distributed).

Generic over pg_catalog: a table added later is checked without touching this file.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.pg_cluster import TEMPLATE_DB, PgCluster
from tests.test_pg_rls import CONTROL_TABLES

pytestmark = pytest.mark.postgresql_only

SETTING = "current_setting('app.tenant_id'"


def rows(cluster: PgCluster, sql: str) -> list[Any]:
    return cluster.execute(sql, dbname=TEMPLATE_DB)


def tenant_tables(cluster: PgCluster) -> list[str]:
    found = rows(
        cluster,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
        " AND NOT a.attisdropped"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
    return [name for (name,) in found if name not in CONTROL_TABLES]


def test_every_tenant_table_has_forced_rls_and_a_policy_on_the_tenant_setting(
    pg_cluster: PgCluster,
) -> None:
    tables = tenant_tables(pg_cluster)
    assert len(tables) >= 10, tables
    flags = dict(
        (name, (enabled, forced))
        for name, enabled, forced in rows(
            pg_cluster,
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace",
        )
    )
    policies: dict[str, list[tuple[str, str, str, str]]] = {}
    for table, cmd, permissive, qual, check in rows(
        pg_cluster,
        "SELECT tablename, cmd, permissive, qual, with_check FROM pg_policies"
        " WHERE schemaname = 'public'",
    ):
        policies.setdefault(table, []).append((cmd, permissive, qual or "", check or ""))
    problems = []
    for table in tables:
        if flags[table] != (True, True):
            problems.append(f"{table}: RLS enabled/forced = {flags[table]}")
        good = [
            p
            for p in policies.get(table, [])
            if p[0] == "ALL"
            and p[1] == "PERMISSIVE"
            and all("tenant_id" in expr and SETTING in expr for expr in (p[2], p[3]))
        ]
        if not good:
            problems.append(f"{table}: no ALL policy with USING and WITH CHECK on {SETTING}…)")
    print(f"\n{len(tables)} tenant tables, RLS forced with a tenant policy: {', '.join(tables)}")
    assert problems == []


def test_tenant_id_leads_every_key_index_and_foreign_key(pg_cluster: PgCluster) -> None:
    tables = set(tenant_tables(pg_cluster))
    problems = []
    # Primary keys, unique constraints and every index (unique or not) are all in pg_index.
    for table, index, unique, primary, first in rows(
        pg_cluster,
        "SELECT t.relname, i.relname, x.indisunique, x.indisprimary,"
        " (SELECT attname FROM pg_attribute WHERE attrelid = t.oid AND attnum = x.indkey[0])"
        " FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE t.relnamespace = 'public'::regnamespace",
    ):
        if table in tables and first != "tenant_id":
            kind = "primary key" if primary else "unique index" if unique else "index"
            problems.append(f"{table}: {kind} {index} leads with {first or 'an expression'}")
    primary_keys = {t for (t,) in rows(pg_cluster, "SELECT conrelid::regclass::text FROM"
                                       " pg_constraint WHERE contype = 'p'")}  # fmt: skip
    problems += [f"{t}: no primary key" for t in sorted(tables - primary_keys)]
    foreign_keys = rows(
        pg_cluster,
        "SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,"
        " (SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = c.conkey[1]),"
        " (SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = c.confkey[1])"
        " FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace",
    )
    for name, source, target, source_first, target_first in foreign_keys:
        if source in tables and target in tables:
            if (source_first, target_first) != ("tenant_id", "tenant_id"):
                problems.append(
                    f"{source}: foreign key {name} is ({source_first}, …) -> "
                    f"{target} ({target_first}, …), not (tenant_id, …) on both sides"
                )
        elif source not in tables and target in tables:
            problems.append(f"{source}: control table references tenant table {target} ({name})")
    print(
        f"\nchecked {len(tables)} tenant tables: tenant_id leads every primary key, unique"
        f" constraint, index and all {sum(s in tables for _, s, *_ in foreign_keys)} foreign keys"
    )
    assert problems == []


def test_scale_out_doc_names_every_table_once(pg_cluster: PgCluster) -> None:
    """docs/scale-out.md distributes exactly the tenant tables and makes exactly the control
    tables reference tables, so a table added later cannot be forgotten there."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "scale-out.md").read_text(encoding="utf-8")
    distributed = re.findall(r"create_distributed_table\('(\w+)', 'tenant_id'", doc)
    reference = re.findall(r"create_reference_table\('(\w+)'\)", doc)
    every = {name for (name,) in rows(pg_cluster, "SELECT tablename FROM pg_tables"
                                      " WHERE schemaname = 'public'")}  # fmt: skip
    assert sorted(distributed) == sorted(set(distributed)) == sorted(tenant_tables(pg_cluster))
    assert sorted(reference) == sorted(set(reference))
    assert set(reference) == (every & CONTROL_TABLES) - {"schema_migrations"}
