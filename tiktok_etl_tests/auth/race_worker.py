"""One worker of the refresh race (a thread of the test process or a spawned process).

Kept free of Dagster and test fixtures so a spawned process starts quickly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tiktok_etl.api import BusinessClient, DisplayClient
from tiktok_etl.runtime import open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import Settings


def hit_expiry(variables: dict[str, str], account_key: str, barrier: Any) -> dict[str, Any]:
    """Wait for every worker, then call the API with the (expired) stored token."""
    runtime = open_runtime(Settings.from_env(variables))
    settings = runtime.settings
    connector = Connector.open(runtime)
    try:
        account = runtime.accounts.get(account_key)
        provider = connector.token_provider(account)
        call: Callable[[], str]
        if account.api == "display":
            display = DisplayClient(
                connector.transport, provider, base_url=settings.display_api_base_url
            )
            call = lambda: display.user_info().open_id  # noqa: E731
        else:
            business = BusinessClient(
                connector.transport,
                provider,
                account.open_id,
                base_url=settings.business_api_base_url,
            )
            call = lambda: business.get_profile().business_id  # noqa: E731
        barrier.wait(timeout=60)
        open_id = call()
        token = provider.access_token()
        return {
            "token_sha": hashlib.sha256(token.encode()).hexdigest(),
            "refreshes": provider.refreshes,
            "open_id": open_id,
        }
    finally:
        connector.close()


def process_main(variables: dict[str, str], account_key: str, barrier: Any, results: Any) -> None:
    try:
        results.put(hit_expiry(variables, account_key, barrier))
    except BaseException as exc:  # report, never hang the test
        results.put({"error": f"{type(exc).__name__}: {exc}"})
