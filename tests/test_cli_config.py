"""`reliatic config show` (SPEC §2): the effective configuration, the source of each value
(default, file, env, flag), secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.cli.config import effective
from reliatic_appliance.settings import SECTIONS, Origin, Settings
from reliatic_appliance.settings.table import REDACTED, SECRET
from tests.process import cli


def show(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    result = cli(tmp_path / "data", "config", "show", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return {row.pop("name"): row for row in json.loads(result.stdout)}


def test_each_value_names_its_source(tmp_path: Path) -> None:
    config = tmp_path / "reliatic.toml"
    config.write_text(
        '[server]\nport = 9001\nhost = "10.0.0.5"\n[metrics]\nallow = ["10.20.0.0/16"]\n'
    )
    env = {"RELIATIC_CONFIG": str(config), "RELIATIC_SCHEDULER_TICK_SECONDS": "0.5"}
    rows = show(tmp_path, "--host", "0.0.0.0", env=env)
    assert rows["server.port"] == {"value": 9001, "source": "file", "from": str(config)}
    assert rows["metrics.allow"] == {
        "value": ["10.20.0.0/16"],
        "source": "file",
        "from": str(config),
    }
    # file < env < flag, each value reported from where it won.
    assert rows["server.host"] == {"value": "0.0.0.0", "source": "flag", "from": "--host"}
    assert rows["scheduler.tick_seconds"] == {
        "value": 0.5,
        "source": "env",
        "from": "RELIATIC_SCHEDULER_TICK_SECONDS",
    }
    assert rows["rate_limit.default_per_minute"] == {
        "value": 100,
        "source": "default",
        "from": None,
    }
    assert rows["data_dir"] == {
        "value": str(tmp_path / "data"),
        "source": "flag",
        "from": "--data-dir",
    }
    assert rows["config_file"] == {"value": str(config), "source": "env", "from": "RELIATIC_CONFIG"}
    # Every setting of the table is listed, in the table's order.
    assert [name for name in rows if "." in name] == [
        f"{section}.{key}" for section, model in SECTIONS.items() for key in model.model_fields
    ]


def test_the_readable_table(tmp_path: Path) -> None:
    result = cli(
        tmp_path / "data",
        "config",
        "show",
        "--port",
        "8443",
        env={"RELIATIC_CONFIG": "", "RELIATIC_WEBHOOKS_ALLOW_HTTP": "yes"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SETTING", "VALUE", "SOURCE"]
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in lines[1:]}
    assert rows["server.port"] == ["8443", "flag (--port)"]
    assert rows["webhooks.allow_http"] == ["true", "env (RELIATIC_WEBHOOKS_ALLOW_HTTP)"]
    assert rows["config_file"] == ["-", "env (RELIATIC_CONFIG)"]  # set empty: no file
    assert rows["logging.level"] == ["info", "default"]


def test_a_bad_value_is_one_line_naming_its_source(tmp_path: Path) -> None:
    result = cli(
        tmp_path / "data", "config", "show", env={"RELIATIC_METRICS_ALLOW": '["10.0.0.1/8"]'}
    )
    assert result.returncode == 1
    assert result.stderr == (
        "reliatic: error: RELIATIC_METRICS_ALLOW: [metrics] allow[0]: "
        "10.0.0.1/8 has host bits set\n"
    )


class Vault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "https://vault.plant.local"
    token: str | None = Field(default=None, json_schema_extra=SECRET)
    key_file: Path | None = None  # a path to a key is not a secret; its contents would be


class WithSecrets(Settings):
    vault: Vault = Field(default_factory=Vault)


def test_a_secret_is_masked_wherever_it_came_from(tmp_path: Path) -> None:
    settings = WithSecrets(
        data_dir=tmp_path,
        vault=Vault(token="s3cr3t-t0ken", key_file=Path("/etc/reliatic/vault.key")),
    )
    origins = {"vault.token": Origin("env", "RELIATIC_VAULT_TOKEN")}
    rows = {row["name"]: row for row in effective(settings, origins)}
    assert rows["vault.token"] == {
        "name": "vault.token",
        "value": REDACTED,
        "source": "env",
        "from": "RELIATIC_VAULT_TOKEN",
    }
    assert rows["vault.key_file"]["value"] == "/etc/reliatic/vault.key"
    assert rows["vault.url"]["value"] == "https://vault.plant.local"
    assert "s3cr3t" not in json.dumps(list(rows.values()))
    # An unset secret stays null: masking it would claim a value that is not there.
    unset = {row["name"]: row for row in effective(WithSecrets(data_dir=tmp_path), {})}
    assert unset["vault.token"]["value"] is None
