"""The shipped default config documents every setting, with its true default."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from reliatic_appliance.settings import describe_settings, load_settings

CONFIG = Path(__file__).resolve().parents[1] / "systemd" / "reliatic.toml"


def uncommented() -> str:
    # Every key is shipped commented out as `# key = default`.
    lines = []
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#\s?(\w+\s*=.*)$", line)
        lines.append(match[1] if match else line)
    return "\n".join(lines)


def test_every_setting_is_in_the_default_config() -> None:
    parsed = tomllib.loads(uncommented())
    shipped = {(section, key) for section, keys in parsed.items() for key in keys}
    known = {(section, key) for section, key, _, _ in describe_settings()}
    assert shipped == known


def test_shipped_values_are_the_defaults(tmp_path: Path) -> None:
    parsed = tomllib.loads(uncommented())
    defaults = {(s, k): d for s, k, d, _ in describe_settings()}
    for section, keys in parsed.items():
        for key, value in keys.items():
            if defaults[(section, key)] is None:
                continue  # example paths (TLS, CA bundle) have no default
            assert value == defaults[(section, key)], (section, key)
    # And the file as shipped (all commented) loads cleanly.
    load_settings(data_dir=tmp_path, config_file=CONFIG, env={})
