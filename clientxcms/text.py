"""Text typed into search boxes, made safe to hand to the database.

PostgreSQL refuses a NUL byte in any text parameter (``DataError``), and neither it nor
SQLite can store a lone surrogate; a search box must answer such a term, not fail on
it. Every search box reads its term through ``clean_search_term``: the list filters
through ``SearchFilter``, plain views directly.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import django_filters
from django import forms

#: Longest search term considered; a longer one is cut, not refused.
SEARCH_MAX_LENGTH = 200
#: The largest id PostgreSQL's bigint holds.
MAX_ID = 2**63 - 1
#: Control characters (NUL among them) and surrogates: never part of a name or e-mail.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def clean_search_term(value: str, max_length: int | None = SEARCH_MAX_LENGTH) -> str:
    """``value`` with control characters turned into spaces, blanks collapsed, and cut to
    ``max_length`` (None: not cut).

    The cleaned term is what people meant to type: ``"bob\\x00"`` searches ``bob``.
    """
    printable = "".join(
        " " if unicodedata.category(char) in _REFUSED_CATEGORIES else char for char in value
    )
    return " ".join(printable.split())[:max_length]


def parse_id(value: object) -> int | None:
    """The primary key that ``value`` (a query parameter) spells, or None.

    ASCII digits only and within PostgreSQL's bigint: ``"²".isdigit()`` is true yet
    ``int()`` refuses it, and a 40-digit number overflows the column.
    """
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class SearchField(forms.CharField):
    """A search box: its value is cleaned before Django's validators see it.

    Cleaning first means a stray NUL is dropped rather than reported ("Null characters
    are not allowed"); an over-long term is still refused by the field's ``max_length``.
    """

    def to_python(self, value: Any) -> str:
        return clean_search_term(super().to_python(value) or "", max_length=None)


class SearchFilter(django_filters.CharFilter):
    """The ``q`` of a FilterSet, read through ``SearchField``."""

    field_class = SearchField
