"""The patrol error family: safe messages with an HTTP status; invalid input is the shared
:class:`gridmap.errors.InvalidInput`, worded as the patrol API words it."""

from __future__ import annotations

from gridmap.errors import GridmapError, InvalidInput, Problem


class PatrolError(GridmapError):
    """A patrol request could not be served."""

    http_status = 400


class PatrolNotFound(PatrolError):
    """A shift or device that does not exist."""

    http_status = 404


def invalid_input(problems: list[Problem]) -> InvalidInput:
    """The validation error of ``problems``, its message "Invalid input: <field> <why>"."""
    first = problems[0] if problems else None
    return InvalidInput(
        problems, f"Invalid input: {first.field} {first.message}" if first else "Invalid input"
    )
