"""Settings: one table of options, read from TOML, ``RELIATIC_*`` env vars and flags (SPEC §2).

Every option is a field of one of the section models below; its ``description`` is its help
text, so the models *are* the table (``describe_settings`` renders it for the docs).

Layers, lowest first: the optional TOML file, then ``RELIATIC_<SECTION>_<KEY>`` environment
variables, then command-line overrides. Each layer is validated on its own before the layers are
merged, so an error names the file or variable the bad value came from, the key and the reason
(SPEC §2: "each value validated where it came from"). Checks that relate two keys run once more
on the merged result.

Secret options: declare them with ``Field(..., json_schema_extra={"secret": True})``;
``redacted_dump`` then masks them, and env errors never echo values anyway. None exist yet.
"""

import difflib
import itertools
import json
import os
import pwd
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

SYSTEM_CONFIG_FILE = Path("/etc/reliatic/reliatic.toml")
SYSTEM_DATA_DIR = Path("/var/lib/reliatic")
LOCAL_DATA_DIR = Path("var")
SYSTEM_USER = "reliatic"
ENV_PREFIX = "RELIATIC_"
ENV_DATA_DIR = "RELIATIC_DATA_DIR"
ENV_CONFIG = "RELIATIC_CONFIG"
OVERRIDES_SOURCE = "command line"
REDACTED = "********"
GIB = 1024**3

_SECTION_CONFIG = ConfigDict(extra="forbid", frozen=True)
# Validation context for a single layer: checks that relate two keys wait for the merged result,
# since the file may set one key of a pair and the environment the other.
_PARTIAL = {"partial": True}
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _to_path(value: Any) -> Any:
    # A path is a string in TOML and env; converting here lets the file layer validate strictly.
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        return Path(value)
    return value


ConfigPath = Annotated[Path, BeforeValidator(_to_path)]
PositiveSeconds = Annotated[float, Field(gt=0, le=30 * 86400, allow_inf_nan=False)]
PositiveDays = Annotated[int, Field(gt=0, le=3650)]


class SettingsError(Exception):
    """A bad setting; ``str()`` is one line naming the source, the key and the reason."""


class ServerSettings(BaseModel):
    model_config = _SECTION_CONFIG

    host: str = Field(
        default="127.0.0.1", min_length=1, max_length=255, description="Address to bind."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port to listen on.")
    tls_cert: ConfigPath | None = Field(
        default=None, description="PEM certificate chain; serve HTTPS when set (needs tls_key)."
    )
    tls_key: ConfigPath | None = Field(default=None, description="PEM private key for tls_cert.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, le=GIB, description="Largest accepted request body (413 above)."
    )

    @model_validator(mode="after")
    def _tls_pair(self, info: ValidationInfo) -> Self:
        if (info.context or {}).get("partial"):
            return self
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be set together")
        return self


class RateLimitSettings(BaseModel):
    model_config = _SECTION_CONFIG

    default_per_minute: int = Field(
        default=100,
        ge=1,
        le=1_000_000,
        description="Requests per minute per API key, unless its tenant or key overrides it (§4).",
    )
    unauthenticated_per_minute: int = Field(
        default=60,
        ge=1,
        le=1_000_000,
        description=(
            "Requests per minute per client address for unauthenticated and failed-auth "
            "requests; meant to be stricter than default_per_minute (§4)."
        ),
    )
    max_tracked: int = Field(
        default=100_000,
        ge=1000,
        le=10_000_000,
        description=(
            "Upper bound on windows tracked per limiter, so memory stays bounded however many "
            "keys and addresses appear (§4)."
        ),
    )


class WebhookSettings(BaseModel):
    model_config = _SECTION_CONFIG

    retry_schedule_seconds: list[PositiveSeconds] = Field(
        default_factory=lambda: [60.0, 300.0, 1800.0, 7200.0],
        min_length=1,
        max_length=50,
        description="Delay before each retry after a failed delivery (±10 % jitter) (§7).",
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Timeout of one delivery attempt.",
    )
    allow_http: bool = Field(default=False, description="Allow plain http:// target URLs.")
    allow_private_targets: bool = Field(
        default=True,
        description="Allow targets in private ranges (RFC 1918, fc00::/7), the plant LAN.",
    )
    allow_loopback_targets: bool = Field(default=False, description="Allow loopback targets.")
    ca_bundle: ConfigPath | None = Field(
        default=None,
        description="PEM CA bundle to verify targets with, instead of the system store.",
    )
    log_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Days the delivery log is kept before it is purged."
    )
    concurrency: int = Field(default=16, ge=1, le=1000, description="Deliveries in flight at once.")


