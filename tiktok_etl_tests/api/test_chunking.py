"""TikTok's chunk arithmetic, with the Media Transfer Guide's own numbers."""

from __future__ import annotations

import pytest

from tiktok_etl.api.chunking import (
    MB,
    ChunkPlan,
    ChunkPlanError,
    check_plan,
    plan_chunks,
)


def test_the_guides_example_is_five_chunks_with_the_remainder_in_the_last() -> None:
    plan = ChunkPlan(50_000_123, 10_000_000, 5)
    chunks = list(plan.chunks())
    assert len(chunks) == 5
    assert chunks[-1].length == 10_000_123
    assert chunks[-1].content_range == "bytes 40000000-50000122/50000123"
    assert chunks[0].content_range == "bytes 0-9999999/50000123"
    assert sum(c.length for c in chunks) == 50_000_123


def test_a_count_other_than_the_floor_is_refused() -> None:
    with pytest.raises(ChunkPlanError, match=r"floor\(50000123 / 10000000\) = 5"):
        check_plan(50_000_123, 10_000_000, 6)


def test_a_4_mb_file_is_one_chunk_of_its_own_size() -> None:
    plan = plan_chunks(4 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (4 * MB, 1)
    (chunk,) = plan.chunks()
    assert chunk.content_range == f"bytes 0-{4 * MB - 1}/{4 * MB}"


def test_a_small_file_split_in_two_is_refused() -> None:
    with pytest.raises(ChunkPlanError, match="under 5 MB"):
        check_plan(4 * MB, 2 * MB, 2)


def test_130_mb_at_64_mb_is_two_chunks_the_last_66_mb() -> None:
    plan = plan_chunks(130 * MB, 64 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (64 * MB, 2)
    assert plan.last_chunk_size == 66 * MB
    last = plan.chunk(1)
    assert last.content_range == f"bytes {64 * MB}-{130 * MB - 1}/{130 * MB}"


def test_a_30_mb_file_at_10_mb_is_three_chunks() -> None:
    plan = plan_chunks(30 * MB + 7, 10 * MB)
    assert plan.total_chunk_count == 3
    assert plan.last_chunk_size == 10 * MB + 7


def test_a_file_over_64_mb_cannot_be_one_chunk() -> None:
    with pytest.raises(ChunkPlanError, match=r"outside 5 MB\.\.64 MB"):
        check_plan(65 * MB, 65 * MB, 1)
    assert plan_chunks(65 * MB, 100 * MB).chunk_size == 64 * MB


def test_chunk_sizes_below_5_mb_are_raised_to_5_mb() -> None:
    plan = plan_chunks(20 * MB, 1 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (5 * MB, 4)


def test_a_last_chunk_over_128_mb_is_refused() -> None:
    with pytest.raises(ChunkPlanError, match="1000"):
        check_plan(64 * MB * 1001, 64 * MB, 1001)


def test_the_count_stays_within_1000_chunks() -> None:
    plan = plan_chunks(4 * 1024 * MB, 5 * MB)
    assert plan.total_chunk_count <= 1000
    assert plan.total_chunk_count == 4 * 1024 * MB // plan.chunk_size


def test_a_mid_size_file_below_the_wanted_chunk_is_one_chunk() -> None:
    plan = plan_chunks(7 * MB, 10 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (7 * MB, 1)
