"""The root of gridmap's error families: each carries a safe, user-facing message."""

from __future__ import annotations

from typing import Any


class GridmapError(Exception):
    """An error whose message is safe to show to a user (no traceback, no secrets)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


def type_name(value: Any) -> str:
    """'a string', 'an integer', … (a JSON value's kind, for error messages)."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
