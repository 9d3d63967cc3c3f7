"""The one cursor loop: follows has_more, survives lying APIs, never aborts on bad records."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from tiktok_etl.api import DisplayVideo, Page, collect, iter_pages
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


def test_a_cursor_that_does_not_advance_stops_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    listing = ScriptedListing(
        {
            None: Page([1], cursor=10, has_more=True),
            10: Page([2], cursor=10, has_more=True),
        }
    )

    with caplog.at_level(logging.WARNING, logger="tiktok_etl.api"):
        result = collect(iter_pages(listing, label="videos"))

    assert result.items == [1, 2]
    assert listing.requested == [None, 10]
    assert "cursor did not advance" in caplog.text


def test_a_cursor_that_cycles_back_stops_the_loop() -> None:
    listing = ScriptedListing(
        {
            None: Page([1], cursor=10, has_more=True),
            10: Page([2], cursor=20, has_more=True),
            20: Page([3], cursor=10, has_more=True),
        }
    )

    assert collect(iter_pages(listing)).items == [1, 2, 3]
    assert listing.requested == [None, 10, 20]


def test_a_missing_cursor_with_has_more_stops_the_loop() -> None:
    listing = ScriptedListing({None: Page([1], cursor=None, has_more=True)})

    assert collect(iter_pages(listing)).pages == 1


def test_empty_pages_are_followed_up_to_the_limit() -> None:
    listing = ScriptedListing(
        {
            None: Page([], cursor=1, has_more=True),
            1: Page([], cursor=2, has_more=True),
            2: Page([7], cursor=3, has_more=False),
        }
    )

    assert collect(iter_pages(listing, max_empty_pages=3)).items == [7]


def test_endless_empty_pages_stop_after_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    listing = ScriptedListing(
        {c: Page([], cursor=(c or 0) + 1, has_more=True) for c in [None, *range(1, 50)]}
    )

    with caplog.at_level(logging.WARNING, logger="tiktok_etl.api"):
        result = collect(iter_pages(listing, max_empty_pages=3))

    assert result.pages == 3
    assert "3 empty pages in a row" in caplog.text


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
