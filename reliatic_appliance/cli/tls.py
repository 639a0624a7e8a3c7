"""`reliatic init --tls`: a self-signed certificate for the server's names, and the config
that serves HTTPS with it (SPEC §2, §8).

Where the files go: a `tls/` directory beside the configuration file that records them, so
on an installed appliance `/etc/reliatic/tls/` (run as root: the key then belongs to the
`reliatic` user, mode 0600; the unit's `ProtectSystem=strict` leaves /etc readable). Not the
data dir: a backup of the data must not carry the server's private key around, and root's
CLI has no data dir of its own on the appliance. A plant CA's certificate replaces these
files, or is named in `[server] tls_cert, tls_key` instead (docs/install.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import pwd
import re
import socket
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reliatic_appliance.cli.context import (
    CliContext,
    CliError,
    curl_command,
    environment,
    server_url,
)
from reliatic_appliance.settings import (
    SYSTEM_USER,
    SettingsError,
    default_config_file,
    env_var_name,
    load_settings,
)
from reliatic_appliance.timefmt import format_ts, utc_now
from reliatic_appliance.tlscert import (
    TlsError,
    make_self_signed,
    read_certificate,
    server_context,
    subject_names,
)

CERT_NAME = "reliatic.crt"
KEY_NAME = "reliatic.key"
_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")


def config_path(args_config: str | None) -> Path | None:
    """The file `serve` will read: --config, else RELIATIC_CONFIG, else the system file."""
    if args_config is not None:
        return Path(args_config).expanduser()
    return default_config_file(environment())


def default_names(listen_host: str) -> list[str]:
    """The host's names and addresses: what clients on the box and the LAN will type."""
    hostname = socket.gethostname()
    names = [hostname, socket.getfqdn(), "localhost", "127.0.0.1", "::1"]
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP):
            names.append(str(info[4][0]))
    # The address of the default route, found without sending anything (a UDP "connect"
    # only picks a route); absent on a machine with no route, which is fine.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never answered, never sent
        names.append(str(s.getsockname()[0]))
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(listen_host).is_unspecified:
            names.append(listen_host)
    return [n for n in dict.fromkeys(names) if n and not n.startswith("fe80")]


def _service_user() -> pwd.struct_passwd | None:
    """The `reliatic` user, when root makes the files for the packaged service."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None


def _write_private(path: Path, data: bytes, mode: int, owner: pwd.struct_passwd | None) -> None:
    """Write `data` to `path` atomically, created with `mode` (never wider, not even briefly)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _toml_string(value: str) -> str:
    # JSON's escapes are a subset of TOML basic strings' (\" \\ \n \uXXXX).
    return json.dumps(value)


def set_server_keys(text: str, values: dict[str, str]) -> str:
    """`text` (a TOML file) with `[server] key = "value"` for each of `values`, comments and
    everything else kept: an existing line is replaced, a commented-out default
    (`#tls_cert = ...`) gets the real line right after it, else it goes after `[server]`."""
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if (m := _SECTION.match(line)) and m[1] == "server"),
        None,
    )
    if start is None:
        tail = [] if not lines or not lines[-1].strip() else [""]
        body = [f"{k} = {_toml_string(v)}" for k, v in values.items()]
        return "\n".join([*lines, *tail, "[server]", *body]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _SECTION.match(lines[i])), len(lines))
    fallback = start + 1
    for key, value in values.items():
        line = f"{key} = {_toml_string(value)}"
        active = re.compile(rf"^\s*{key}\s*=")
        commented = re.compile(rf"^\s*#\s*{key}\s*=")
        section = range(start + 1, end)
        hit = next((i for i in section if active.match(lines[i])), None)
        if hit is not None:
            lines[hit] = line
            continue
        hint = next((i for i in section if commented.match(lines[i])), None)
        at = fallback if hint is None else hint + 1
        lines.insert(at, line)
        end += 1
        fallback += at <= fallback  # keys without a hint keep their order under the header
    return "\n".join(lines) + "\n"


