"""Settings: file < env < flag, and every bad value named by its source, key and reason (§2)."""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reliatic_appliance import settings as settings_mod
from reliatic_appliance.settings import (
    SECTIONS,
    ServerSettings,
    Settings,
    SettingsError,
    default_config_file,
    describe_settings,
    env_var_name,
    load_settings,
    redacted_dump,
    resolve_data_dir,
)

DATA = Path("/srv/reliatic-test")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reliatic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(
    config_file: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Settings:
    return load_settings(data_dir=DATA, config_file=config_file, env=env or {}, overrides=overrides)


def error_of(
    config_file: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> str:
    with pytest.raises(SettingsError) as info:
        load(config_file, env, overrides)
    message = str(info.value)
    assert "\n" not in message  # the CLI prints it as one line on stderr
    return message


def test_defaults_without_file_or_env() -> None:
    s = load()
    assert s.data_dir == DATA
    assert (s.server.host, s.server.port, s.server.max_body_bytes) == ("127.0.0.1", 8080, 1 << 20)
    assert s.server.tls_cert is None and s.server.tls_key is None
    assert s.rate_limit.default_per_minute == 100
    assert s.rate_limit.unauthenticated_per_minute == 60
    assert s.rate_limit.max_tracked == 100_000
    assert s.webhooks.retry_schedule_seconds == [60, 300, 1800, 7200]
    assert s.webhooks.timeout_seconds == 10
    assert (s.webhooks.allow_http, s.webhooks.allow_private_targets) == (False, True)
    assert s.webhooks.allow_loopback_targets is False
    assert (s.webhooks.log_retention_days, s.webhooks.concurrency) == (30, 16)
    assert s.scheduler.tick_seconds == 1.0
    assert s.sla.escalation_levels_days == [7, 30]
    assert s.storage.busy_timeout_ms == 5000
    assert s.logging.level == "info"


def test_file_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [server]
        host = "0.0.0.0"
        port = 8443
        tls_cert = "/etc/reliatic/cert.pem"
        tls_key = "/etc/reliatic/key.pem"

        [webhooks]
        retry_schedule_seconds = [1, 2.5]
        allow_http = true
        timeout_seconds = 3

        [sla]
        escalation_levels_days = [3, 10, 40]

        [logging]
        level = "WARNING"
        """,
    )
    s = load(path)
    assert (s.server.host, s.server.port) == ("0.0.0.0", 8443)
    assert s.server.tls_cert == Path("/etc/reliatic/cert.pem")
    assert s.webhooks.retry_schedule_seconds == [1.0, 2.5]
    assert s.webhooks.allow_http is True
    assert s.webhooks.timeout_seconds == 3.0
    assert s.sla.escalation_levels_days == [3, 10, 40]
    assert s.logging.level == "warning"
    assert s.rate_limit.default_per_minute == 100  # untouched sections keep their defaults


def test_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\nhost = "10.0.0.5"\n')
    s = load(path, {"RELIATIC_SERVER_PORT": "9100"})
    assert s.server.port == 9100
    assert s.server.host == "10.0.0.5"  # the file still counts for keys env does not set


def test_flag_over_env_and_none_means_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    env = {"RELIATIC_SERVER_PORT": "9100", "RELIATIC_SERVER_HOST": "10.0.0.6"}
    s = load(path, env, {"server": {"port": 9200, "host": None}})
    assert s.server.port == 9200
    assert s.server.host == "10.0.0.6"


def test_env_parses_lists_bools_and_numbers() -> None:
    s = load(
        env={
            "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[1,2,3,4]",
            "RELIATIC_WEBHOOKS_ALLOW_HTTP": "yes",
            "RELIATIC_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "0",
            "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "TRUE",
            "RELIATIC_SCHEDULER_TICK_SECONDS": "0.2",
            "RELIATIC_SLA_ESCALATION_LEVELS_DAYS": " [1, 2] ",
            "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "500",
            "RELIATIC_WEBHOOKS_CA_BUNDLE": "/etc/ssl/plant-ca.pem",
        }
    )
    assert s.webhooks.retry_schedule_seconds == [1.0, 2.0, 3.0, 4.0]
    assert s.webhooks.allow_http is True
    assert s.webhooks.allow_private_targets is False
    assert s.webhooks.allow_loopback_targets is True
    assert s.scheduler.tick_seconds == 0.2
    assert s.sla.escalation_levels_days == [1, 2]
    assert s.rate_limit.default_per_minute == 500
    assert s.webhooks.ca_bundle == Path("/etc/ssl/plant-ca.pem")


@pytest.mark.parametrize("word", ["true", "1", "yes", "false", "0", "no", "No"])
def test_env_bool_words(word: str) -> None:
    s = load(env={"RELIATIC_WEBHOOKS_ALLOW_HTTP": word})
    assert s.webhooks.allow_http is (word.lower() in ("true", "1", "yes"))


def test_empty_env_value_clears_optional_path_from_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[webhooks]\nca_bundle = "/etc/ssl/plant-ca.pem"\n')
    assert load(path, {"RELIATIC_WEBHOOKS_CA_BUNDLE": ""}).webhooks.ca_bundle is None


def test_ignores_reserved_and_foreign_variables() -> None:
    env = {
        "RELIATIC_DATA_DIR": "/elsewhere",
        "RELIATIC_CONFIG": "/elsewhere.toml",
        "RELIATIC_FUTURE_THING": "x",
        "RELIATIC_SERVER": "not a key",
        "PATH": "/usr/bin",
    }
    assert load(env=env) == load()


def test_tls_pair_may_come_from_different_layers(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ntls_cert = "/c.pem"\n')
    s = load(path, {"RELIATIC_SERVER_TLS_KEY": "/k.pem"})
    assert (s.server.tls_cert, s.server.tls_key) == (Path("/c.pem"), Path("/k.pem"))


# Each row: where the bad value comes from, and the exact one-line error (source: key: reason).
FILE = "<file>"


@pytest.mark.parametrize(
    ("toml", "env", "overrides", "expected"),
    [
        pytest.param(
            "[server]\nport = 70000\n",
            {},
            None,
            f"{FILE}: [server] port: Input should be less than or equal to 65535",
            id="file-port-too-big",
        ),
        pytest.param(
            "[server]\nport = true\n",
            {},
            None,
            f"{FILE}: [server] port: Input should be a valid integer",
            id="file-is-typed-no-bool-to-int",
        ),
        pytest.param(
            '[webhooks]\nallow_http = "maybe"\n',
            {},
            None,
            f"{FILE}: [webhooks] allow_http: Input should be a valid boolean",
            id="file-bool-as-string",
        ),
        pytest.param(
            "[webhooks]\nretry_schedule_seconds = []\n",
            {},
            None,
            f"{FILE}: [webhooks] retry_schedule_seconds: "
            "List should have at least 1 item after validation, not 0",
            id="file-empty-retry-schedule",
        ),
        pytest.param(
            "[webhooks]\nretry_schedule_seconds = [60, -1]\n",
            {},
            None,
            f"{FILE}: [webhooks] retry_schedule_seconds[1]: Input should be greater than 0",
            id="file-negative-retry",
        ),
        pytest.param(
            "[webhooks]\ntimeout_seconds = inf\n",
            {},
            None,
            f"{FILE}: [webhooks] timeout_seconds: Input should be a finite number",
            id="file-infinite-timeout",
        ),
        pytest.param(
            "[sla]\nescalation_levels_days = [30, 7]\n",
            {},
            None,
            f"{FILE}: [sla] escalation_levels_days: must be strictly increasing",
            id="file-escalation-not-increasing",
        ),
        pytest.param(
            '[logging]\nlevel = "verbose"\n',
            {},
            None,
            f"{FILE}: [logging] level: Input should be 'debug', 'info', 'warning' or 'error'",
            id="file-bad-level",
        ),
        pytest.param(
            '[webhooks]\nca_bundle = ""\n',
            {},
            None,
            f"{FILE}: [webhooks] ca_bundle: must not be empty",
            id="file-empty-path",
        ),
        pytest.param(
            "[server]\nport = 0\n[scheduler]\ntick_seconds = 0\n",
            {},
            None,
            f"{FILE}: [server] port: Input should be greater than or equal to 1; "
            f"{FILE}: [scheduler] tick_seconds: Input should be greater than or equal to 0.01",
            id="file-every-bad-section-reported",
        ),
        pytest.param(
            '[server]\ntls_cert = "/c.pem"\n',
            {},
            None,
            f"{FILE}: [server]: tls_cert and tls_key must be set together",
            id="file-tls-cert-without-key",
        ),
        pytest.param(
            "[server]\nport = 9000\n",
            {"RELIATIC_SERVER_PORT": "65536"},
            None,
            "RELIATIC_SERVER_PORT: [server] port: Input should be less than or equal to 65535",
            id="env-port-too-big-over-good-file",
        ),
        pytest.param(
            "",
            {"RELIATIC_SERVER_PORT": "eighty"},
            None,
            "RELIATIC_SERVER_PORT: [server] port: "
            "Input should be a valid integer, unable to parse string as an integer",
            id="env-port-not-a-number",
        ),
        pytest.param(
            "",
            {"RELIATIC_WEBHOOKS_ALLOW_HTTP": "maybe"},
            None,
            "RELIATIC_WEBHOOKS_ALLOW_HTTP: [webhooks] allow_http: "
            "expected one of true/false/1/0/yes/no",
            id="env-bad-bool",
        ),
        pytest.param(
            "",
            {"RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "60,300"},
            None,
            "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS: [webhooks] retry_schedule_seconds: "
            "expected a JSON array such as [1, 2, 3] (Extra data)",
            id="env-list-not-json",
        ),
        pytest.param(
            "",
            {"RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "60"},
            None,
            "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS: [webhooks] retry_schedule_seconds: "
            "expected a JSON array such as [1, 2, 3]",
            id="env-list-scalar-json",
        ),
        pytest.param(
            "",
            {"RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[1, NaN]"},
            None,
            "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS: [webhooks] retry_schedule_seconds[1]: "
            "Input should be a finite number",
            id="env-list-nan",
        ),
        pytest.param(
            "",
            {"RELIATIC_SCHEDULER_TICK_SECONDS": "0.001"},
            None,
            "RELIATIC_SCHEDULER_TICK_SECONDS: [scheduler] tick_seconds: "
            "Input should be greater than or equal to 0.01",
            id="env-tick-too-small",
        ),
        pytest.param(
            "",
            {"RELIATIC_SERVER_TLS_KEY": "/k.pem"},
            None,
            "RELIATIC_SERVER_TLS_KEY: [server]: tls_cert and tls_key must be set together",
            id="env-tls-key-without-cert",
        ),
        pytest.param(
            "",
            {"RELIATIC_SERVER_PORT": "9000"},
            {"server": {"port": 0}},
            "command line: [server] port: Input should be greater than or equal to 1",
            id="flag-port-zero-over-good-env",
        ),
        pytest.param(
            "",
            {},
            {"server": {"prot": 1}},
            "command line: [server] prot: unknown setting; did you mean 'port'?",
            id="flag-unknown-key",
        ),
        pytest.param(
            "",
            {},
            {"serve": {"port": 1}},
            "command line: [serve]: unknown section",
            id="flag-unknown-section",
        ),
    ],
)
def test_bad_value_names_source_key_and_reason(
    tmp_path: Path,
    toml: str,
    env: dict[str, str],
    overrides: dict[str, dict[str, Any]] | None,
    expected: str,
) -> None:
    path = write(tmp_path, toml)
    assert error_of(path, env, overrides) == expected.replace(FILE, str(path))


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\nhost = \n")
    message = error_of(path)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "reliatic.toml"
    path.write_bytes(b'[server]\nhost = "\xff"\n')
    assert error_of(path) == f"{path}: invalid TOML: not UTF-8 text"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert error_of(path) == f"{path}: configuration file not found"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param(
            "[server]\nprot = 1\n",
            "[server] prot: unknown setting; did you mean 'port'?",
            id="typo",
        ),
        pytest.param(
            "[server]\nzzz = 1\n",
            "[server] zzz: unknown setting; known keys: host, port, tls_cert, tls_key, "
            "max_body_bytes, event_loop",
            id="unknown-key",
        ),
        pytest.param(
            "[serve]\nport = 1\n",
            "serve: unknown section; known sections: server, rate_limit, webhooks, scheduler, "
            "sla, storage, backup, logging, metrics, sessions",
            id="unknown-section",
        ),
        pytest.param(
            "port = 1\n",
            "port: settings belong in a section such as [server]",
            id="top-level-key",
        ),
        pytest.param(
            'data_dir = "/x"\n',
            "data_dir: not a file setting; use --data-dir or RELIATIC_DATA_DIR",
            id="data-dir-in-file",
        ),
        pytest.param("server = 1\n", "[server]: must be a table", id="section-not-table"),
        pytest.param(
            "[server.extra]\nx = 1\n",
            "[server] extra: unknown setting; known keys: host, port, tls_cert, tls_key, "
            "max_body_bytes, event_loop",
            id="nested-table",
        ),
    ],
)
def test_unknown_keys_in_file(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path, toml)
    assert error_of(path) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "RELIATIC_SERVER_PROT",
            "RELIATIC_SERVER_PROT: [server] PROT: unknown setting; "
            "did you mean RELIATIC_SERVER_PORT?",
            id="typo",
        ),
        pytest.param(
            "RELIATIC_RATE_LIMIT_PER_MINUTE",
            "RELIATIC_RATE_LIMIT_PER_MINUTE: [rate_limit] PER_MINUTE: unknown setting; "
            "did you mean RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE?",
            id="section-with-underscore",
        ),
        pytest.param(
            "RELIATIC_SERVER_Port",
            "RELIATIC_SERVER_Port: [server] Port: unknown setting; "
            "did you mean RELIATIC_SERVER_PORT?",
            id="wrong-case",
        ),
        pytest.param(
            "RELIATIC_LOGGING_XYZZY",
            "RELIATIC_LOGGING_XYZZY: [logging] XYZZY: unknown setting; known keys: level",
            id="no-close-match",
        ),
    ],
)
def test_unknown_env_key_in_known_section(name: str, expected: str) -> None:
    assert error_of(env={name: "1"}) == expected


def test_env_error_never_echoes_the_value() -> None:
    # Values may one day be secrets; the message names the variable, not its content.
    assert "s3cr3t" not in error_of(env={"RELIATIC_SERVER_PORT": "s3cr3t"})


def test_default_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "etc" / "reliatic.toml"
    monkeypatch.setattr(settings_mod, "SYSTEM_CONFIG_FILE", system)
    assert default_config_file({}) is None
    system.parent.mkdir()
    system.write_text("")
    assert default_config_file({}) == system
    assert default_config_file({"RELIATIC_CONFIG": "/opt/r.toml"}) == Path("/opt/r.toml")
    assert default_config_file({"RELIATIC_CONFIG": ""}) is None  # explicit opt-out


def test_resolve_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_mod, "_effective_user_name", lambda: "alice")
    env = {"RELIATIC_DATA_DIR": "/data/from-env"}
    assert resolve_data_dir("/data/from-flag", env) == Path("/data/from-flag")
    assert resolve_data_dir(None, env) == Path("/data/from-env")
    assert resolve_data_dir(None, {}) == Path("var")
    assert resolve_data_dir(None, {"RELIATIC_DATA_DIR": ""}) == Path("var")
    monkeypatch.setattr(settings_mod, "_effective_user_name", lambda: "reliatic")
    assert resolve_data_dir(None, {}) == Path("/var/lib/reliatic")
    assert resolve_data_dir(None, env) == Path("/data/from-env")
    with pytest.raises(SettingsError, match="--data-dir: must not be empty"):
        resolve_data_dir("", {})


def test_every_setting_is_described_with_its_default() -> None:
    rows = describe_settings()
    defaults = Settings(data_dir=DATA)
    assert [(s, k) for s, k, _, _ in rows] == [
        (section, key) for section, model in SECTIONS.items() for key in model.model_fields
    ]
    for section, key, default, help_text in rows:
        assert help_text, f"[{section}] {key} has no help text"
        assert getattr(getattr(defaults, section), key) == default
        assert env_var_name(section, key) == f"RELIATIC_{section.upper()}_{key.upper()}"


def test_redacted_dump_masks_secret_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load(env={"RELIATIC_SERVER_HOST": "10.1.2.3"})
    dump = redacted_dump(s)
    json.dumps(dump)  # ready for --json and logs
    assert dump["server"]["host"] == "10.1.2.3"
    assert dump["data_dir"] == str(DATA)
    # No setting is secret yet; flag one the documented way and it is masked.
    field = ServerSettings.model_fields["host"]
    monkeypatch.setattr(field, "json_schema_extra", {"secret": True})
    assert redacted_dump(s)["server"]["host"] == "********"


def test_settings_are_frozen() -> None:
    s = load()
    with pytest.raises(ValidationError):
        s.server.port = 1  # type: ignore[misc]


def test_postgresql_settings_need_a_dsn_and_keep_it_secret() -> None:
    with pytest.raises(SettingsError, match="needs dsn"):
        load(env={"RELIATIC_STORAGE_BACKEND": "postgresql"})
    dsn = "postgresql://app:pw-secret@db/reliatic"
    s = load(env={"RELIATIC_STORAGE_BACKEND": "postgresql", "RELIATIC_STORAGE_DSN": dsn})
    assert s.storage.dsn == dsn and s.storage.admin_dsn is None
    dump = redacted_dump(s)
    assert dump["storage"]["dsn"] == "********" and "pw-secret" not in json.dumps(dump)
    with pytest.raises(SettingsError, match="schedule pg_dump"):
        load(
            env={
                "RELIATIC_STORAGE_BACKEND": "postgresql",
                "RELIATIC_STORAGE_DSN": dsn,
                "RELIATIC_BACKUP_INTERVAL_MINUTES": "60",
            }
        )
