"""Pages of records, and the one cursor loop every listing uses.

`page_from_data` turns a listing's `data` object into a `Page`: records that
fail validation become `RejectedRecord`s instead of aborting the page.
`iter_pages` follows cursors and refuses a listing that cannot reach its true end
(a cursor that does not advance, repeated records, endless empty pages) with
`IncompleteListing`; `collect` gathers pages into a `FetchResult` with an optional
record filter and early stop, and `collect_complete` reads a listing again from the
start when it came back incomplete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from tiktok_etl.api.errors import IncompleteListing
from tiktok_etl.api.redaction import redact

logger = logging.getLogger("tiktok_etl.api")

T = TypeVar("T")


@dataclass(frozen=True)
class RejectedRecord:
    """A record TikTok sent that failed validation, kept with the reason."""

    payload: dict[str, Any]
    reason: str
    kind: str


@dataclass
class Page(Generic[T]):
    """One page of a listing: valid records, rejected ones, and where to go next."""

    items: list[T]
    rejects: list[RejectedRecord] = field(default_factory=list)
    cursor: int | None = None
    has_more: bool = False


@dataclass
class FetchResult(Generic[T]):
    """Everything a multi-page read returned."""

    items: list[T] = field(default_factory=list)
    rejects: list[RejectedRecord] = field(default_factory=list)
    pages: int = 0

    def extend(self, other: FetchResult[T]) -> None:
        self.items.extend(other.items)
        self.rejects.extend(other.rejects)
        self.pages += other.pages


def rejection_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # never echo input values: only where and why
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
    return redact(str(exc))


def parse_records(
    payloads: Iterable[Any], build: Callable[[Mapping[str, Any]], T], kind: str
) -> tuple[list[T], list[RejectedRecord]]:
    """Build each record; a record that fails goes to the rejects, never raises.

    Any exception of ``build`` rejects the record, not only validation errors: whatever one
    record holds (an overflowing timestamp, a value no validator foresaw) must not cost the
    other records of its page, or the partition.
    """
    items: list[T] = []
    rejects: list[RejectedRecord] = []
    for payload in payloads:
        if not isinstance(payload, Mapping):
            rejects.append(RejectedRecord({"value": payload}, "record is not a JSON object", kind))
            continue
        try:
            items.append(build(payload))
        except Exception as exc:  # one record never fails its page: see the docstring
            rejects.append(RejectedRecord(dict(payload), rejection_reason(exc), kind))
    return items, rejects


def _cursor(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def page_from_data(
    data: Any, list_key: str, build: Callable[[Mapping[str, Any]], T], kind: str
) -> Page[T]:
    """A `Page` from a listing's `data` object (`{<list_key>: [...], cursor, has_more}`)."""
    if not isinstance(data, Mapping):
        data = {}
    records = data.get(list_key)
    items, rejects = parse_records(records if isinstance(records, list) else [], build, kind)
    return Page(
        items=items,
        rejects=rejects,
        cursor=_cursor(data.get("cursor")),
        has_more=bool(data.get("has_more", False)),
    )


def iter_pages(
    fetch: Callable[[int | None], Page[T]],
    *,
    cursor: int | None = None,
    max_empty_pages: int = 3,
    label: str = "listing",
    record_id: Callable[[T], str] | None = None,
) -> Iterator[Page[T]]:
    """Yield pages from `fetch(cursor)` until `has_more` is false.

    Short pages are followed while `has_more` is true. A listing that cannot reach its
    true end raises `IncompleteListing` instead of ending quietly: a page whose cursor is
    missing or was already used while `has_more` is true (a stall or a loop),
    `max_empty_pages` consecutive empty pages with `has_more` true, or (with `record_id`)
    a page repeating records already seen. A consumer that stops early (it has what it
    needs) never asks for the next page, so a stall past that point costs nothing.
    """
    used = {cursor}
    seen: set[str] = set()
    empty_streak = 0
    while True:
        page = fetch(cursor)
        if record_id is not None:
            ids = [record_id(item) for item in page.items]
            if seen.intersection(ids) or len(set(ids)) < len(ids):
                raise IncompleteListing(
                    label, "a page repeated records already seen", cursor=cursor
                )
            seen.update(ids)
        yield page
        if not page.has_more:
            return
        if page.cursor is None or page.cursor in used:
            raise IncompleteListing(
                label, f"has_more is true but the cursor did not advance ({page.cursor})",
                cursor=cursor,
            )  # fmt: skip
        empty_streak = 0 if page.items or page.rejects else empty_streak + 1
        if empty_streak >= max_empty_pages:
            raise IncompleteListing(
                label, f"{empty_streak} empty pages in a row with has_more true", cursor=cursor
            )
        used.add(page.cursor)
        cursor = page.cursor


def collect(
    pages: Iterable[Page[T]],
    *,
    keep: Callable[[T], bool] | None = None,
    stop_after: Callable[[Page[T]], bool] | None = None,
) -> FetchResult[T]:
    """Gather pages into a `FetchResult`, keeping records that pass `keep`.

    `stop_after(page)` returning true ends the read after that page (early
    stop); no further page is requested.
    """
    result: FetchResult[T] = FetchResult()
    iterator = iter(pages)
    try:
        for page in iterator:
            result.pages += 1
            result.items.extend(item for item in page.items if keep is None or keep(item))
            result.rejects.extend(page.rejects)
            if stop_after is not None and stop_after(page):
                break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return result


# how many times a listing is read from the start before its incompleteness is an error
LISTING_ATTEMPTS = 3


def collect_complete(
    read: Callable[[], Iterable[Page[T]]],
    *,
    keep: Callable[[T], bool] | None = None,
    stop_after: Callable[[Page[T]], bool] | None = None,
    attempts: int = LISTING_ATTEMPTS,
) -> FetchResult[T]:
    """`collect(read())`, read again from the start while it raises `IncompleteListing`.

    After `attempts` incomplete reads the last `IncompleteListing` propagates: a caller
    never gets a partial listing it could mistake for the whole one.
    """
    for attempt in range(1, attempts + 1):
        try:
            return collect(read(), keep=keep, stop_after=stop_after)
        except IncompleteListing as exc:
            if attempt == attempts:
                raise
            logger.warning("%s (attempt %d of %d); reading again", exc, attempt, attempts)
    raise AssertionError("unreachable")  # pragma: no cover
