"""`reliatic user create|list|disable|invite` as an operator runs them (subprocess, real
files), and the users they make logging in to a real server."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from tests.conftest import make_settings
from tests.pg_cluster import backend_env
from tests.process import CLI, cli, cli_json

PASSWORD = "correct horse battery staple"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    cli(path, "init")
    cli(path, "tenant", "create", "acme")
    return path


def create(data_dir: Path, *args: str, password: str = PASSWORD) -> object:
    result = cli(
        data_dir,
        "user",
        "create",
        "--tenant",
        "acme",
        *args,
        "--password-stdin",
        "--json",
        input=password + "\n",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_create_list_disable(data_dir: Path) -> None:
    admin = create(data_dir, "--email", "Ann@Acme.example")
    assert isinstance(admin, dict)
    assert admin["email"] == "ann@acme.example" and admin["role"] == "admin"  # the default
    assert admin["id"].startswith("usr_")
    engineer = create(data_dir, "--email", "eve@acme.example", "--role", "engineer")
    assert isinstance(engineer, dict) and engineer["role"] == "engineer"
    listed = cli_json(data_dir, "user", "list", "--tenant", "acme")
    assert [u["email"] for u in listed] == ["ann@acme.example", "eve@acme.example"]
    assert all("password" not in json.dumps(u) for u in listed)
    human = cli(data_dir, "user", "list", "--tenant", "acme")
    assert "EMAIL" in human.stdout and "eve@acme.example" in human.stdout
    assert "argon2" not in human.stdout
    disabled = cli_json(data_dir, "user", "disable", engineer["id"])
    assert disabled["disabled_at"] is not None
    again = cli_json(data_dir, "user", "list", "--tenant", "acme")
    assert [u["disabled_at"] is not None for u in again] == [False, True]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        pytest.param(
            ["--email", "a@acme.example"],
            "short",
            "reliatic: error: the password must be at least 12 characters long",
            id="short-password",
        ),
        pytest.param(
            ["--email", "a@acme.example"],
            "",
            "reliatic: error: the password is empty",
            id="empty-password",
        ),
        pytest.param(
            ["--email", "not-an-address"],
            PASSWORD,
            "reliatic: error: Invalid value for 'email': must be an email address",
            id="bad-email",
        ),
        pytest.param(
            ["--email", "a@acme.example", "--role", "owner"],
            PASSWORD,
            "reliatic: error: argument --role: invalid choice",
            id="bad-role",
        ),
    ],
)
def test_create_refuses_user_mistakes_in_one_line(
    data_dir: Path, args: list[str], password: str, message: str
) -> None:
    result = cli(
        data_dir,
        "user",
        "create",
        "--tenant",
        "acme",
        *args,
        "--password-stdin",
        input=password + "\n",
    )
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert cli_json(data_dir, "user", "list", "--tenant", "acme") == []


def test_an_email_is_one_user_across_tenants(data_dir: Path) -> None:
    create(data_dir, "--email", "ann@acme.example")
    cli(data_dir, "tenant", "create", "other")
    result = cli(
        data_dir,
        "user",
        "create",
        "--tenant",
        "other",
        "--email",
        "ANN@acme.example",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("reliatic: error: A user with this email already exists.")


def test_without_a_terminal_or_stdin_flag_it_says_what_to_do(data_dir: Path) -> None:
    result = cli(
        data_dir, "user", "create", "--tenant", "acme", "--email", "a@acme.example", input=""
    )
    assert result.returncode == 1
    assert result.stderr == (
        "reliatic: error: no terminal to ask for the password on; use --password-stdin\n"
    )


def test_disable_of_an_unknown_user(data_dir: Path) -> None:
    result = cli(data_dir, "user", "disable", "usr_00000000000000000000000000")
    assert result.returncode == 1
    assert result.stderr == "reliatic: error: User usr_00000000000000000000000000 not found.\n"


def test_invite_prints_the_registration_link(data_dir: Path) -> None:
    made = cli_json(data_dir, "user", "invite", "--tenant", "acme", "--role", "engineer")
    assert made["link"] == f"/admin/register?token={made['token']}"
    assert made["role"] == "engineer" and made["used_at"] is None
    human = cli(data_dir, "user", "invite", "--tenant", "acme")
    assert "link: /admin/register?token=" in human.stdout


async def test_a_cli_user_logs_in_and_a_cli_disable_ends_the_session(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    user = create(data_dir, "--email", "ann@acme.example")
    assert isinstance(user, dict)
    client = await aiohttp_client(create_app(make_settings(data_dir), run_scheduler=False))
    login = await client.post(
        "/auth/login", json={"email": "ann@acme.example", "password": PASSWORD}
    )
    assert login.status == 200
    assert (await client.get("/api/v1/assets")).status == 200  # the cookie, from the jar
    # Another process disables the user: the very next request is refused.
    assert cli(data_dir, "user", "disable", user["id"]).returncode == 0
    assert (await client.get("/api/v1/assets")).status == 401


def _on_a_terminal(data_dir: Path, answers: list[str], *args: str) -> tuple[int, str]:
    """Run `reliatic user create` on a pseudo-terminal, typing `answers` at its prompts."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and controlling terminal are the pty
        os.execve(
            CLI[0],
            [*CLI, "--data-dir", str(data_dir), "user", "create", *args],
            {**os.environ, **backend_env(data_dir)},
        )
    output = b""
    pending = list(answers)
    answered = 0
    deadline = time.monotonic() + 120
    while True:
        if time.monotonic() > deadline:  # never hang the suite on a prompt nobody answers
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal: it has ended
            break
        if not chunk:
            break
        output += chunk
        # Answer each prompt once: only what came since the last answer can be a new one.
        if pending and output[answered:].endswith(b": "):
            os.write(fd, pending.pop(0).encode() + b"\n")
            answered = len(output)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(data_dir: Path) -> None:
    base = ["--tenant", "acme", "--email", "tty@acme.example"]
    code, output = _on_a_terminal(data_dir, [PASSWORD, "something else entirely"], *base)
    assert code == 1
    assert "Password: " in output and "Password (again): " in output
    assert "the two passwords differ; nothing was created" in output
    assert PASSWORD not in output  # getpass turned echo off
    code, output = _on_a_terminal(data_dir, [PASSWORD, PASSWORD], *base)
    assert code == 0, output
    assert "created user usr_" in output
    assert [u["email"] for u in cli_json(data_dir, "user", "list", "--tenant", "acme")] == [
        "tty@acme.example"
    ]
