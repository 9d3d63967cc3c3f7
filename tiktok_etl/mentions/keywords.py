"""Keyword matching for mentions: which of an account's keywords a text contains.

Rules (the same for every account, documented in the README):

- Case-insensitive and Unicode-aware: text and keywords are compared after NFKC
  normalization and case folding, so full-width ``ACME`` (U+FF21...) matches ``acme`` and
  ``STRASSE`` matches ``straße``.
- Hashtag-aware: a leading ``#`` on a keyword is ignored, so ``acme`` and ``#acme`` both
  match ``acme`` and ``#Acme`` in a text. A multi-word keyword also matches its words
  written together as a hashtag: ``acme launch`` matches ``#AcmeLaunch``.
- Word-bounded in scripts that separate words with spaces: the characters around a match
  must not be letters, digits or ``_`` of such a script. ``acme`` does not match inside
  ``acmelaunch``, ``#acmelaunch`` or ``acme_2``, but does match ``acme!``, ``acme's``,
  ``🚀acme`` and ``acmeの新製品`` (Japanese is not a space-separated script).
- Substring-based for keywords written in scripts without spaces between words (Chinese,
  Japanese kana, Thai, Lao, Khmer, Myanmar): ``東京`` matches ``東京タワー``.
- Multi-word keywords match the phrase with any whitespace between the words.

A :class:`KeywordMatcher` compiles an account's keywords once; :meth:`KeywordMatcher.match`
is cheap on texts that contain none of them (a substring test per keyword). Pure Python:
no Dagster, no SQL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

KeywordMode = Literal["tag", "filter"]

# scripts written without spaces between words: their keywords match as substrings and
# their characters do not count as word characters next to a match of another script
_NO_SPACE_RANGES = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK unified ideographs extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK unified ideographs extensions B-G
)
_NO_SPACE_SCRIPT = re.compile(f"[{_NO_SPACE_RANGES}]")
# a word character of a space-separated script
_WORD_CHAR = f"[^\\W{_NO_SPACE_RANGES}]"
_BEFORE = f"(?<!{_WORD_CHAR})"
_AFTER = f"(?!{_WORD_CHAR})"


def fold(text: str) -> str:
    """The form texts and keywords are compared in: NFKC, then case folded."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class _Compiled:
    keyword: str
    # a substring every match contains: a cheap test before the regular expression
    needle: str
    # None when the needle test alone decides
    search: Callable[[str], object] | None


def _words(keyword: str) -> list[str]:
    return fold(keyword).strip().lstrip("#").split()


def _compile(keyword: str) -> _Compiled | None:
    words = _words(keyword)
    if not words:
        return None
    if _NO_SPACE_SCRIPT.search("".join(words)):
        if len(words) == 1:
            return _Compiled(keyword, words[0], None)
        pattern = r"\s*".join(map(re.escape, words))
        return _Compiled(keyword, words[0], re.compile(pattern).search)
    phrase = r"\s+".join(map(re.escape, words))
    if len(words) > 1:
        phrase = f"{phrase}|#{re.escape(''.join(words))}"
    return _Compiled(keyword, words[0], re.compile(f"{_BEFORE}(?:{phrase}){_AFTER}").search)


class KeywordMatcher:
    """An account's keywords, compiled once, and its keyword mode.

    ``tag`` keeps every mention and records the keywords it matched; ``filter`` keeps only
    mentions that match at least one keyword. Keywords that fold to the same text are one
    keyword (the first spelling is reported); blank keywords are ignored. With no keywords
    there is nothing to filter on, so ``filter`` keeps every mention.
    """

    def __init__(self, keywords: Sequence[str] = (), mode: KeywordMode = "tag") -> None:
        if isinstance(keywords, str):
            raise TypeError("keywords must be a sequence of strings, not one string")
        if mode not in ("tag", "filter"):
            raise ValueError(f"invalid keyword mode {mode!r}; expected 'tag' or 'filter'")
        self.mode: KeywordMode = mode
        compiled: dict[tuple[str, ...], _Compiled] = {}
        for keyword in keywords:
            entry = _compile(keyword.strip())
            if entry is not None:
                compiled.setdefault(tuple(_words(keyword)), entry)
        self.keywords: tuple[str, ...] = tuple(c.keyword for c in compiled.values())
        self._entries = tuple((c.keyword, c.needle, c.search) for c in compiled.values())
        # one pass over the text that finds no needle rules out every keyword at once
        needles = sorted({c.needle for c in compiled.values()}, key=len, reverse=True)
        self._any_needle = re.compile("|".join(map(re.escape, needles))).search if needles else None

    @classmethod
    def for_account(cls, account: object) -> KeywordMatcher:
        """The matcher of anything with ``keywords`` and ``keyword_mode`` attributes."""
        return cls(getattr(account, "keywords", ()) or (), getattr(account, "keyword_mode", "tag"))

    def match(self, text: str | None) -> list[str]:
        """The keywords found in ``text``, in keyword order, each once."""
        if not text or self._any_needle is None:
            return []
        folded = fold(text)
        if self._any_needle(folded) is None:
            return []
        return [
            keyword
            for keyword, needle, search in self._entries
            if needle in folded and (search is None or search(folded) is not None)
        ]

    def keeps(self, matched: Sequence[str]) -> bool:
        """Whether a mention that matched ``matched`` belongs in the output."""
        return self.mode == "tag" or not self._entries or bool(matched)

    def __repr__(self) -> str:
        return f"KeywordMatcher({list(self.keywords)!r}, mode={self.mode!r})"
