"""The household error family: safe messages with an HTTP status."""

from __future__ import annotations

from gridmap.errors import GridmapError


class HouseholdError(GridmapError):
    """A household or visit request could not be served."""

    http_status = 400


class HouseholdNotFound(HouseholdError):
    """A household, building, unit or visit that does not exist (or that the caller may
    not see: the same answer, so nothing is learnt about other grids)."""

    http_status = 404


class VisitConflict(HouseholdError):
    """An Idempotency-Key was reused for a different visit."""

    http_status = 422
