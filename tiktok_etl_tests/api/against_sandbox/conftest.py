"""Fixtures for the client-against-sandbox tests (helpers live in `helpers.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tiktok_etl.api import ManualClock
from tiktok_etl.sandbox import SandboxApp, build_sandbox

from .helpers import SMALL_WORLD, START, SharedClock


@pytest.fixture
def make_sandbox() -> Callable[..., SandboxApp]:
    """`build_sandbox(seed=7)` over the small world; options override it."""

    def make(**options: Any) -> SandboxApp:
        return build_sandbox(seed=7, **{**SMALL_WORLD, **options})

    return make


@pytest.fixture
def client_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def shared_clock() -> SharedClock:
    return SharedClock(START)
