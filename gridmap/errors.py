"""The root of gridmap's error families: each carries a safe, user-facing message and the
HTTP status it answers with; the validation error names each problem of the input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class GridmapError(Exception):
    """An error whose message is safe to show to a user (no traceback, no secrets).

    ``http_status`` is what the APIs answer with; a family without its own status is the
    server unable to serve just now (e.g. the database cannot be reached)."""

    http_status = 503

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: which field (or column), why, and the row (imports)."""

    field: str
    message: str
    row: int | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"field": self.field, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        return out


class InvalidInput(GridmapError):
    """The input is invalid; ``problems`` names each field and what is wrong (a 400)."""

    http_status = 400

    def __init__(
        self, problems: list[Problem], message: str | None = None, *, hint: str | None = None
    ) -> None:
        if message is None:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            message = f"{first.field}: {first.message}{more}"
        super().__init__(message, hint=hint)
        self.problems = problems


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
