"""Fixtures for the sandbox tests: a frozen clock, a small world, raw httpx clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tiktok_etl.sandbox import SandboxApp, SandboxClock, build_sandbox

from .helpers import SMALL_WORLD, START


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(START)


@pytest.fixture
def make_app(clock: SandboxClock) -> Callable[..., SandboxApp]:
    def make(**options: Any) -> SandboxApp:
        return build_sandbox(seed=7, clock=clock, **{**SMALL_WORLD, **options})

    return make


@pytest.fixture
def app(make_app: Callable[..., SandboxApp]) -> SandboxApp:
    return make_app()


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as http:
        yield http
