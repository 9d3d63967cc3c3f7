"""Token-health texts and step keys, without Dagster or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tiktok_etl.auth.health import (
    duration_text,
    fix_command,
    refresh_token_expiry_warning,
    step_keys,
)
from tiktok_etl.auth.model import StoredTokens

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


def _stored(refresh_left: timedelta, refresh_lifetime: int | None) -> StoredTokens:
    return StoredTokens(
        account_key="acme",
        version=1,
        access_token="act.x",
        issued_at=NOW,
        expires_in=3600,
        refresh_expires_in=refresh_lifetime,
        refresh_expires_at=NOW + refresh_left,
    )


def test_a_refresh_token_with_weeks_left_gets_no_warning() -> None:
    assert refresh_token_expiry_warning(_stored(timedelta(days=30), 86400 * 180), NOW) is None


def test_a_refresh_token_under_ten_percent_of_its_lifetime_is_warned_about() -> None:
    warning = refresh_token_expiry_warning(_stored(timedelta(days=17), 86400 * 180), NOW)
    assert warning == "its refresh token expires at 2026-11-22 12:00:00Z (in 17d00h)"


def test_an_expired_refresh_token_says_so() -> None:
    warning = refresh_token_expiry_warning(_stored(-timedelta(hours=1), None), NOW)
    assert warning == "its refresh token expired at 2026-11-05 11:00:00Z"


def test_durations_and_the_fix_command() -> None:
    assert duration_text(timedelta(hours=5, minutes=7)) == "5h07m"
    assert duration_text(-timedelta(hours=1)) == "0h00m"
    assert fix_command("acme", "display") == "tiktok-etl auth login --api display --key acme"


def test_step_keys_are_safe_and_unique() -> None:
    assert list(step_keys(["a-b", "a_b", ""])) == [
        ("a_b", "a-b"),
        ("a_b_2", "a_b"),
        ("account", ""),
    ]
