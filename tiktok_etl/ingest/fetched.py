"""What one partition's fetch produced: rows to write, rejected records, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tiktok_etl.api import RejectedRecord


@dataclass
class FetchOutcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[RejectedRecord] = field(default_factory=list)
    # facts worth showing next to the materialization (why a partition is empty, videos read, ...)
    notes: dict[str, Any] = field(default_factory=dict)

    def reject_tuples(self) -> list[tuple[dict[str, Any], str, str]]:
        return [(r.payload, r.reason, r.kind) for r in self.rejects]
