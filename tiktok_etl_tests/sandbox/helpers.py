"""Helpers shared by the sandbox tests (no fixtures here; see conftest.py).

Runnable as a script for the cross-process determinism test:
`python helpers.py <open_id>` prints the digest of that account's data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tiktok_etl.sandbox import SandboxClock, SandboxWorld

START = datetime(2026, 11, 5, 12, 0, 0, tzinfo=UTC)
DAY = date(2026, 11, 3)
BUSINESS = "/open_api/v1.3/"
SMALL_WORLD: dict[str, Any] = {"history_days": 60, "heavy_video_ratio": 0.05}


def fixtures_dir() -> Path:
    """The documented TikTok payloads: `shared/fixtures/tiktok` next to the repository, else
    the copy vendored in `tiktok_etl_tests/api/fixtures` (a fresh clone on its own)."""
    here = Path(__file__).resolve()
    candidates = [
        *(parent / "shared" / "fixtures" / "tiktok" for parent in here.parents),
        here.parents[1] / "api" / "fixtures",
    ]
    for candidate in candidates:
        if (candidate / "display_video_list.json").is_file():
            return candidate
    raise FileNotFoundError("documented TikTok fixtures not found: expected shared/fixtures/tiktok")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir() / name).read_text())


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def access(token: dict[str, Any]) -> dict[str, str]:
    return {"Access-Token": token["access_token"]}


def small_world(seed: int = 7, **options: Any) -> SandboxWorld:
    return SandboxWorld(seed, SandboxClock(START), history_days=60, **options)


def world_digest(world: SandboxWorld, open_id: str) -> str:
    """A hash of everything the world serves for `open_id` on `DAY`."""
    payload = {
        "videos": world.videos(open_id, DAY),
        "business": world.business_videos(open_id, DAY),
        "comments": world.comments(open_id, DAY),
        "user": world.user(open_id),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    print(world_digest(small_world(), sys.argv[1]))
