"""A worker that dies (SIGKILL) between TikTok's refresh answer and the commit of the pair.

Kept free of Dagster and test fixtures so a spawned process starts quickly.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from tiktok_etl.auth.store import TokenStore
from tiktok_etl.runtime import open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import Settings


def _die(*_args: Any, **_kwargs: Any) -> bool:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def refresh_then_die(variables: dict[str, str], account_key: str) -> None:
    # the commit step of today's store (`_commit_rotated`), or of the old one (`compare_and_swap`)
    name = "_commit_rotated" if hasattr(TokenStore, "_commit_rotated") else "compare_and_swap"
    setattr(TokenStore, name, _die)
    runtime = open_runtime(Settings.from_env(variables))
    connector = Connector.open(runtime)
    provider = connector.token_provider(runtime.accounts.get(account_key))
    provider.force_refresh()
