"""`reliatic init --tls` and `serve` over HTTPS (SPEC §2, §8): the real command, the real
server in a subprocess, clients that trust exactly the certificate it made."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from reliatic_appliance.api.protocol import AppRunner
from reliatic_appliance.cli.tls import set_server_keys
from reliatic_appliance.timefmt import utc_now
from reliatic_appliance.tlscert import make_self_signed, server_context
from tests.process import CLI, Server, cli, free_port, start_server


def init_tls(data_dir: Path, config: Path, *args: str) -> dict:
    result = cli(data_dir, "--config", str(config), "init", "--tls", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    return data_dir, tmp_path / "etc" / "reliatic.toml"


def test_init_tls_makes_a_pair_and_the_config_that_uses_it(layout: tuple[Path, Path]) -> None:
    data_dir, config = layout
    made = init_tls(data_dir, config, "--host", "reliatic.plant.local", "--host", "10.1.2.3")
    cert, key = Path(made["certificate"]), Path(made["key"])
    assert cert.parent == config.parent / "tls"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    server = tomllib.loads(config.read_text())["server"]
    assert server == {"tls_cert": str(cert), "tls_key": str(key)}
    sans = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert sans.value.get_values_for_type(x509.DNSName) == ["reliatic.plant.local", "localhost"]
    assert [str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)] == [
        "10.1.2.3",
        "127.0.0.1",
        "::1",
    ]
    assert made["curl"].startswith(f"curl -s --cacert {cert} https://127.0.0.1:8080")

    again = init_tls(data_dir, config)
    assert again["created"] is False and again["config_changed"] is False
    assert again["sha256_fingerprint"] == made["sha256_fingerprint"]
    forced = init_tls(data_dir, config, "--force")
    assert forced["created"] is True
    assert forced["sha256_fingerprint"] != made["sha256_fingerprint"]


def test_init_tls_never_replaces_another_certificate_by_accident(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, config = layout
    config.parent.mkdir(parents=True)
    plant = f'[server]\ntls_cert = "{tmp_path}/plant.crt"\ntls_key = "{tmp_path}/plant.key"\n'
    config.write_text(plant)
    refused = cli(data_dir, "--config", str(config), "init", "--tls")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"reliatic: error: [server] tls_cert already names {tmp_path}/plant.crt; --force"
        f" replaces it with a self-signed certificate in {config.parent / 'tls'}"
    )
    assert config.read_text() == plant and not (config.parent / "tls").exists()
    assert init_tls(data_dir, config, "--force")["config_changed"] is True


def test_init_tls_without_a_config_file_says_how_to_name_one(tmp_path: Path) -> None:
    result = cli(tmp_path / "data", "init", "--tls", env={"RELIATIC_CONFIG": ""})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("reliatic: error: no configuration file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_demo_curl_lines_say_https_and_cacert(layout: tuple[Path, Path]) -> None:
    data_dir, config = layout
    made = init_tls(data_dir, config)
    result = cli(data_dir, "--config", str(config), "demo", "--json")
    assert result.returncode == 0, result.stderr
    curl = json.loads(result.stdout)["curl"]
    assert curl.startswith(f"curl -s --cacert {made['certificate']} ")
    assert "'https://127.0.0.1:8080/api/v1/assets?per_page=5'" in curl


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("", '[server]\ntls_cert = "/c"\ntls_key = "/k"\n', id="empty-file"),
        pytest.param(
            '[server]\n#tls_cert = "/x"\n# help\n#tls_key = "/y"\nport = 1\n[webhooks]\n',
            '[server]\n#tls_cert = "/x"\ntls_cert = "/c"\n# help\n#tls_key = "/y"\n'
            'tls_key = "/k"\nport = 1\n[webhooks]\n',
            id="after-the-commented-defaults",
        ),
        pytest.param(
            '[server]\ntls_key = "/old"\ntls_cert = "/old"\n',
            '[server]\ntls_key = "/k"\ntls_cert = "/c"\n',
            id="replaces-active-lines",
        ),
        pytest.param(
            '[logging]\nlevel = "info"\n',
            '[logging]\nlevel = "info"\n\n[server]\ntls_cert = "/c"\ntls_key = "/k"\n',
            id="appends-a-section",
        ),
        pytest.param(
            '[webhooks]\ntls_cert = "/other"\n[server]\n',
            '[webhooks]\ntls_cert = "/other"\n[server]\ntls_cert = "/c"\ntls_key = "/k"\n',
            id="only-in-server",
        ),
    ],
)
def test_set_server_keys_edits_only_the_server_section(before: str, after: str) -> None:
    assert set_server_keys(before, {"tls_cert": "/c", "tls_key": "/k"}) == after


# --- serving --------------------------------------------------------------------------------


@pytest.fixture
def https_server(layout: tuple[Path, Path]) -> Iterator[tuple[Server, Path]]:
    data_dir, config = layout
    made = init_tls(data_dir, config)
    server = start_server(data_dir, {"RELIATIC_CONFIG": str(config)})
    yield server, Path(made["certificate"])
    server.stop()


def https_get(port: int, path: str, cafile: Path, *, host: str = "127.0.0.1") -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    # Connect to loopback, but check the certificate against `host`, as a client that
    # typed https://<host>/ would.
    if host != "127.0.0.1":
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sock = context.wrap_socket(sock, server_hostname=host)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


def test_serve_speaks_https_with_the_certificate_init_made(
    https_server: tuple[Server, Path],
) -> None:
    server, cert = https_server
    assert https_get(server.port, "/healthz", cert) == (200, '{"status":"ok"}')
    assert https_get(server.port, "/readyz", cert, host="localhost")[0] == 200
    listening = next(line for line in server.log_lines() if line.get("msg") == "listening")
    assert listening["url"].startswith("https://")


def test_a_name_not_in_the_certificate_does_not_verify(
    https_server: tuple[Server, Path],
) -> None:
    server, cert = https_server
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        https_get(server.port, "/healthz", cert, host="not-this-host.example")


def test_a_client_that_does_not_trust_the_certificate_is_refused(
    https_server: tuple[Server, Path], tmp_path: Path
) -> None:
    server, _ = https_server
    other = tmp_path / "other.pem"
    other.write_bytes(make_self_signed(["localhost", "127.0.0.1"], now=utc_now()).cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(server.port, "/healthz", other)


def test_plain_http_to_the_tls_port_fails_cleanly_and_https_goes_on(
    https_server: tuple[Server, Path],
) -> None:
    server, cert = https_server
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.request("GET", "/healthz")
        conn.getresponse()
    conn.close()
    assert https_get(server.port, "/healthz", cert)[0] == 200
    assert server.process.poll() is None


def _serve_fails(data_dir: Path, config: Path) -> str:
    port = free_port()
    result = subprocess.run(
        [*CLI, "--data-dir", str(data_dir), "--config", str(config), "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_key_that_is_not_the_certificates_is_refused_at_start(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, config = layout
    made = init_tls(data_dir, config)
    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(make_self_signed(["localhost"], now=utc_now()).key_pem)
    config.write_text(f'[server]\ntls_cert = "{made["certificate"]}"\ntls_key = "{stranger}"\n')
    line = _serve_fails(data_dir, config)
    assert line == (
        f"reliatic: error: [server] tls_key {stranger} does not belong to tls_cert"
        f" {made['certificate']} (the key and the certificate must be a pair)"
    )


def test_a_missing_certificate_is_refused_at_start(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, config = layout
    config.parent.mkdir(parents=True)
    config.write_text(f'[server]\ntls_cert = "{tmp_path}/nope.crt"\ntls_key = "{tmp_path}/k"\n')
    line = _serve_fails(data_dir, config)
    assert line == (
        f"reliatic: error: [server] tls_cert {tmp_path}/nope.crt: cannot read:"
        " No such file or directory"
    )


async def test_requests_over_this_tls_are_secure_for_aiohttp(tmp_path: Path) -> None:
    """The `auth` branch sets cookies' `Secure` from `request.secure`: under our runner and
    context it must say True (and False over plain HTTP)."""
    made = make_self_signed(["localhost", "127.0.0.1"], now=utc_now())
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(made.cert_pem)
    key.write_bytes(made.key_pem)

    async def secure(request: web.Request) -> web.Response:
        return web.json_response({"secure": request.secure, "scheme": request.scheme})

    app = web.Application()
    app.router.add_get("/", secure)
    runner = AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context(cert, key))
    await site.start()
    try:
        client_ssl = ssl.create_default_context(cafile=str(cert))
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{port}/", ssl=client_ssl) as response,
        ):
            assert await response.json() == {"secure": True, "scheme": "https"}
    finally:
        await runner.cleanup()
