"""Checks of client text against the bounds of :mod:`gridmap.bounds`: length, control
characters (a NUL cannot be stored in PostgreSQL text) and lone surrogates (not UTF-8).

Each check answers why a value is refused, or None, so every door can name the field."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from gridmap.bounds import EARLIEST, LATEST, MAX_NAME


def text_problem(value: object, *, max_len: int = MAX_NAME, required: bool = True) -> str | None:
    """Why ``value`` is not an acceptable single-line text, or None when it is."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "is required" if required else None
    if not isinstance(value, str):
        return "must be a text"
    if len(value) > max_len:
        return f"is {len(value):,} characters long; at most {max_len:,}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters (NUL, tab, line breaks, ...)"
    return None


def range_problem(value: datetime) -> str | None:
    """Why ``value`` (timezone-aware) lies outside what the schema stores, or None: the
    bound for moments that may name the future (query windows, fixes judged later)."""
    if not EARLIEST <= value < LATEST:
        return f"must lie between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"
    return None
