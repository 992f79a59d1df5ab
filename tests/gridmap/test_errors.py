"""Each error family carries the HTTP status it answers with; the one validation error."""

from __future__ import annotations

import pytest

from gridmap.access.errors import AccessError, AccountError, LoginFailed, RateLimited
from gridmap.api.open311 import JurisdictionNotFound, Open311Error
from gridmap.cases.errors import (
    CaseError,
    CaseNotFound,
    IdempotencyConflict,
    ImportRejected,
    TaxonomyError,
    TransitionRefused,
)
from gridmap.cases.intake import DuplicateCase
from gridmap.errors import GridmapError, InvalidInput, Problem
from gridmap.io.export import ExportError
from gridmap.io.jobs import JobNotFound
from gridmap.ogc.errors import OgcError
from gridmap.patrols.errors import PatrolError, PatrolNotFound, invalid_input


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (GridmapError, 503),
        (InvalidInput, 400),
        (CaseError, 400),
        (CaseNotFound, 404),
        (TransitionRefused, 409),
        (DuplicateCase, 409),
        (IdempotencyConflict, 422),
        (TaxonomyError, 500),
        (ImportRejected, 400),
        (Open311Error, 400),
        (JurisdictionNotFound, 404),
        (PatrolError, 400),
        (PatrolNotFound, 404),
        (ExportError, 400),
        (JobNotFound, 404),
        (AccessError, 403),
        (AccountError, 400),
        (LoginFailed, 401),
        (RateLimited, 429),
    ],
)
def test_status_on_the_class(error: type[GridmapError], status: int) -> None:
    assert error.http_status == status


def test_ogc_error_status_is_its_http_status() -> None:
    assert OgcError("gone", 404).http_status == 404
    assert OgcError("bad").http_status == 400


def test_invalid_input_message() -> None:
    one = InvalidInput([Problem("lat", "is required")])
    assert (one.message, one.http_status) == ("lat: is required", 400)
    two = InvalidInput([Problem("lat", "is required"), Problem("lon", "is required")])
    assert two.message == "lat: is required (and 1 more)"
    assert [p.as_dict() for p in two.problems] == [
        {"field": "lat", "message": "is required"},
        {"field": "lon", "message": "is required"},
    ]
    assert Problem("a", "b", 3).as_dict() == {"field": "a", "message": "b", "row": 3}


def test_patrol_wording() -> None:
    err = invalid_input([Problem("ended_at", "is before the shift started")])
    assert isinstance(err, InvalidInput)
    assert err.message == "Invalid input: ended_at is before the shift started"
    assert invalid_input([]).message == "Invalid input"
