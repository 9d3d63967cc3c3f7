"""The one cursor loop: follows has_more, survives lying APIs, never aborts on bad records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tiktok_etl.api import (
    DisplayVideo,
    IncompleteListing,
    Page,
    collect,
    collect_complete,
    iter_pages,
)
from tiktok_etl.api.pagination import page_from_data, parse_records


class ScriptedListing:
    """Serves pages by request cursor and records the cursors asked for."""

    def __init__(self, pages: Mapping[int | None, Page[int]]) -> None:
        self.pages = pages
        self.requested: list[int | None] = []

    def __call__(self, cursor: int | None) -> Page[int]:
        self.requested.append(cursor)
        return self.pages[cursor]


def test_short_pages_are_followed_while_has_more_is_true() -> None:
    listing = ScriptedListing(
        {
            None: Page([1], cursor=10, has_more=True),
            10: Page([2, 3], cursor=20, has_more=True),
            20: Page([4], cursor=30, has_more=False),
        }
    )

    result = collect(iter_pages(listing))

    assert result.items == [1, 2, 3, 4]
    assert result.pages == 3
    assert listing.requested == [None, 10, 20]


def test_a_cursor_that_does_not_advance_makes_the_listing_incomplete() -> None:
    listing = ScriptedListing(
        {
            None: Page([1], cursor=10, has_more=True),
            10: Page([2], cursor=10, has_more=True),
        }
    )

    with pytest.raises(IncompleteListing, match="cursor did not advance") as raised:
        collect(iter_pages(listing, label="videos"))

    assert raised.value.endpoint == "videos"
    assert raised.value.cursor == 10
    assert listing.requested == [None, 10]


def test_a_cursor_that_cycles_back_makes_the_listing_incomplete() -> None:
    listing = ScriptedListing(
        {
            None: Page([1], cursor=10, has_more=True),
            10: Page([2], cursor=20, has_more=True),
            20: Page([3], cursor=10, has_more=True),
        }
    )

    with pytest.raises(IncompleteListing):
        collect(iter_pages(listing))
    assert listing.requested == [None, 10, 20]


def test_a_missing_cursor_with_has_more_makes_the_listing_incomplete() -> None:
    listing = ScriptedListing({None: Page([1], cursor=None, has_more=True)})

    with pytest.raises(IncompleteListing):
        collect(iter_pages(listing))


def test_a_page_repeating_records_already_seen_makes_the_listing_incomplete() -> None:
    listing = ScriptedListing(
        {
            None: Page([1, 2], cursor=0, has_more=True),
            0: Page([1, 2], cursor=2, has_more=True),
            2: Page([3], cursor=3, has_more=False),
        }
    )

    with pytest.raises(IncompleteListing, match="repeated"):
        collect(iter_pages(listing, record_id=str))


def test_a_stall_after_an_early_stop_does_not_matter() -> None:
    listing = ScriptedListing({None: Page([1], cursor=None, has_more=True)})

    result = collect(iter_pages(listing), stop_after=lambda page: True)

    assert result.items == [1]


def test_an_incomplete_listing_is_read_again_from_the_start() -> None:
    stalls = iter([True, False])
    requested: list[int | None] = []

    def fetch(cursor: int | None) -> Page[int]:
        requested.append(cursor)
        if cursor is None:
            return Page([1], cursor=10, has_more=True)
        if next(stalls):
            return Page([2], cursor=10, has_more=True)
        return Page([2], cursor=20, has_more=False)

    result = collect_complete(lambda: iter_pages(fetch))

    assert result.items == [1, 2]
    assert requested == [None, 10, None, 10]


def test_a_listing_that_stays_incomplete_raises_after_the_attempts() -> None:
    requested: list[int | None] = []

    def fetch(cursor: int | None) -> Page[int]:
        requested.append(cursor)
        return Page([1], cursor=cursor, has_more=True)

    with pytest.raises(IncompleteListing):
        collect_complete(lambda: iter_pages(fetch, cursor=5), attempts=3)
    assert requested == [5, 5, 5]


def test_empty_pages_are_followed_up_to_the_limit() -> None:
    listing = ScriptedListing(
        {
            None: Page([], cursor=1, has_more=True),
            1: Page([], cursor=2, has_more=True),
            2: Page([7], cursor=3, has_more=False),
        }
    )

    assert collect(iter_pages(listing, max_empty_pages=3)).items == [7]


def test_endless_empty_pages_make_the_listing_incomplete() -> None:
    listing = ScriptedListing(
        {c: Page([], cursor=(c or 0) + 1, has_more=True) for c in [None, *range(1, 50)]}
    )

    with pytest.raises(IncompleteListing, match="3 empty pages in a row"):
        collect(iter_pages(listing, max_empty_pages=3))
    assert len(listing.requested) == 3


def test_early_stop_requests_no_further_page() -> None:
    listing = ScriptedListing(
        {
            None: Page([5, 4], cursor=1, has_more=True),
            1: Page([3, 2], cursor=2, has_more=True),
            2: Page([1, 0], cursor=3, has_more=True),
        }
    )

    result = collect(
        iter_pages(listing),
        keep=lambda n: n >= 3,
        stop_after=lambda page: page.items[-1] < 3,
    )

    assert result.items == [5, 4, 3]
    assert listing.requested == [None, 1]


def test_a_malformed_record_is_rejected_without_aborting_the_page() -> None:
    payloads: list[Any] = [
        {"id": "1", "create_time": 1648500000},
        {"id": "", "create_time": 1648500000},
        "not an object",
        {"id": "3", "create_time": "yesterday"},
        {"id": 4, "create_time": 1648400000},
    ]

    items, rejects = parse_records(payloads, DisplayVideo.from_payload, "display_video")

    assert [video.id for video in items] == ["1", "4"]
    assert [reject.payload for reject in rejects] == [
        {"id": "", "create_time": 1648500000},
        {"value": "not an object"},
        {"id": "3", "create_time": "yesterday"},
    ]
    assert rejects[0].reason.startswith("id:")
    assert rejects[2].reason.startswith("create_time:")
    assert {reject.kind for reject in rejects} == {"display_video"}


def test_reject_reasons_do_not_echo_input_values() -> None:
    _, rejects = parse_records(
        [{"id": "act.SECRET-LOOKING", "create_time": "act.SECRET-LOOKING"}],
        DisplayVideo.from_payload,
        "display_video",
    )

    assert "SECRET-LOOKING" not in rejects[0].reason


def test_page_from_data_reads_cursor_and_has_more_leniently() -> None:
    page = page_from_data(
        {"videos": [], "cursor": "1648400000000", "has_more": True},
        "videos",
        DisplayVideo.from_payload,
        "display_video",
    )

    assert page.cursor == 1648400000000
    assert page.has_more is True


def test_page_from_data_treats_a_missing_list_as_empty() -> None:
    page = page_from_data(None, "videos", DisplayVideo.from_payload, "display_video")

    assert (page.items, page.rejects, page.cursor, page.has_more) == ([], [], None, False)