class SchedulerSettings(BaseModel):
    model_config = _SECTION_CONFIG

    tick_seconds: float = Field(
        default=1.0,
        ge=0.01,
        le=3600,
        allow_inf_nan=False,
        description="Interval of the scheduler's loop over the outbox and housekeeping.",
    )


class SlaSettings(BaseModel):
    model_config = _SECTION_CONFIG

    escalation_levels_days: list[PositiveDays] = Field(
        default_factory=lambda: [7, 30],
        max_length=20,
        description=(
            "Days past due_date at which an open action escalates further; level 1 is "
            "due_date itself (§7). Strictly increasing."
        ),
    )

    @field_validator("escalation_levels_days")
    @classmethod
    def _strictly_increasing(cls, value: list[int]) -> list[int]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("must be strictly increasing")
        return value


class StorageSettings(BaseModel):
    model_config = _SECTION_CONFIG

    busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        le=600_000,
        description="How long SQLite waits for a lock before the request fails with 503 (§8).",
    )


class LoggingSettings(BaseModel):
    model_config = _SECTION_CONFIG

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest log level written."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        # "INFO" is what people type after years of Python logging; accept it.
        return value.lower() if isinstance(value, str) else value


class Settings(BaseModel):
    """All settings; every section is optional in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Not a file setting: it comes from --data-dir / RELIATIC_DATA_DIR (resolve_data_dir).
    data_dir: Path
    server: ServerSettings = Field(default_factory=ServerSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


def _section_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, info in Settings.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out[name] = info.annotation
    return out


SECTIONS: Mapping[str, type[BaseModel]] = _section_models()


def env_var_name(section: str, key: str) -> str:
    """The environment variable that sets ``[section] key``."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _iter_fields() -> Iterator[tuple[str, str, FieldInfo]]:
    for section, model in SECTIONS.items():
        for key, info in model.model_fields.items():
            yield section, key, info


def _is_secret(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, help) for every file/env setting, in declaration order."""
    return [
        (section, key, info.get_default(call_default_factory=True), info.description or "")
        for section, key, info in _iter_fields()
    ]


def redacted_dump(settings: Settings) -> dict[str, Any]:
    """JSON-ready dump of ``settings`` with secret values masked (for logs and ``--json``)."""
    data = settings.model_dump(mode="json")
    for section, key, info in _iter_fields():
        if _is_secret(info) and data[section][key] is not None:
            data[section][key] = REDACTED
    return data


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


# --- loading -------------------------------------------------------------------------------


# One layer: section -> key -> (value as the layer gave it, the source to name in errors).
_Layer = dict[str, dict[str, tuple[Any, str]]]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unknown_key(
    source: str, section: str, key: str, known: list[str], *, env: bool = False
) -> str:
    # Typo protection: name the nearest real key, spelt the way this source spells keys.
    close = difflib.get_close_matches(key.lower(), known, n=1)
    if close:
        hint = f"did you mean {env_var_name(section, close[0]) if env else repr(close[0])}?"
    else:
        hint = f"known keys: {', '.join(known)}"
    return f"{source}: [{section}] {key}: unknown setting; {hint}"


def _reason(msg: str) -> str:
    # pydantic prefixes messages of our own ValueErrors; the user needs only the reason.
    return msg.removeprefix("Value error, ")


def _validate(
    section: str,
    entries: Mapping[str, tuple[Any, str]],
    *,
    partial: bool,
    strict: bool = False,
) -> BaseModel:
    """Validate ``entries`` (key -> (value, source)) as ``section``; errors name the source."""
    values = {key: value for key, (value, _) in entries.items()}
    sources = {key: source for key, (_, source) in entries.items()}
    context = _PARTIAL if partial else None
    try:
        return SECTIONS[section].model_validate(values, strict=strict, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"]
            if loc and isinstance(loc[0], str):
                key = loc[0] + "".join(f"[{part}]" for part in loc[1:])
                where = f"[{section}] {key}"
                source = sources.get(loc[0], "defaults")
            else:  # a check across keys: name every source that set a key of this section
                where = f"[{section}]"
                source = ", ".join(dict.fromkeys(sources.values())) or "defaults"
            problems.append(f"{source}: {where}: {_reason(err['msg'])}")
        raise SettingsError(_one_line("; ".join(problems))) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line N, column M)"; Python 3.11 has no lineno attribute.
        raise SettingsError(_one_line(f"{path}: invalid TOML: {exc}")) from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _file_layer(path: Path) -> _Layer:
    data = _read_file(path)
    source = str(path)
    layer: _Layer = {}
    for section, values in data.items():
        if section not in SECTIONS:
            if section == "data_dir":
                why = "not a file setting; use --data-dir or RELIATIC_DATA_DIR"
            elif not isinstance(values, dict):
                why = "settings belong in a section such as [server]"
            else:
                why = f"unknown section; known sections: {', '.join(SECTIONS)}"
            raise SettingsError(f"{source}: {section}: {why}")
        if not isinstance(values, dict):
            raise SettingsError(f"{source}: [{section}]: must be a table")
        known = list(SECTIONS[section].model_fields)
        for key in values:
            if key not in known:
                raise SettingsError(_unknown_key(source, section, key, known))
        layer[section] = {key: (value, source) for key, value in values.items()}
    return layer


def _parse_env_value(annotation: Any, raw: str) -> Any:
    """Turn an env string into what the field's type expects; the model does the rest."""
    text = raw.strip()
    if get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation):
        if not text:  # RELIATIC_SERVER_TLS_CERT= clears an optional setting from the file
            return None
        annotation = next(a for a in get_args(annotation) if a is not NoneType)
    if annotation is bool:
        try:
            return _BOOL_WORDS[text.lower()]
        except KeyError:
            raise ValueError("expected one of true/false/1/0/yes/no") from None
    if get_origin(annotation) is list:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a JSON array such as [1, 2, 3] ({exc.msg})") from None
        if not isinstance(value, list):
            raise ValueError("expected a JSON array such as [1, 2, 3]")
        return value
    # Numbers, paths, strings, choices: pydantic's lax mode parses the string itself.
    return text


