"""The fixture copies in this package stay identical to the shared documented payloads."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES, SHARED_FIXTURES


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda path: path.name)
def test_local_fixture_matches_the_shared_original(path) -> None:  # type: ignore[no-untyped-def]
    original = SHARED_FIXTURES / path.name
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("shared/fixtures/tiktok is not beside this checkout")

    assert json.loads(path.read_text()) == json.loads(original.read_text())
