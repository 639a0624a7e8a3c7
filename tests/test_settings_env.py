"""A RELIATIC_* variable that no setting reads is refused, naming the nearest real one (§2)."""

from pathlib import Path

import pytest

from reliatic_appliance.settings import (
    SECTIONS,
    SettingsError,
    check_environment,
    env_var_name,
    load_settings,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("RELIATIC_SERVR_PORT", "RELIATIC_SERVER_PORT?", id="section-typo"),
        pytest.param("RELIATIC_DATADIR", "RELIATIC_DATA_DIR?", id="data-dir-typo"),
        pytest.param("RELIATIC_CONFIG_FILE", "RELIATIC_CONFIG?", id="config-typo"),
        pytest.param(
            "RELIATIC_WEBHOOK_ALLOW_HTTP", "RELIATIC_WEBHOOKS_ALLOW_HTTP?", id="section-singular"
        ),
        pytest.param(
            "RELIATIC_RATELIMIT_DEFAULT_PER_MINUTE",
            "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE?",
            id="underscore-missing",
        ),
        pytest.param("reliatic_server_port", "RELIATIC_SERVER_PORT?", id="lower-case"),
    ],
)
def test_misspelt_variable_names_the_real_one(name: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        check_environment({name: "9000", "PATH": "/usr/bin"})
    assert str(info.value) == f"{name}: unknown environment variable; did you mean {expected}"


def test_unknown_variable_without_a_near_one_names_the_pattern() -> None:
    with pytest.raises(SettingsError) as info:
        check_environment({"RELIATIC_XYZZY": "1"})
    assert str(info.value) == (
        "RELIATIC_XYZZY: unknown environment variable; "
        "known: RELIATIC_DATA_DIR, RELIATIC_CONFIG and RELIATIC_<SECTION>_<KEY>"
    )


def test_every_real_variable_passes() -> None:
    env = {env_var_name(s, k): "x" for s, model in SECTIONS.items() for k in model.model_fields}
    env |= {"RELIATIC_DATA_DIR": "/d", "RELIATIC_CONFIG": "", "PATH": "/usr/bin"}
    # The project's tooling sets these; whatever runs under it inherits them.
    env |= {"RELIATIC_FUZZ_SEED": "1", "RELIATIC_FUZZ_EXAMPLES": "5"}
    env |= {"RELIATIC_VERIFY_UNIT_INNER": "1"}
    check_environment(env)


def test_bad_key_of_a_known_section_is_left_to_the_loader() -> None:
    # One message per mistake: the loader's, which knows the section's keys.
    env = {"RELIATIC_SERVER_PROT": "1"}
    check_environment(env)
    with pytest.raises(SettingsError, match="did you mean RELIATIC_SERVER_PORT"):
        load_settings(data_dir=Path("."), config_file=None, env=env)
