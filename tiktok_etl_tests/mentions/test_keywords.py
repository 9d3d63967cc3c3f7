"""Keyword matching: case, Unicode, hashtags, word boundaries and scripts without spaces."""

from __future__ import annotations

import pytest

from tiktok_etl.mentions import KeywordMatcher
from tiktok_etl.mentions.keywords import fold


@pytest.mark.parametrize(
    ("keyword", "text", "matches"),
    [
        # case
        ("acme", "ACME is here", True),
        ("ACME", "we love acme", True),
        # NFKC: full-width letters and hash sign
        ("acme", "\uff21\uff23\uff2d\uff25 rocks", True),
        ("\uff41\uff43\uff4d\uff45", "acme rocks", True),
        ("acme", "\uff03\uff21\uff43\uff4d\uff25", True),
        # casefold: ß and SS
        ("straße", "STRASSE gesperrt", True),
        ("STRASSE", "die Straße", True),
        ("İstanbul", "i̇stanbul'da", True),
        # hashtags both ways
        ("acme", "#acme", True),
        ("acme", "#Acme #fyp", True),
        ("#acme", "acme", True),
        ("#acme", "#ACME", True),
        ("acmelaunch", "Our launch 🚀 #AcmeLaunch", True),
        ("acme launch", "#AcmeLaunch today", True),
        ("acme launch", "acmelaunch today", False),
        # word boundaries
        ("acme", "acmelaunch", False),
        ("acme", "#acmelaunch", False),
        ("acme", "superacme", False),
        ("acme", "acme_2", False),
        ("acme", "acme2", False),
        ("acme", "acme.", True),
        ("acme", "(acme), yes", True),
        ("acme", "acme's new drop", True),
        ("acme", "@acme", True),
        ("launch", "re-launch", True),
        ("c++", "I write c++ daily", True),
        ("c++", "c+++", True),
        # emoji next to words
        ("acme", "acme🚀", True),
        ("acme", "🔥acme🔥", True),
        ("acme", "💯acmes", False),
        # multi-word phrases with flexible whitespace
        ("acme launch", "the acme launch", True),
        ("acme launch", "the ACME\n  launch party", True),
        ("acme launch", "acme\tlaunch", True),
        ("acme launch", "acme relaunch", False),
        ("acme launch", "launch acme", False),
        ("  acme   launch ", "acme launch", True),
        # Japanese, Chinese and Thai match as substrings
        ("東京", "東京タワーに行った", True),
        ("タワー", "東京タワーに行った", True),
        ("新品", "我们的新品发布会", True),
        ("新品", "我们的产品发布会", False),
        ("สวัสดี", "สวัสดีครับทุกคน", True),
        ("ｱｸﾒ", "アクメの新製品", True),
        # a Latin keyword inside text without spaces is still found
        ("acme", "acmeの新製品", True),
        ("acme", "新しいacme", True),
        # Korean separates words with spaces: word-bounded
        ("서울", "서울 여행", True),
        ("서울", "서울시", False),
        # Arabic words
        ("مرحبا", "مرحبا بالعالم", True),
        ("بالعالم", "مرحبا بالعالم!", True),
        ("عالم", "مرحبا بالعالم", False),
        ("مرحبا", "#مرحبا", True),
    ],
)
def test_keyword_matching(keyword: str, text: str, matches: bool) -> None:
    assert KeywordMatcher([keyword]).match(text) == ([keyword.strip()] if matches else [])


def test_matches_are_reported_in_keyword_order_once() -> None:
    matcher = KeywordMatcher(["launch", "acme", "ACME", "#acme", "missing"])
    assert matcher.keywords == ("launch", "acme", "missing")
    assert matcher.match("acme acme #launch ACME") == ["launch", "acme"]


def test_overlapping_keywords_all_match() -> None:
    matcher = KeywordMatcher(["acme", "acme launch", "launch"])
    assert matcher.match("the acme launch") == ["acme", "acme launch", "launch"]


@pytest.mark.parametrize("blank", ["", "   ", "#", " # "])
def test_blank_keywords_are_ignored(blank: str) -> None:
    matcher = KeywordMatcher([blank, "acme"])
    assert matcher.keywords == ("acme",)


@pytest.mark.parametrize("text", [None, ""])
def test_no_text_matches_nothing(text: str | None) -> None:
    assert KeywordMatcher(["acme"]).match(text) == []


def test_tag_mode_keeps_every_mention() -> None:
    matcher = KeywordMatcher(["acme"], "tag")
    assert matcher.keeps([]) and matcher.keeps(["acme"])


def test_filter_mode_keeps_only_matches() -> None:
    matcher = KeywordMatcher(["acme"], "filter")
    assert matcher.keeps(["acme"])
    assert not matcher.keeps([])


def test_filter_mode_without_keywords_keeps_every_mention() -> None:
    assert KeywordMatcher([], "filter").keeps([])


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="keyword mode"):
        KeywordMatcher(["acme"], "exclude")  # type: ignore[arg-type]


def test_a_single_string_is_not_taken_for_a_list_of_letters() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        KeywordMatcher("acme")


def test_fold_is_nfkc_then_casefold() -> None:
    assert fold("\uff21\uff22\uff23 Straße \ufb01") == "abc strasse fi"
    assert fold("Plain ASCII") == "plain ascii"
