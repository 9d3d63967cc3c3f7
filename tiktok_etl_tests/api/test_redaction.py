"""redact(): credentials are masked in any text we did not write ourselves."""

from __future__ import annotations

import pytest

from tiktok_etl.api import redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token act.1234abcd.XYZ rejected", "act.1234abcd.XYZ"),
        ("refresh with rft.9f8e7d-c6b5 failed", "rft.9f8e7d-c6b5"),
        ("research token clt.AbC_dEf~1", "clt.AbC_dEf~1"),
    ],
)
def test_prefixed_tokens_are_masked_anywhere(text: str, secret: str) -> None:
    masked = redact(text)

    assert secret not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "key", ["access_token", "refresh_token", "client_secret", "code", "auth_code", "code_verifier"]
)
def test_json_values_of_secret_keys_are_masked(key: str) -> None:
    masked = redact(f'{{"{key}": "s3cr3t-value", "open_id": "user-1"}}')

    assert masked == f'{{"{key}": "***", "open_id": "user-1"}}'


def test_python_repr_values_of_secret_keys_are_masked() -> None:
    assert redact("{'refresh_token': 'opaque-value'}") == "{'refresh_token': '***'}"


def test_query_and_form_values_of_secret_keys_are_masked() -> None:
    text = "grant_type=authorization_code&code=AUTHCODE&client_secret=SHH&client_key=app"

    assert redact(text) == "grant_type=authorization_code&code=***&client_secret=***&client_key=app"


def test_auth_header_values_are_masked() -> None:
    assert redact("Authorization: Bearer opaque123") == "Authorization: Bearer ***"
    assert redact("Access-Token: opaque123") == "Access-Token: ***"


def test_harmless_text_is_left_alone() -> None:
    text = '{"code": 40100, "message": "Too many requests. Please act. exact.", "error_code": "x"}'

    assert redact(text) == text
