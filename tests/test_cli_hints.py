"""The hint for a data dir that is not initialised points where the operator means (§2)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reliatic_appliance.cli.context import init_hint
from reliatic_appliance.settings import LOCAL_DATA_DIR
from tests.process import CLI, cli

PLAIN = "run 'reliatic --data-dir var init' first"


def test_a_developer_is_told_to_init_the_dir_they_use(tmp_path: Path) -> None:
    system = tmp_path / "var-lib-reliatic"  # absent: not an appliance
    assert init_hint(LOCAL_DATA_DIR, euid=1000, system_data_dir=system) == PLAIN


def test_root_is_pointed_at_the_appliance_user(tmp_path: Path) -> None:
    system = tmp_path / "var-lib-reliatic"
    assert init_hint(LOCAL_DATA_DIR, euid=0, system_data_dir=system) == (
        f"on an installed appliance, create {system} as its user: 'sudo -u reliatic reliatic"
        f" init'; for a data dir here, {PLAIN}"
    )


def test_anyone_on_an_installed_appliance_is_pointed_at_its_data(tmp_path: Path) -> None:
    system = tmp_path / "var-lib-reliatic"
    cli(system, "init")
    for euid in (0, 1000):
        assert init_hint(LOCAL_DATA_DIR, euid=euid, system_data_dir=system) == (
            f"the appliance's data is in {system}: run the command as 'sudo -u reliatic"
            " reliatic ...'"
        )


def test_a_data_dir_given_on_purpose_gets_the_plain_hint(tmp_path: Path) -> None:
    system = tmp_path / "var-lib-reliatic"
    cli(system, "init")
    chosen = Path("/srv/plant-data")
    assert init_hint(chosen, euid=0, system_data_dir=system) == (
        "run 'reliatic --data-dir /srv/plant-data init' first"
    )


@pytest.mark.skipif(
    os.geteuid() != 0 and not Path("/var/lib/reliatic").exists(),
    reason="the appliance hint is for root or an installed appliance",
)
def test_root_without_data_dir_is_not_sent_to_make_a_stray_var(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RELIATIC_DATA_DIR"}
    result = subprocess.run(
        [*CLI, "tenant", "list"],
        cwd=tmp_path,
        env={**env, "RELIATIC_CONFIG": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("reliatic: error: var is not initialised; ")
    assert "'sudo -u reliatic reliatic " in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "var").exists()
