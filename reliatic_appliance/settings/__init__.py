"""Settings (SPEC §2): one table of options, read from TOML, ``RELIATIC_*`` env vars and flags.

- ``table.py``: the options, each declared once (name, default, type and bounds, secret?, help).
- ``loader.py``: reading them: the file < ``RELIATIC_<SECTION>_<KEY>`` < flags, each value
  validated where it came from, errors naming the file or variable, the key and the reason;
  and ``check_environment``, which refuses a ``RELIATIC_*`` variable that nothing reads.
- here: where the data dir and the config file are when nobody says, and the public names.
"""

import os
import pwd
from collections.abc import Mapping
from pathlib import Path

from reliatic_appliance.settings.loader import (
    ENV_CONFIG,
    ENV_DATA_DIR,
    Origin,
    SettingsError,
    Traced,
    check_environment,
    load_settings,
    load_settings_traced,
)
from reliatic_appliance.settings.table import (
    SECTIONS,
    BackupSettings,
    LoggingSettings,
    MetricsSettings,
    RateLimitSettings,
    SchedulerSettings,
    ServerSettings,
    Settings,
    SlaSettings,
    StorageSettings,
    WebhookSettings,
    describe_settings,
    env_var_name,
    redacted_dump,
)

__all__ = [
    "ENV_CONFIG",
    "ENV_DATA_DIR",
    "LOCAL_DATA_DIR",
    "SECTIONS",
    "SYSTEM_CONFIG_FILE",
    "SYSTEM_DATA_DIR",
    "SYSTEM_USER",
    "BackupSettings",
    "LoggingSettings",
    "MetricsSettings",
    "Origin",
    "RateLimitSettings",
    "SchedulerSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SlaSettings",
    "StorageSettings",
    "Traced",
    "WebhookSettings",
    "check_environment",
    "default_config_file",
    "describe_settings",
    "env_var_name",
    "load_settings",
    "load_settings_traced",
    "redacted_dump",
    "resolve_data_dir",
]

SYSTEM_CONFIG_FILE = Path("/etc/reliatic/reliatic.toml")
SYSTEM_DATA_DIR = Path("/var/lib/reliatic")
LOCAL_DATA_DIR = Path("var")
SYSTEM_USER = "reliatic"


def default_config_file(env: Mapping[str, str]) -> Path | None:
    """SPEC §2: env RELIATIC_CONFIG, else the system file if present, else no file.

    ``RELIATIC_CONFIG=`` (set but empty) means "no file", which lets a test or a developer
    opt out of a system file on the same machine.
    """
    if ENV_CONFIG in env:
        value = env[ENV_CONFIG].strip()
        return Path(value).expanduser() if value else None
    return SYSTEM_CONFIG_FILE if SYSTEM_CONFIG_FILE.exists() else None


def _effective_user_name() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers) is not the system user
        return None


def resolve_data_dir(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """SPEC §2: --data-dir, else RELIATIC_DATA_DIR, else the system or the local default."""
    if cli_value is not None:
        if not cli_value.strip():
            raise SettingsError("--data-dir: must not be empty")
        return Path(cli_value).expanduser()
    env_value = env.get(ENV_DATA_DIR, "").strip()
    if env_value:
        return Path(env_value).expanduser()
    if _effective_user_name() == SYSTEM_USER:
        return SYSTEM_DATA_DIR
    return LOCAL_DATA_DIR
