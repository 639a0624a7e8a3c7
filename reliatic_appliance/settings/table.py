"""The table of settings (SPEC §2): every option once, with its default, type, bounds and help.

Each option is a field of one of the section models below: the annotation is its type, the
``Field`` its default and bounds, its ``description`` the help text (``describe_settings``
renders the table for the docs, and a test checks ``systemd/reliatic.toml`` against it).

Secrets: a setting whose *value* gives access to something is a secret — a password, a token,
a DSN that holds a password, the contents of a private key. A *path* to a key file is not (the
file's owner and mode protect it, and an operator needs to see which file is used). A secret
setting says so with ``Field(..., json_schema_extra=SECRET)``; ``redacted_dump``, which every
display of the settings goes through (``reliatic config show``, logs), masks its value.
``[storage] dsn`` and ``admin_dsn`` are (SPEC §11: a PostgreSQL DSN can hold a password).

Reading the options from a file, the environment and flags is ``loader.py``'s job.
"""

import ipaddress
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

ENV_PREFIX = "RELIATIC_"
REDACTED = "********"
# ``json_schema_extra`` of a secret setting (module doc).
SECRET: dict[str, Any] = {"secret": True}
GIB = 1024**3

_SECTION_CONFIG = ConfigDict(extra="forbid", frozen=True)
# Set in the validation context of a single layer (loader.py): checks that relate two keys wait
# for the merged result, since the file may set one key of a pair and the environment the other.
PARTIAL = "partial"


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
    event_loop: Literal["asyncio", "uvloop"] = Field(
        default="asyncio",
        description=(
            "The event loop `reliatic serve` runs on: Python's own, or uvloop (the `uvloop`"
            " extra; see bench/results/latest.md for what it gives)."
        ),
    )

    @model_validator(mode="after")
    def _tls_pair(self, info: ValidationInfo) -> Self:
        if (info.context or {}).get(PARTIAL):
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
    nodes: int = Field(
        default=1,
        ge=1,
        le=1000,
        description=(
            "API nodes serving one PostgreSQL database behind a load balancer: each admits "
            "limit / nodes (at least 1) per window, so the sum across nodes holds (§11); "
            "the login throttle's 10 failures are shared out the same way."
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
    backend: Literal["sqlite", "postgresql"] = Field(
        default="sqlite",
        description=(
            "Where the data lives: sqlite (files in the data dir, nothing to configure) or "
            "postgresql (one database for every tenant, several nodes; needs dsn) (§11)."
        ),
    )
    dsn: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        json_schema_extra=SECRET,
        description=(
            "PostgreSQL connection string of the server's role (a member of reliatic_server, "
            "owning nothing); used when backend is postgresql. May hold a password: a secret."
        ),
    )
    admin_dsn: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        json_schema_extra=SECRET,
        description=(
            "PostgreSQL connection string of the role that owns the tables and applies the "
            "migrations at start; unset: dsn is used (docs/postgresql.md). A secret."
        ),
    )

    pool_size: int = Field(
        default=10,
        ge=1,
        le=500,
        description=(
            "PostgreSQL: connections this node keeps to the database, and threads running "
            "transactions on them; every node counts against the server's max_connections "
            "(docs/postgresql.md)."
        ),
    )

    @model_validator(mode="after")
    def _dsn_for_postgresql(self, info: ValidationInfo) -> Self:
        if (info.context or {}).get(PARTIAL):
            return self
        if self.backend == "postgresql" and self.dsn is None:
            raise ValueError('backend "postgresql" needs dsn')
        return self


class BackupSettings(BaseModel):
    model_config = _SECTION_CONFIG

    dir: ConfigPath | None = Field(
        default=None,
        description=(
            "Where scheduled backups go, one directory per run; relative to the data dir"
            " unless absolute (unset: <data dir>/backups). Best on another disk; a backup"
            " holds the master key, so keep it like the key (§8)."
        ),
    )
    interval_minutes: int = Field(
        default=0,
        ge=0,
        le=525_600,
        description="Minutes between scheduled backups; 0 turns them off.",
    )
    keep: int = Field(
        default=7, ge=1, le=10_000, description="Scheduled backups kept; older ones are pruned."
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


def _to_network(value: Any) -> Any:
    # ipaddress's own reason ("... has host bits set") says more than pydantic's.
    if isinstance(value, str):
        return ipaddress.ip_network(value.strip(), strict=True)
    return value


# An address (`192.0.2.7`, a network of one) or a CIDR network (`10.20.0.0/16`, `fd00::/8`).
Network = Annotated[IPvAnyNetwork, BeforeValidator(_to_network)]


class MetricsSettings(BaseModel):
    model_config = _SECTION_CONFIG

    allow: list[Network] = Field(
        default_factory=list,
        max_length=1000,
        description=(
            "Addresses or CIDR networks that may scrape /metrics without a key, besides "
            "loopback; anyone else needs a key with metrics:read (§3). The socket's peer "
            "address counts, never X-Forwarded-For."
        ),
    )


class SessionSettings(BaseModel):
    model_config = _SECTION_CONFIG

    idle_minutes: int = Field(
        default=12 * 60,
        ge=1,
        le=30 * 24 * 60,
        description="An admin-panel session ends after this many minutes without a request (§4).",
    )
    absolute_hours: int = Field(
        default=7 * 24,
        ge=1,
        le=365 * 24,
        description="An admin-panel session ends this many hours after login, however used (§4).",
    )
    hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description=(
            "Password hashes computed at once (each takes 19 MiB and a core for ~50 ms); "
            "more logins wait their turn (§4)."
        ),
    )


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
    backup: BackupSettings = Field(default_factory=BackupSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    sessions: SessionSettings = Field(default_factory=SessionSettings)

    @model_validator(mode="after")
    def _scheduled_backups_are_of_files(self, info: ValidationInfo) -> Self:
        if (info.context or {}).get(PARTIAL):
            return self
        if self.storage.backend == "postgresql" and self.backup.interval_minutes:
            raise ValueError(
                "[backup] interval_minutes copies the SQLite files of the data dir; with"
                ' [storage] backend = "postgresql" schedule pg_dump (docs/postgresql.md)'
            )
        return self


def _section_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, info in Settings.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out[name] = info.annotation
    return out


# Read-only: the table is declared once, above, and nothing changes it at run time.
SECTIONS: Mapping[str, type[BaseModel]] = MappingProxyType(_section_models())


def env_var_name(section: str, key: str) -> str:
    """The environment variable that sets ``[section] key``."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _iter_fields() -> Iterator[tuple[str, str, FieldInfo]]:
    for section, model in SECTIONS.items():
        for key, info in model.model_fields.items():
            yield section, key, info


def is_secret(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, help) for every file/env setting, in declaration order."""
    return [
        (section, key, info.get_default(call_default_factory=True), info.description or "")
        for section, key, info in _iter_fields()
    ]


def redacted_dump(settings: BaseModel) -> dict[str, Any]:
    """JSON-ready dump of ``settings`` with secret values masked (for logs and ``--json``).

    Walks the sections of the model it is given, so any model shaped like ``Settings`` is
    redacted by the same rule."""
    data = settings.model_dump(mode="json")
    for section, section_info in type(settings).model_fields.items():
        model = section_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for key, info in model.model_fields.items():
            if is_secret(info) and data[section][key] is not None:
                data[section][key] = REDACTED
    return data
