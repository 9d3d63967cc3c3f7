"""The listening query syntax and the Research API query object it becomes."""

from __future__ import annotations

from typing import Any

import pytest

from tiktok_etl.api.research_query import QuerySyntaxError, Term, parse_query


def eq(field: str, value: str) -> dict[str, Any]:
    return {"operation": "EQ", "field_name": field, "field_values": [value]}


def in_(field: str, *values: str) -> dict[str, Any]:
    return {"operation": "IN", "field_name": field, "field_values": list(values)}


@pytest.mark.parametrize(
    ("text", "regions", "expected"),
    [
        ("acme", (), {"and": [eq("keyword", "acme")]}),
        ("#Acme", (), {"and": [eq("hashtag_name", "acme")]}),
        ("@acme_official", (), {"and": [eq("username", "acme_official")]}),
        ('"new  flavour"', (), {"and": [eq("keyword", "new flavour")]}),
        ("#acme OR acme", (), {"or": [eq("hashtag_name", "acme"), eq("keyword", "acme")]}),
        (
            "acme OR widget OR #acme",
            (),
            {"or": [in_("keyword", "acme", "widget"), eq("hashtag_name", "acme")]},
        ),
        (
            'acme "new flavour" -recall',
            (),
            {
                "and": [eq("keyword", "acme"), eq("keyword", "new flavour")],
                "not": [eq("keyword", "recall")],
            },
        ),
        (
            "@brand AND #launch",
            (),
            {"and": [eq("username", "brand"), eq("hashtag_name", "launch")]},
        ),
        (
            "#acme OR acme -#recall -spam",
            ("us", "GB"),
            {
                "and": [in_("region_code", "US", "GB")],
                "or": [eq("hashtag_name", "acme"), eq("keyword", "acme")],
                "not": [eq("hashtag_name", "recall"), eq("keyword", "spam")],
            },
        ),
        (
            "launch #acme OR acme",
            (),
            {
                "and": [eq("keyword", "launch")],
                "or": [eq("hashtag_name", "acme"), eq("keyword", "acme")],
            },
        ),
    ],
)
def test_the_syntax_becomes_tiktoks_query_object(
    text: str, regions: tuple[str, ...], expected: dict[str, Any]
) -> None:
    assert parse_query(text, regions).to_tiktok() == expected


def test_positive_terms_keep_query_order_and_spelling() -> None:
    query = parse_query('launch #acme OR "new flavour" -recall')
    assert [t.text for t in query.positive_terms] == ["launch", "#acme", "new flavour"]
    assert query.none_of == (Term("keyword", "recall"),)


def test_quoted_operators_are_phrases_not_operators() -> None:
    assert parse_query('"OR" acme').to_tiktok() == {
        "and": [eq("keyword", "OR"), eq("keyword", "acme")]
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ("OR acme", "must stand between two terms"),
        ("acme OR", "ends with an operator"),
        ("acme AND OR b", "must stand between two terms"),
        ('acme "unclosed', "unterminated quote"),
        ('""', "empty quoted phrase"),
        ("#", "invalid hashtag"),
        ("#no-dash", "invalid hashtag"),
        ("@", "invalid username"),
        ("-acme", "only excludes"),
        ("a OR -b", "cannot be part of an OR group"),
        ("a OR b c OR d", "only one OR group"),
        ("acme -", "a lone '-'"),
    ],
)
def test_bad_syntax_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)


def test_a_region_must_be_a_two_letter_code() -> None:
    with pytest.raises(QuerySyntaxError, match="invalid region 'USA'"):
        parse_query("acme", ["USA"])
