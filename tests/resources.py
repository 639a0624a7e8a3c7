"""One row of every resource in a tenant, made through the API (alerts, which only the
scheduler raises, through the service it uses), for tests that walk every endpoint."""

from __future__ import annotations

from typing import Any

from reliatic_appliance.keys import CONTROL_DB, TENANT_DBS
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.timefmt import now_ts
from tests.conftest import ASSET, Api

# With a read_write level: every permission there is.
ADMIN_SCOPES = ["api_keys:read", "api_keys:write", "webhooks:read", "webhooks:write", "audit:read"]

# A valid body of each create, given the ids made so far.
CREATE_BODIES = {
    "asset_id": lambda ids: ASSET,
    "inspection_id": lambda ids: {
        "asset_id": ids["asset_id"],
        "inspection_type": "ut_scanning",
        "inspection_date": "2024-03-01",
        "inspector_name": "J. Smith",
        "status": "draft",
    },
    "failure_mode_id": lambda ids: {
        "asset_id": ids["asset_id"],
        "description": "Pitting",
        "severity": 5,
        "occurrence": 5,
        "detection": 5,
    },
    "action_id": lambda ids: {"title": "Replace nozzle", "priority": "high"},
    "risk_assessment_id": lambda ids: {
        "asset_id": ids["asset_id"],
        "probability_of_failure": 3,
        "consequence_of_failure": 3,
    },
    "moc_id": lambda ids: {"title": "Bigger PSV", "requested_by": "a.engineer"},
    "webhook_id": lambda ids: {
        "url": "https://cmms.example.invalid/hook",
        "events": ["asset.created"],
    },
    "key_id": lambda ids: {"name": "spare", "level": "read_only"},
}
CREATE_PATHS = {
    "asset_id": "/api/v1/assets",
    "inspection_id": "/api/v1/inspections",
    "failure_mode_id": "/api/v1/failure-modes",
    "action_id": "/api/v1/actions",
    "risk_assessment_id": "/api/v1/risk-assessments",
    "moc_id": "/api/v1/mocs",
    "webhook_id": "/api/v1/webhooks",
    "key_id": "/api/v1/api-keys",
}
# A valid partial update of each resource with a PUT.
UPDATE_BODIES = {
    "asset_id": {"name": "Renamed"},
    "inspection_id": {"findings": "Light scale"},
    "failure_mode_id": {"detection": 3},
    "action_id": {"title": "Replace nozzle N3"},
    "risk_assessment_id": {"probability_of_failure": 2},
    "moc_id": {"description": "Scope extended"},
    "webhook_id": {"enabled": False},
}


async def seed_all(api: Api) -> dict[str, str]:
    """Create one row of each resource; return path-parameter name -> id."""
    ids: dict[str, str] = {}
    for name, path in CREATE_PATHS.items():
        response = await api.post(path, json=CREATE_BODIES[name](ids))
        assert response.status == 201, (path, await response.text())
        ids[name] = (await response.json())["data"]["id"]
    ping = await api.post(f"/api/v1/webhooks/{ids['webhook_id']}/test")
    assert ping.status == 202, await ping.text()
    ids["delivery_id"] = (await ping.json())["data"]["id"]
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    alert = await db.write(
        lambda tx: raise_alert(
            tx,
            kind="sla_escalation",
            severity="warning",
            resource_type="action",
            resource_id=ids["action_id"],
            level=1,
            message="Overdue",
            at=now_ts(),
        )
    )
    assert alert is not None
    ids["alert_id"] = alert["id"]
    return ids


async def table_counts(api: Api) -> dict[str, Any]:
    """Every table of the tenant file with its full content, and the tenant's key count:
    equal before and after means nothing at all was written. On PostgreSQL: every table
    under row level security (the tenant tables), as the server's role sees them, i.e. this
    tenant's rows, in a stable order."""
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])

    def dump(tx: Any) -> dict[str, Any]:
        cur = getattr(tx, "cur", None)
        if cur is not None:
            tables = [
                row["relname"]
                for row in cur.execute(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' AND relrowsecurity"
                    " AND relnamespace = current_schema()::regnamespace ORDER BY relname"
                )
            ]
            rows = {t: cur.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
            return {t: sorted((tuple(r.values()) for r in rows[t]), key=repr) for t in tables}
        conn = tx.conn
        tables = [
            row["name"]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            t: [tuple(r.values()) for r in conn.execute(f'SELECT * FROM "{t}"')] for t in tables
        }

    def keys(tx: Any) -> list[tuple[Any, Any]]:
        sql = "SELECT id, revoked_at FROM api_keys WHERE tenant_id = ?"
        cur = getattr(tx, "cur", None)
        if cur is None:
            rows = list(tx.conn.execute(sql, (api.tenant["id"],)))
        else:
            rows = cur.execute(sql.replace("?", "%s"), (api.tenant["id"],)).fetchall()
        return [(r["id"], r["revoked_at"]) for r in rows]

    content: dict[str, Any] = await db.read(dump)
    content["control.api_keys"] = await api.client.app[CONTROL_DB].read(keys)
    return content
