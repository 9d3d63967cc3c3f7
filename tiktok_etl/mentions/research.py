"""Research API rows (a listening query's videos and comments) -> ``sl_mentions`` rows.

The shapes are :mod:`tiktok_etl.mentions.normalize`'s: a research video becomes the same
mention a Display video does (author from the video's ``username``, ``reach`` = views,
``url`` the public ``https://www.tiktok.com/@user/video/<id>`` link) and a comment the
same as an owned video's comment. On top:

- ``source_kind = 'query'``, ``source_key`` = the query key, ``account_key`` = the query's
  storage key ``query.<key>`` (the partition), ``tenant_id``/``source_id`` from the query;
- ``matched_keywords``: the query's positive terms the mention satisfies, written as in the
  query (``#acme``, ``@brand``, ``acme``), in query order. Hashtags compare with the video's
  ``hashtag_names`` (in a comment: ``#tag`` written in its text), usernames with the
  video's author, words and phrases with the text under the keyword rules of
  :mod:`tiktok_etl.mentions.keywords` (so ``acme`` also finds ``#acme`` in a text).

One mention per ``(tenant_id, platform, external_id)``: a public video that is also an
owned account's video keeps the account's row (richer metrics, the tenant's own content);
the query's upsert leaves it alone, and the account's upsert takes a query's row over.
A video two queries of one tenant match belongs to the query that stored it first.

Pure functions: no Dagster, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from tiktok_etl.api.research_query import ListeningQuery, Term
from tiktok_etl.mentions.keywords import KeywordMatcher, fold
from tiktok_etl.mentions.normalize import (
    AccountAuthor,
    Mention,
    MentionSource,
    handle,
    normalize_comment,
    normalize_video,
)

Row = Mapping[str, Any]
SOURCE_KIND = "query"


def video_url(username: str | None, video_id: str) -> str | None:
    """TikTok's public link to a video."""
    return f"https://www.tiktok.com/@{username}/video/{video_id}" if username else None


class TermMatcher:
    """Which of a query's positive terms a video or comment satisfies."""

    def __init__(self, query: ListeningQuery) -> None:
        self.terms: tuple[Term, ...] = query.positive_terms
        self._words = {
            term: KeywordMatcher([term.text]) for term in self.terms if term.field == "keyword"
        }
        self._tags = {
            term: re.compile(rf"(?<!\w)#{re.escape(fold(term.value))}(?!\w)")
            for term in self.terms
            if term.field == "hashtag_name"
        }

    def for_video(self, row: Row) -> list[str]:
        hashtags = {fold(tag.lstrip("#")) for tag in row.get("hashtag_names") or ()}
        username = fold(row.get("username") or "")
        text = row.get("description") or ""
        found = []
        for term in self.terms:
            if term.field == "hashtag_name":
                hit = fold(term.value) in hashtags
            elif term.field == "username":
                hit = fold(term.value) == username
            else:
                hit = bool(self._words[term].match(text))
            if hit:
                found.append(term.text)
        return found

    def for_text(self, text: str | None) -> list[str]:
        """Terms written in a comment: words and phrases, and hashtags as ``#tag``."""
        folded = fold(text or "")
        found = []
        for term in self.terms:
            if term.field == "keyword":
                hit = bool(self._words[term].match(text))
            elif term.field == "hashtag_name":
                hit = self._tags[term].search(folded) is not None
            else:
                hit = False
            if hit:
                found.append(term.text)
        return found


def _tagged(mention: Mention, query_key: str, matched: list[str]) -> Mention:
    mention["matched_keywords"] = matched
    mention["source_kind"] = SOURCE_KIND
    mention["source_key"] = query_key
    return mention


def normalize_research_partition(
    *,
    query_key: str,
    storage_key: str,
    tenant_id: int,
    source_id: str | None,
    query: ListeningQuery,
    video_rows: Iterable[Row],
    comment_rows: Iterable[Row],
    now: datetime,
) -> Iterator[Mention]:
    """A query-day's mentions: its videos, then the comments read for them."""
    source = MentionSource(account_key=storage_key, tenant_id=tenant_id, source_id=source_id)
    terms = TermMatcher(query)
    no_keywords = KeywordMatcher()
    urls: dict[str, str | None] = {}
    for row in video_rows:
        username = row.get("username")
        url = video_url(username, row["video_id"])
        urls[row["video_id"]] = url
        author = AccountAuthor(name=username, handle=handle(username), followers=None,
                               verified=None)  # fmt: skip
        shaped = {**row, "api": "research", "share_url": url}
        mention = normalize_video(source, author, shaped, no_keywords, now=now)
        yield _tagged(mention, query_key, terms.for_video(row))
    for row in comment_rows:
        mention = normalize_comment(source, row, urls.get(row["video_id"]), no_keywords, now=now)
        yield _tagged(mention, query_key, terms.for_text(row.get("text")))
