"""Password hashing (SPEC §4): argon2id at OWASP's parameters, off the event loop, at most
`concurrency` at once, and an unknown account costs the same hash as a known one."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from reliatic_appliance.errors import ValidationError
from reliatic_appliance.services import passwords
from reliatic_appliance.services.passwords import PasswordHasher


def test_a_hash_is_an_argon2id_phc_string_at_owasp_parameters() -> None:
    phc = passwords.hash_password("correct horse battery staple")
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]{22}\$[^$]{43}", phc)
    assert match is not None, phc
    memory_kib, iterations, lanes = map(int, match.groups())
    assert memory_kib >= 19 * 1024 and iterations >= 2 and lanes == 1
    assert passwords.hash_password("correct horse battery staple") != phc  # a fresh salt
    assert passwords.verify_password("correct horse battery staple", phc)
    assert not passwords.verify_password("correct horse battery stapler", phc)


def test_the_decoy_has_the_same_parameters_as_a_real_hash() -> None:
    real = passwords.hash_password("x" * 12)
    assert passwords.DECOY_HASH.split("$")[1:4] == real.split("$")[1:4]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("", "must be at least 12 characters long", id="empty"),
        pytest.param("elevenchars", "must be at least 12 characters long", id="eleven"),
        pytest.param("x" * 1025, "must be at most 1024 characters long", id="too-long"),
    ],
)
def test_policy(password: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        passwords.check_policy(password)
    assert caught.value.details[0]["field"] == "password"
    assert message in caught.value.details[0]["message"]


def test_twelve_characters_are_enough() -> None:
    passwords.check_policy("twelve chars")


async def test_hashes_run_off_the_loop_and_at_most_concurrency_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = passwords.hash_password
    lock = threading.Lock()
    running = peak = 0
    loop_thread = threading.get_ident()
    threads = set()

    def counted(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        try:
            return real(password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "hash_password", counted)
    hasher = PasswordHasher(2)
    results = await asyncio.gather(*(hasher.hash(f"password number {n}") for n in range(6)))
    assert len(set(results)) == 6
    assert peak == 2
    assert loop_thread not in threads


async def test_an_unknown_account_spends_one_verification_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = passwords.verify_password
    seen: list[str] = []

    def counted(password: str, phc: str) -> bool:
        seen.append(phc)
        return real(password, phc)

    monkeypatch.setattr(passwords, "verify_password", counted)
    hasher = PasswordHasher(1)
    assert await hasher.verify("whatever password", None) is False
    assert seen == [passwords.DECOY_HASH]
    phc = passwords.hash_password("the real password")
    assert await hasher.verify("the real password", phc) is True
    assert await hasher.verify("the wrong password", phc) is False
