"""The app-wide rate budget in PostgreSQL: one sliding window per endpoint for every process."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tiktok_etl.api.ratelimit import WaitTooLong
from tiktok_etl.auth.store import TokenCipher
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import Settings

ENDPOINT = "/v2/user/info/"


def test_connectors_of_one_database_share_one_budget(engine: sa.Engine) -> None:
    settings = Settings.from_env(
        {"TIKTOK_ETL_SANDBOX": "1", "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": "1"}
    )
    runtime = Runtime(
        settings=settings,
        database_url=engine.url.render_as_string(hide_password=False),
        engine=engine,
        cipher=TokenCipher(TokenCipher.generate_key()),
    )
    first, second = Connector.open(runtime), Connector.open(runtime)
    try:
        slot = first.transport.limiter.acquire(ENDPOINT)
        slot.release()
        # the other step's connector sees the request the first one sent
        with pytest.raises(WaitTooLong):
            second.transport.limiter.acquire(ENDPOINT, max_wait=1.0)
    finally:
        first.close()
        second.close()
