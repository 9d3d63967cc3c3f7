"""The listening query syntax, parsed into the Research API's query object.

TikTok's query object is flat: ``{"and": [...], "or": [...], "not": [...]}``, each a list
of conditions ``{"operation": "EQ" | "IN" | ..., "field_name": ..., "field_values": [...]}``.
A video matches when every ``and`` condition holds, at least one ``or`` condition holds
(when there are any) and no ``not`` condition holds. The syntax is small enough to map onto
that shape exactly, so what a person writes is what TikTok runs:

- ``#tag`` -> ``hashtag_name``; ``@user`` -> ``username``; a bare word or a
  ``"quoted phrase"`` -> ``keyword`` (a video description containing it);
- terms side by side, or joined with ``AND``, must all match;
- ``a OR b OR c`` matches any of them (one ``OR`` group per query: TikTok's object has one
  ``or`` list);
- ``-term`` excludes videos matching the term (not inside an ``OR`` group).

No parentheses. Anything else is a :class:`QuerySyntaxError` naming the problem. Pure: no
I/O, no Dagster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

FieldName = Literal["keyword", "hashtag_name", "username", "region_code"]

# hashtags and usernames: what TikTok allows in them (letters of any script, digits, _ .)
_NAME = re.compile(r"^[^\W]([\w.]*)$", re.UNICODE)
_REGION = re.compile(r"^[A-Z]{2}$")
MAX_TERMS = 50


class QuerySyntaxError(ValueError):
    """A listening query that cannot be parsed; the message says what to change."""


@dataclass(frozen=True)
class Term:
    """One condition of the query: a field and the value to find."""

    field: FieldName
    value: str

    @property
    def text(self) -> str:
        """How the term is written in the syntax (and reported in ``matched_keywords``)."""
        if self.field == "hashtag_name":
            return f"#{self.value}"
        if self.field == "username":
            return f"@{self.value}"
        return self.value


@dataclass(frozen=True)
class ListeningQuery:
    """A parsed query: terms that must all match, one group of which any must, and
    exclusions; ``regions`` (ISO country codes) restrict it further."""

    all_of: tuple[Term, ...] = ()
    any_of: tuple[Term, ...] = ()
    none_of: tuple[Term, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def positive_terms(self) -> tuple[Term, ...]:
        """The terms a match is made of (for ``matched_keywords``), in query order."""
        return self.all_of + self.any_of

    def to_tiktok(self) -> dict[str, Any]:
        """The Research API query object."""
        query: dict[str, Any] = {}
        conditions = [_condition("EQ", term.field, [term.value]) for term in self.all_of]
        if self.regions:
            conditions.append(_condition("IN", "region_code", list(self.regions)))
        if conditions:
            query["and"] = conditions
        if self.any_of:
            query["or"] = _grouped(self.any_of)
        if self.none_of:
            query["not"] = _grouped(self.none_of)
        return query


def _condition(operation: str, field: str, values: list[str]) -> dict[str, Any]:
    return {"operation": operation, "field_name": field, "field_values": values}


def _grouped(terms: Iterable[Term]) -> list[dict[str, Any]]:
    """One ``IN`` condition per field, values in query order (any value of the list)."""
    by_field: dict[str, list[str]] = {}
    for term in terms:
        values = by_field.setdefault(term.field, [])
        if term.value not in values:
            values.append(term.value)
    return [
        _condition("EQ" if len(values) == 1 else "IN", field, values)
        for field, values in by_field.items()
    ]


# a quoted phrase, or a run of characters that are neither space nor quote
_TOKEN = re.compile(r'\s*(?:"(?P<phrase>[^"]*)"|(?P<bare>[^\s"]+)|(?P<open>"))')


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, was_quoted) pairs; an unterminated quote is an error."""
    out: list[tuple[str, bool]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match["open"] is not None:
            raise QuerySyntaxError(f"unterminated quote at character {position + 1}: close it")
        if match["phrase"] is not None:
            out.append((match["phrase"], True))
        else:
            out.append((match["bare"], False))
        position = match.end()
    return out


def _term(token: str, quoted: bool) -> Term:
    if quoted:
        phrase = " ".join(token.split())
        if not phrase:
            raise QuerySyntaxError('empty quoted phrase "": write a word or phrase inside')
        return Term("keyword", phrase)
    for prefix, field, what in (("#", "hashtag_name", "hashtag"), ("@", "username", "username")):
        if token.startswith(prefix):
            name = token[1:]
            if not name or not _NAME.match(name):
                raise QuerySyntaxError(
                    f"invalid {what} {token!r}: write {prefix} followed by letters, digits, "
                    "'_' or '.'"
                )
            return Term(field, name.lower() if field == "hashtag_name" else name)  # type: ignore[arg-type]
    return Term("keyword", token)


def parse_query(text: str, regions: Iterable[str] = ()) -> ListeningQuery:
    """Parse ``text`` (see the module docstring) with optional region codes.

    Examples: ``#acme OR acme`` (either), ``acme "new flavour" -recall`` (both, not the
    third), ``@acme_official AND #launch``.
    """
    codes = tuple(dict.fromkeys(code.strip().upper() for code in regions if code.strip()))
    for code in codes:
        if not _REGION.match(code):
            raise QuerySyntaxError(f"invalid region {code!r}: use a two-letter country code")
    tokens = _tokens(text or "")
    if not tokens:
        raise QuerySyntaxError("empty query: give at least one #tag, @user, word or phrase")
    # clauses joined by AND (written or implied); each clause is terms joined by OR
    clauses: list[list[tuple[Term, bool]]] = []
    expect_term = True
    joined_by_or = False
    for token, quoted in tokens:
        operator = None if quoted else token
        if operator in ("OR", "AND"):
            if expect_term:
                raise QuerySyntaxError(f"{operator} must stand between two terms")
            expect_term, joined_by_or = True, operator == "OR"
            continue
        negated = not quoted and token.startswith("-") and len(token) > 1
        if not quoted and token == "-":
            raise QuerySyntaxError("a lone '-': write -term to exclude a term")
        term = _term(token[1:] if negated else token, quoted)
        if joined_by_or and clauses:
            clauses[-1].append((term, negated))
        else:
            clauses.append([(term, negated)])
        expect_term, joined_by_or = False, False
    if expect_term:
        raise QuerySyntaxError("the query ends with an operator: add a term after it")
    all_of: list[Term] = []
    any_of: list[Term] = []
    none_of: list[Term] = []
    for clause in clauses:
        if len(clause) == 1:
            term, negated = clause[0]
            (none_of if negated else all_of).append(term)
            continue
        if any(negated for _, negated in clause):
            raise QuerySyntaxError("-term cannot be part of an OR group: exclude it separately")
        if any_of:
            raise QuerySyntaxError(
                "only one OR group per query (TikTok's query object has one 'or' list): "
                "register a second query for the other group"
            )
        any_of.extend(term for term, _ in clause)
    if not all_of and not any_of:
        raise QuerySyntaxError("the query only excludes: add a term that videos must match")
    if len(all_of) + len(any_of) + len(none_of) > MAX_TERMS:
        raise QuerySyntaxError(f"too many terms: at most {MAX_TERMS}")
    return ListeningQuery(tuple(all_of), tuple(any_of), tuple(none_of), codes)
