"""Patrol coverage, unwatched streets and risk gap layers on the hand-made patrol world."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage
from gridmap.patrols.ingest import ingest_pings, parse_pings
from gridmap.settings import get_settings
from layers import Detail, LayerContext
from layers.params import PatrolWindow
from layers.patrol_coverage import (
    GRIDS_UID,
    RECENCY,
    SHARE_COLORS_DARK,
    SHARE_FILL,
    SHARE_SCALE,
    PatrolCoverageLayer,
    share_outline,
)
from layers.risk_gap import RiskGapLayer
from layers.unwatched_streets import UnwatchedStreetsLayer
from tests.conftest import make_test_database
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0, seed_patrol_world

END = T0 + timedelta(hours=3)


@pytest.fixture(scope="module")
def patrol_engine(_created: list[str]) -> Engine:
    url = make_test_database("layers_patrols")
    _created.append(url)
    seed_patrol_world(url)
    engine = get_engine(url)
    coverage.refresh_static(engine)
    now = T0 + timedelta(hours=10)
    ingest_pings(engine, parse_pings({"pings": walk(t0=T0)}), now=now)  # edges 1, 2 at 08:00
    late = walk(device="D2", start=120.0055, t0=T0 + timedelta(hours=2, minutes=30))
    ingest_pings(engine, parse_pings({"pings": late}), now=now)  # edges 3, 4 at 10:30
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (code, title, category, source, reported_at, geom) VALUES "
                "('C1', 't', 'municipal', 'grid_worker', :at, "
                "ST_SetSRID(ST_MakePoint(120.015, 30.005), 4326))"
            ),
            {"at": T0 + timedelta(hours=1)},
        )
    return engine


def ctx(engine: Engine, zoom: float | None, hours: float = 2.0) -> LayerContext:
    return LayerContext(engine=engine, zoom=zoom, params=(PatrolWindow(until=END, hours=hours),))


def test_streets_by_time_since_last_visit(patrol_engine: Engine) -> None:
    layer = PatrolCoverageLayer()
    data = layer.query(ctx(patrol_engine, 15))
    assert data.attrs["detail"] is Detail.FEATURES
    assert data["edge_id"].tolist() == [1, 2, 3, 4, 5, 6]
    traces = layer.traces(data, "en")
    by_class = {tr.meta["class"]: tr for tr in traces}
    # edges 3, 4: 30 min ago (< 2 h); edges 1, 2: ~3 h ago (2-8 h); 5, 6: never
    assert sorted(by_class) == [0, 1, 4]
    assert by_class[0].line.color == RECENCY[0][2]
    assert sum(v is None for v in by_class[0].lon) == 2
    assert sum(v is None for v in by_class[4].lon) == 2
    assert layer.legend("en")[0].label == "within 2 h"
    # each vertex's hover names its street and its last visit in local time (the cases'
    # time zone), never UTC
    local = (T0 + timedelta(hours=2, minutes=30)).astimezone(
        ZoneInfo(get_settings().cases_timezone)
    )
    texts = {v for v in by_class[0].text if v is not None}
    assert len(texts) == 2 and all(local.strftime("%m-%d %H:") in v for v in texts), texts
    assert len(by_class[0].text) == len(by_class[0].lon)


def test_grids_by_patrolled_share_when_zoomed_out(patrol_engine: Engine) -> None:
    layer = PatrolCoverageLayer()
    data = layer.query(ctx(patrol_engine, 12, hours=2))
    assert data.attrs["detail"] is Detail.AGGREGATED
    shares = dict(zip(data["id"], data["patrolled_share"].round(9), strict=True))
    assert shares == {1: 0.5, 2: 0.0}
    data8 = layer.query(ctx(patrol_engine, 12, hours=8))
    assert dict(zip(data8["id"], data8["patrolled_share"].round(9), strict=True))[1] == 1.0
    (trace,) = layer.traces(data, "zh-CN")
    assert trace.meta == {"layer": "patrol_coverage", "detail": "aggregated"}
    # Outlines only (the case heat under them keeps its colours), a fixed uid (the wall lays
    # its heat under it): grid 1 (50 %) in the middle class, grid 2 (0 %) the widest, darkest.
    assert trace.uid == GRIDS_UID == "patrol_coverage-grids"
    assert (tuple(trace.marker.line.color), tuple(trace.marker.line.width)) == (
        ("#64748b", "#0f172a"),
        (2.5, 4.5),
    )
    assert {c for _, c in trace.colorscale} == {SHARE_FILL}
    # the key: one outline per class, least patrolled first, after the streets' classes
    shares = [(e.label, e.color, e.shape) for e in layer.legend("zh-CN")[len(RECENCY) :]]
    assert shares == [
        ("巡查覆盖不足 50%", "#0f172a", "line"),
        ("巡查覆盖 50–80%", "#64748b", "line"),
        ("巡查覆盖 80% 以上", "#cbd5e1", "line"),
    ]
    assert [e.color for e in layer.share_legend("en", dark=True)] == list(SHARE_COLORS_DARK)


@pytest.mark.parametrize(
    ("shares", "colors", "widths"),
    [
        ([0.0, 0.4999, float("nan")], ["#0f172a"] * 3, [4.5] * 3),
        ([0.5, 0.7999], ["#64748b"] * 2, [2.5] * 2),
        ([0.8, 1.0], ["#cbd5e1"] * 2, [1.2] * 2),
    ],
)
def test_share_classes(shares: list[float], colors: list[str], widths: list[float]) -> None:
    assert share_outline(shares) == {"color": colors, "width": widths}
    assert share_outline(shares, dark=True)["width"] == widths
    assert SHARE_SCALE[0] == (0.0, "#0f172a") and SHARE_SCALE[-1] == (1.0, "#cbd5e1")


def test_unwatched_streets(patrol_engine: Engine) -> None:
    layer = UnwatchedStreetsLayer()
    assert layer.query(ctx(patrol_engine, 12)).attrs["detail"] is Detail.HIDDEN
    data = layer.query(ctx(patrol_engine, 15, hours=2))
    # edges 1, 2 not patrolled in the last 2 h; edge 5 unseen; edge 6 seen 100 of 579 m
    assert data["edge_id"].tolist() == [1, 2, 5, 6]
    assert layer.query(ctx(patrol_engine, 15, hours=8))["edge_id"].tolist() == [5, 6]
    (trace,) = layer.traces(data, "en")
    assert trace.meta["layer"] == "unwatched_streets"


def test_risk_gap_layer(patrol_engine: Engine) -> None:
    layer = RiskGapLayer()
    data = layer.query(ctx(patrol_engine, 12, hours=8))
    assert data[["id", "rank", "cases"]].values.tolist() == [[2, 1, 1]]
    (trace,) = layer.traces(data, "en")
    assert trace.locations == (2,)
    assert layer.export(ctx(patrol_engine, None, hours=8))["id"].tolist() == [2]


def test_streets_as_of_an_earlier_time_ignore_later_visits(patrol_engine: Engine) -> None:
    layer = PatrolCoverageLayer()
    earlier = LayerContext(
        engine=patrol_engine, zoom=15, params=(PatrolWindow(until=T0 + timedelta(hours=1)),)
    )
    data = layer.query(earlier)
    last = dict(zip(data["edge_id"], data["last_at"], strict=True))
    assert last[1] == T0 + timedelta(seconds=40) and last[2] == T0 + timedelta(seconds=100)
    assert all(last[e] is None or last[e] != last[e] for e in (3, 4, 5, 6))  # not yet: NaT
    classes = {tr.meta["class"] for tr in layer.traces(data, "en")}
    assert classes == {0, 4}


def test_communities_by_patrolled_share_when_far_out(patrol_engine: Engine) -> None:
    """Below ``community_zoom`` the layer outlines communities, each by the patrolled share
    of its grids' streets (weighted by street length); the wall's layer keeps grids."""
    layer = PatrolCoverageLayer()
    far = ctx(patrol_engine, layer.community_zoom - 1, hours=2)
    grids = layer.query(ctx(patrol_engine, layer.community_zoom, hours=2))
    with patrol_engine.connect() as conn:
        community = dict(conn.execute(text("SELECT id, community_id FROM grids")).all())
    expected: dict[int, list[float]] = {}
    rows = grids[["id", "street_m", "patrolled_share"]].itertuples(index=False)
    for gid, street, share in rows:
        sums = expected.setdefault(community[gid], [0.0, 0.0])
        sums[0] += street * share
        sums[1] += street
    data = layer.query(far)
    assert data.attrs["detail"] is Detail.AGGREGATED and data.attrs["communities"]
    shares = dict(zip(data["id"], data["patrolled_share"], strict=True))
    assert shares == pytest.approx({c: p / s if s else 0.0 for c, (p, s) in expected.items()})
    (trace,) = layer.traces(data, "en")
    assert trace.uid == GRIDS_UID and len(trace.locations) == len(shares)
    assert layer.note(data, "en") == (
        f"{len(shares)} communities shown; zoom in to level {layer.community_zoom:g} for grids"
    )
    wall = PatrolCoverageLayer(community_zoom=None).query(far)
    assert sorted(wall["id"]) == sorted(grids["id"]) and not wall.attrs.get("communities")


def test_outlines_are_the_zoomed_out_grids_without_shares(patrol_engine: Engine) -> None:
    layer = PatrolCoverageLayer(community_zoom=None)
    view = ctx(patrol_engine, 12, hours=2)
    full, bare = layer.query(view), layer.outlines(view)
    assert bare["id"].tolist() == full["id"].tolist()
    assert bare.geometry.geom_equals(full.geometry).all()
    assert (bare["patrolled_share"] == 0).all() and bare.attrs["detail"] is Detail.AGGREGATED
    (trace,) = layer.traces(bare, "en")
    assert trace.uid == GRIDS_UID and list(trace.locations) == full["id"].tolist()
