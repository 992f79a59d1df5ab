"""The patrol error family: safe messages with an HTTP status and per-field problems."""

from __future__ import annotations

from dataclasses import dataclass

from gridmap.errors import GridmapError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (a field path) and what."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PatrolError(GridmapError):
    """A patrol request could not be served."""

    http_status = 400


class PatrolValidationError(PatrolError):
    """The input is malformed; ``problems`` says where."""

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        first = problems[0] if problems else None
        summary = message or (
            f"Invalid input: {first.field} {first.message}" if first else "Invalid input"
        )
        super().__init__(summary)
        self.problems = problems


class PatrolNotFound(PatrolError):
    """A shift or device that does not exist."""

    http_status = 404
