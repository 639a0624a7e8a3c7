"""Reading the settings (SPEC §2): the TOML file, then ``RELIATIC_*`` variables, then flags.

Each layer is validated on its own before the layers are merged, so an error names the file or
variable the bad value came from, the key and the reason ("each value validated where it came
from"). Checks that relate two keys run once more on the merged result. What the options are
is ``table.py``'s business; this module only knows how to read them.
"""

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from reliatic_appliance.settings.table import (
    ENV_PREFIX,
    PARTIAL,
    SECTIONS,
    Settings,
    env_var_name,
)

ENV_DATA_DIR = "RELIATIC_DATA_DIR"
ENV_CONFIG = "RELIATIC_CONFIG"
# Read by the project's own tooling, never by the appliance, which may see them all the same:
# tests/test_fuzz.py takes its seed and example count from the first two, and the servers it
# starts inherit the environment; packaging/verify-unit.sh marks its re-run with the third.
TOOLING_ENV = frozenset(
    {"RELIATIC_FUZZ_SEED", "RELIATIC_FUZZ_EXAMPLES", "RELIATIC_VERIFY_UNIT_INNER"}
)
OVERRIDES_SOURCE = "command line"
_BOOL_WORDS = MappingProxyType(
    {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
)


class SettingsError(Exception):
    """A bad setting; ``str()`` is one line naming the source, the key and the reason."""


@dataclass(frozen=True)
class Origin:
    """Where an effective value came from (``reliatic config show``): ``default``, ``file``
    (``name``: its path), ``env`` (``name``: the variable) or ``flag``."""

    kind: str
    name: str | None = None


DEFAULT = Origin("default")


@dataclass(frozen=True)
class Traced:
    """Settings, and the origin of each value by dotted name (``server.port``)."""

    settings: Settings
    origins: Mapping[str, Origin]


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
    context = {PARTIAL: True} if partial else None
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


# --- the file ------------------------------------------------------------------------------


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


def _not_a_section(source: str, section: str, values: Any) -> SettingsError:
    if section == "data_dir":
        why = f"not a file setting; use --data-dir or {ENV_DATA_DIR}"
    elif not isinstance(values, dict):
        why = "settings belong in a section such as [server]"
    else:
        why = f"unknown section; known sections: {', '.join(SECTIONS)}"
    return SettingsError(f"{source}: {section}: {why}")


def _file_layer(path: Path) -> _Layer:
    data = _read_file(path)
    source = str(path)
    layer: _Layer = {}
    for section, values in data.items():
        if section not in SECTIONS:
            raise _not_a_section(source, section, values)
        if not isinstance(values, dict):
            raise SettingsError(f"{source}: [{section}]: must be a table")
        known = list(SECTIONS[section].model_fields)
        for key in values:
            if key not in known:
                raise SettingsError(_unknown_key(source, section, key, known))
        layer[section] = {key: (value, source) for key, value in values.items()}
    return layer


# --- the environment -----------------------------------------------------------------------


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
        if section is None:  # not a section's: check_environment's business, not this layer's
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


def check_environment(env: Mapping[str, str]) -> None:
    """Refuse a ``RELIATIC_*`` variable that no setting reads (a typo must not mean defaults).

    ``load_settings`` reports a bad key of a known section (``RELIATIC_SERVER_PROT``); this
    catches the rest, which it leaves alone: a misspelt section (``RELIATIC_SERVR_PORT``) or
    location (``RELIATIC_DATADIR``). Commands call it before anything reads the environment.
    """
    settings = [env_var_name(s, k) for s, model in SECTIONS.items() for k in model.model_fields]
    real = [ENV_DATA_DIR, ENV_CONFIG, *settings]
    for name in sorted(env):  # sorted: the same error first however the env is ordered
        if not name.upper().startswith(ENV_PREFIX) or name in TOOLING_ENV:
            continue
        if name in (ENV_DATA_DIR, ENV_CONFIG) or _env_section(name) is not None:
            continue
        raise SettingsError(f"{name}: unknown environment variable; {_nearest(name, real)}")


def _nearest(name: str, real: Iterable[str]) -> str:
    # Compared without the prefix they all share, which would make every name look close.
    tails = {candidate[len(ENV_PREFIX) :]: candidate for candidate in real}
    close = difflib.get_close_matches(name[len(ENV_PREFIX) :].upper(), list(tails), n=1)
    if close:
        return f"did you mean {tails[close[0]]}?"
    return f"known: {ENV_DATA_DIR}, {ENV_CONFIG} and {ENV_PREFIX}<SECTION>_<KEY>"


# --- flags and the whole -------------------------------------------------------------------


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


def _check_each_layer(layers: list[tuple[_Layer, bool]]) -> None:
    """Each layer on its own, so an error names where the bad value came from."""
    for layer, strict in layers:
        problems = []
        for section, entries in layer.items():
            try:
                _validate(section, entries, partial=True, strict=strict)
            except SettingsError as exc:  # report every bad section of this source at once
                problems.append(str(exc))
        if problems:
            raise SettingsError("; ".join(problems))


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
    return load_settings_traced(
        data_dir=data_dir, config_file=config_file, env=env, overrides=overrides
    ).settings


def load_settings_traced(
    *,
    data_dir: Path,
    config_file: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Traced:
    """``load_settings``, and where each file/env setting's value came from."""
    # (layer, strict, kind): TOML values are typed, so the file gets no coercion (`port = true`
    # is an error, not port 1); env strings and flags are parsed from text, so they need it.
    layers = [(_file_layer(config_file), True, "file")] if config_file is not None else []
    layers += [(_env_layer(env), False, "env"), (_overrides_layer(overrides or {}), False, "flag")]
    _check_each_layer([(layer, strict) for layer, strict, _ in layers])
    sections: dict[str, BaseModel] = {}
    origins: dict[str, Origin] = {}
    for section, model in SECTIONS.items():
        merged: dict[str, tuple[Any, str]] = {}
        for key in model.model_fields:
            origins[f"{section}.{key}"] = DEFAULT
        for layer, _, kind in layers:  # later layers win key by key
            entries = layer.get(section, {})
            merged.update(entries)
            for key, (_, source) in entries.items():
                origins[f"{section}.{key}"] = Origin(kind, None if kind == "flag" else source)
        # Every value already passed; only checks across keys can fail here.
        sections[section] = _validate(section, merged, partial=False)
    try:
        settings = Settings.model_validate({"data_dir": data_dir, **sections})
    except ValidationError as exc:  # a check across sections
        reasons = "; ".join(_reason(err["msg"]) for err in exc.errors())
        raise SettingsError(_one_line(reasons)) from None
    return Traced(settings, MappingProxyType(origins))
