"""Listening is off unless configured; the sandbox brings its own Research credentials."""

from __future__ import annotations

import pytest

from tiktok_etl.runtime.research import research_credentials
from tiktok_etl.sandbox.research import CLIENT_KEY, CLIENT_SECRET
from tiktok_etl.settings import ConfigError, Settings


def test_listening_is_off_without_research_credentials() -> None:
    with pytest.raises(ConfigError, match=r"TIKTOK_ETL_RESEARCH_CLIENT_KEY and .*_SECRET"):
        research_credentials(Settings.from_env({}))


def test_half_configured_credentials_are_an_error_even_in_sandbox_mode() -> None:
    env = {"TIKTOK_ETL_SANDBOX": "1", "TIKTOK_ETL_RESEARCH_CLIENT_KEY": "key-only"}
    with pytest.raises(ConfigError, match="must both be set"):
        research_credentials(Settings.from_env(env))


def test_the_sandbox_serves_listening_with_built_in_credentials() -> None:
    assert research_credentials(Settings.from_env({"TIKTOK_ETL_SANDBOX": "1"})) == (
        CLIENT_KEY,
        CLIENT_SECRET,
    )


def test_configured_credentials_are_used_verbatim_and_the_secret_is_not_shown() -> None:
    env = {
        "TIKTOK_ETL_RESEARCH_CLIENT_KEY": " key ",
        "TIKTOK_ETL_RESEARCH_CLIENT_SECRET": "s3cret-research-value",
    }
    settings = Settings.from_env(env)
    assert research_credentials(settings) == (" key ", "s3cret-research-value")
    assert "s3cret-research-value" not in repr(settings)


@pytest.mark.parametrize("variable", ["TIKTOK_ETL_RESEARCH_DAILY_REQUESTS",
                                      "TIKTOK_ETL_RESEARCH_DAILY_RECORDS"])  # fmt: skip
def test_quota_settings_must_be_positive(variable: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable} must be a positive integer"):
        Settings.from_env({variable: "0"})
