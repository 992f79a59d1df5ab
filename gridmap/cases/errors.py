"""The cases error family: each error carries a safe message and the HTTP status it maps to."""

from __future__ import annotations

from gridmap.errors import GridmapError, Problem


class CaseError(GridmapError):
    """A case request could not be carried out; the message is safe to show."""

    http_status = 400


class CaseNotFound(CaseError):
    """No case has the given id."""

    http_status = 404


class TransitionRefused(CaseError):
    """The action is not allowed from the case's current status."""

    http_status = 409

    def __init__(self, message: str, *, status: str, allowed: list[str]) -> None:
        super().__init__(message, hint="allowed actions now: " + (", ".join(allowed) or "none"))
        self.status = status
        self.allowed = allowed


class IdempotencyConflict(CaseError):
    """An Idempotency-Key was reused for a different case."""

    http_status = 422


class TaxonomyError(CaseError):
    """The taxonomy file is missing or malformed."""

    http_status = 500


class ImportRejected(CaseError):
    """A bulk import found bad rows and wrote nothing."""

    def __init__(self, problems: list[Problem], rows: int) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in {rows} row(s); nothing was imported",
            hint="fix the rows listed, or pass --skip-invalid to import the good rows only",
        )
        self.problems = problems