def _update_config(path: Path, cert: Path, key: Path) -> bool:
    """Point `[server] tls_cert, tls_key` of `path` at the pair; False if already so."""
    try:
        before = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    after = set_server_keys(before, {"tls_cert": str(cert), "tls_key": str(key)})
    try:
        server = tomllib.loads(after).get("server", {})
    except tomllib.TOMLDecodeError:
        server = {}
    if server.get("tls_cert") != str(cert) or server.get("tls_key") != str(key):
        raise CliError(
            f"{path}: could not set [server] tls_cert and tls_key in it; set them by hand to"
            f" {cert} and {key}"
        )
    if after == before:
        return False
    stat = path.stat() if path.exists() else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o644 if stat is None else stat.st_mode & 0o777
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            os.fchmod(fd, mode)
            if stat is not None and os.geteuid() == 0:
                os.fchown(fd, stat.st_uid, stat.st_gid)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(after)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CliError(f"{path}: cannot write: {exc.strerror or exc} (run as root?)") from None
    return True


def _fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def run_init_tls(ctx: CliContext, *, config: str | None, hosts: list[str], force: bool) -> int:
    path = config_path(config)
    if path is None:
        raise CliError(
            "no configuration file to record [server] tls_cert and tls_key in: pass"
            " --config FILE (created if missing) or set RELIATIC_CONFIG"
        )
    for name in ("tls_cert", "tls_key"):
        if env_var_name("server", name) in environment():
            raise CliError(
                f"{env_var_name('server', name)} is set and would override {path}; unset it first"
            )
    directory = path.parent / "tls"
    cert_file, key_file = directory / CERT_NAME, directory / KEY_NAME
    current = ctx.settings.server.tls_cert
    if current is not None and current != cert_file and not force:
        # Most likely the plant CA's certificate (docs/install.md): never undone by accident.
        raise CliError(
            f"[server] tls_cert already names {current}; --force replaces it with a"
            f" self-signed certificate in {directory}"
        )
    owner = _service_user()
    kept = cert_file.exists() and key_file.exists() and not force
    try:
        directory.mkdir(mode=0o755 if owner is None else 0o750, parents=True, exist_ok=True)
        if owner is not None:
            os.chown(directory, 0, owner.pw_gid)
        if not kept:
            # Given names, plus loopback: on the box itself (selftest, curl) it always works.
            names = (
                [*hosts, "localhost", "127.0.0.1", "::1"]
                if hosts
                else default_names(ctx.settings.server.host)
            )
            made = make_self_signed(names, now=utc_now())
            _write_private(key_file, made.key_pem, 0o600, owner)
            _write_private(cert_file, made.cert_pem, 0o644, None)
    except OSError as exc:
        raise CliError(f"{directory}: cannot write: {exc.strerror or exc} (run as root?)") from None
    except TlsError as exc:
        raise CliError(str(exc)) from None
    try:
        server_context(cert_file, key_file)  # the pair must load, as serve will load it
        cert = read_certificate(cert_file)
    except TlsError as exc:
        raise CliError(f"{exc}; replace the pair or run 'reliatic init --tls --force'") from None
    changed = _update_config(path, cert_file, key_file)
    try:  # the whole file must still be a valid config, as serve will read it
        settings = load_settings(
            data_dir=ctx.data_dir, config_file=path, env=environment(), overrides=None
        )
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    result: dict[str, Any] = {
        "certificate": str(cert_file),
        "key": str(key_file),
        "created": not kept,
        "names": subject_names(cert),
        "not_after": format_ts(cert.not_valid_after_utc),
        "sha256_fingerprint": _fingerprint(cert),
        "config": str(path),
        "config_changed": changed,
        "key_owner": owner.pw_name if owner else None,
        "curl": f"{curl_command(settings)} {server_url(settings)}/healthz",
    }
    verb = "kept the existing" if kept else "made a self-signed"
    lines = [
        f"{verb} certificate {cert_file} (until {result['not_after']}"
        + ("; --force makes a new one)" if kept else ")"),
        f"  names: {', '.join(result['names'])}",
        f"  SHA-256 fingerprint: {result['sha256_fingerprint']}",
        f"key {key_file} (mode 0600{', owner ' + owner.pw_name if owner else ''})",
        f"{path}: [server] tls_cert and tls_key " + ("set" if changed else "already point at them"),
        "restart the server to serve HTTPS (installed: systemctl restart reliatic), then:",
        f"  {result['curl']}",
    ]
    ctx.emit(result, lines)
    return 0