def _env_section(name: str) -> str | None:
    # Longest match first, so a section named like the prefix of another cannot capture it.
    for section in sorted(SECTIONS, key=len, reverse=True):
        if name.startswith(f"{ENV_PREFIX}{section.upper()}_"):
            return section
    return None


def _env_layer(env: Mapping[str, str]) -> _Layer:
    layer: _Layer = {}
    for name in sorted(env):  # sorted: the same error first however the env is ordered
        if name in (ENV_DATA_DIR, ENV_CONFIG):
            continue
        section = _env_section(name)
        if section is None:  # not ours (or a future section): leave it alone
            continue
        fields = SECTIONS[section].model_fields
        rest = name[len(ENV_PREFIX) + len(section) + 1 :]
        key = rest.lower()
        if key not in fields or rest != key.upper():
            raise SettingsError(_unknown_key(name, section, rest, list(fields), env=True))
        try:
            value = _parse_env_value(fields[key].annotation, env[name])
        except ValueError as exc:
            raise SettingsError(f"{name}: [{section}] {key}: {exc}") from None
        layer.setdefault(section, {})[key] = (value, name)
    return layer


def _overrides_layer(overrides: Mapping[str, Mapping[str, Any]]) -> _Layer:
    layer: _Layer = {}
    for section, values in overrides.items():
        if section not in SECTIONS:
            raise SettingsError(f"{OVERRIDES_SOURCE}: [{section}]: unknown section")
        known = list(SECTIONS[section].model_fields)
        # None means "flag not given" (argparse's default), so the lower layers stand.
        given = {key: value for key, value in values.items() if value is not None}
        for key in given:
            if key not in known:
                raise SettingsError(_unknown_key(OVERRIDES_SOURCE, section, key, known))
        layer[section] = {key: (value, OVERRIDES_SOURCE) for key, value in given.items()}
    return layer


def load_settings(
    *,
    data_dir: Path,
    config_file: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Settings from ``config_file`` (if any) < ``env`` < ``overrides``; SettingsError if bad.

    ``config_file`` is used as given: pass ``default_config_file(env)`` for SPEC §2's default.
    A given file that does not exist is an error (a typo must not silently mean defaults).
    """
    # (layer, strict): TOML values are typed, so the file gets no coercion (`port = true` is an
    # error, not port 1); env strings and flags are parsed from text, so they need it.
    layers = [(_file_layer(config_file), True)] if config_file is not None else []
    layers += [(_env_layer(env), False), (_overrides_layer(overrides or {}), False)]
    # Each layer on its own first, so an error names where the bad value came from.
    for layer, strict in layers:
        problems = []
        for section, entries in layer.items():
            try:
                _validate(section, entries, partial=True, strict=strict)
            except SettingsError as exc:  # report every bad section of this source at once
                problems.append(str(exc))
        if problems:
            raise SettingsError("; ".join(problems))

    sections: dict[str, BaseModel] = {}
    for section in SECTIONS:
        merged: dict[str, tuple[Any, str]] = {}
        for layer, _ in layers:  # later layers win key by key
            merged.update(layer.get(section, {}))
        # Every value already passed; only checks across keys can fail here.
        sections[section] = _validate(section, merged, partial=False)
    return Settings.model_validate({"data_dir": data_dir, **sections})
