"""Typed layer parameters: looked up by type, defaults when absent, one mapping from the
flat export filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from gridmap.cases.filters import CaseFilter
from layers import LayerContext, LayerError
from layers.params import CircleFilter, PatrolWindow, RiskGapParams, from_filters
from layers.patrol_coverage import window_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_params_are_looked_up_by_type_with_defaults(engine: Engine) -> None:
    circles = CircleFilter(kind="health_station", minutes=10.0)
    ctx = LayerContext(engine, params=(circles,))
    assert ctx.param(CircleFilter) is circles
    assert ctx.param(CaseFilter) == CaseFilter()
    assert ctx.param(PatrolWindow) == PatrolWindow()
    assert ctx.param(RiskGapParams) == RiskGapParams()


def test_one_parameter_object_per_type(engine: Engine) -> None:
    with pytest.raises(LayerError, match="Two CircleFilter parameters given"):
        LayerContext(engine, params=(CircleFilter(), CircleFilter(minutes=5.0)))


def test_patrol_window_bounds() -> None:
    assert PatrolWindow(until=NOW).bounds() == (NOW - timedelta(hours=8), NOW)
    assert PatrolWindow(until=NOW, hours=2).bounds() == (NOW - timedelta(hours=2), NOW)
    start = NOW - timedelta(days=3)
    assert PatrolWindow(since=start, until=NOW, hours=2).bounds() == (start, NOW)
    assert PatrolWindow().bounds(NOW) == (NOW - timedelta(hours=8), NOW)


def test_the_case_window_does_not_leak_into_the_patrol_window(engine: Engine) -> None:
    cases_only = LayerContext(engine, params=(CaseFilter(since=NOW - timedelta(days=30)),))
    t0, t1 = window_of(cases_only)
    assert t1 - t0 == timedelta(hours=8)
    both = LayerContext(
        engine,
        params=(CaseFilter(since=NOW - timedelta(days=30)), PatrolWindow(since=NOW - timedelta(1))),
    )
    assert window_of(both)[0] == NOW - timedelta(days=1)


def test_export_filters_map_into_typed_params() -> None:
    since, until = NOW - timedelta(days=7), NOW
    filters = {
        "categories": ["disputes"],
        "statuses": ["reported", "returned"],
        "sources": ["hotline_12345"],
        "circle_kind": "health_station",
        "circle_minutes": 10,
        "circle_euclid": True,
        "patrol_window_h": 2,
        "risk_top": 5,
    }
    assert from_filters(filters, since, until) == (
        CaseFilter(since, until, ("disputes",), ("reported", "returned"), ("hotline_12345",)),
        CircleFilter("health_station", 10.0, True),
        PatrolWindow(since, until, 2.0),
        RiskGapParams(5),
    )
    assert from_filters({}) == (CaseFilter(), CircleFilter(), PatrolWindow(), RiskGapParams())
