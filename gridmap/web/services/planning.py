"""The planning page's service: coverage figures of a kind within some minutes (with a
what-if scenario), the map traces (isochrones, points, uncovered buildings, suggestions),
stored-result status, recompute, and new-site suggestions — so page callbacks stay thin.

:mod:`gridmap.analytics` computes (walks, coverage tables, what-if results, sites) and
returns data; the Plotly traces of those results are drawn here.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType
from scipy.sparse import csgraph
from sqlalchemy import Engine, text

from gridmap.analytics.coverage import (
    TOLERANCE_M,
    RunStatus,
    by_area,
    run_status,
    save_coverage,
)
from gridmap.analytics.isochrones import compute_isochrones, isochrone_polygon, save_isochrones
from gridmap.analytics.params import CircleParams
from gridmap.analytics.siting import SitingResult, suggest_sites
from gridmap.analytics.whatif import CACHE, Edit, WhatIf, apply_edits, whatif
from gridmap.i18n import t
from gridmap.settings import get_settings
from layers.base import LayerContext
from layers.params import CircleFilter
from layers.service_circles import ServiceCirclesLayer, polygon_rings
from layers.service_points import HALO_COLOR, KIND_COLORS
from layers.specs import LegendEntry
from layers.uncovered_buildings import UncoveredBuildingsLayer

log = logging.getLogger(__name__)

CIRCLES = ServiceCirclesLayer()
UNCOVERED = UncoveredBuildingsLayer()
SUGGESTION_COLOR = "#16a34a"
#: Buildings the what-if newly covers, and those it leaves uncovered.
GAINED_COLOR = "#0891b2"
LOST_COLOR = "#f59e0b"


def engine_url(engine: Engine) -> str:
    """The libpq URL of an engine (without the SQLAlchemy driver name)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def parse_edits(data: list[dict[str, Any]] | None) -> list[Edit]:
    return [Edit.from_dict(e) for e in data or []]


@dataclass(frozen=True)
class Figures:
    """What the coverage card shows; ``gained``/``lost``: (lon, lat) of the buildings the
    scenario newly covers or leaves uncovered."""

    result: WhatIf
    off_network: int
    off_network_people: int
    communities: list[dict[str, Any]] = field(default_factory=list)
    gained: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    lost: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))


def coverage_figures(
    engine: Engine, kind: str, minutes: float, edits: list[Edit], params: CircleParams
) -> Figures:
    """Coverage of ``kind`` within ``minutes`` today and with ``edits``; least covered
    communities (by name; among equals the most populous first) in the scenario; buildings
    the scenario gains and loses."""
    url = engine_url(engine)
    result = whatif(url, kind, minutes, edits, params)
    model, baselines = CACHE.get(url, params if minutes <= params.minutes[-1] else
                                 replace(params, minutes=(*params.minutes, minutes)))  # fmt: skip
    base = baselines[kind] if kind in baselines else model.walk(kind)
    walk = model.walk(kind, apply_edits(model, edits)) if edits else base
    table = by_area(model, walk, minutes, "community_id")
    table = table[table["population"] > 0].sort_values(
        ["population_pct", "population", "community_id"], ascending=[True, False, True]
    )
    worst = table.head(5)
    names = community_names(engine, [int(i) for i in worst["community_id"]])
    communities = [
        {"id": int(r.community_id), "name": names.get(int(r.community_id), str(r.community_id)),
         "pct": float(r.population_pct), "people": int(r.population)}
        for r in worst.itertuples()
    ]  # fmt: skip
    reach = model.params.reach_m(minutes) + TOLERANCE_M
    before, after = base <= reach, walk <= reach
    lonlat = model.buildings.lonlat
    return Figures(
        result,
        int(result.scenario["off_network"]),
        int(result.scenario["off_network_population"]),
        communities,
        lonlat[after & ~before],
        lonlat[before & ~after],
    )


def community_names(engine: Engine, ids: list[int]) -> dict[int, str]:
    """Community id → name (as the communities table holds it)."""
    if not ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, name FROM communities WHERE id = ANY(:ids)"), {"ids": ids}
        )
        return {int(i): str(n) for i, n in rows}


@dataclass(frozen=True)
class Worst:
    """The least covered (kind, minutes) of the stored coverage run."""

    kind: str
    minutes: float
    pct: float


def worst_covered(engine: Engine, params: CircleParams) -> Worst | None:
    """The (kind, minutes) with the lowest share of people covered in the stored coverage
    run, among kinds that cover anyone at all (a kind without service points is left out);
    ties go to the earlier kind and the longer walk. ``None`` without a stored run."""
    status = run_status(engine_url(engine), "coverage", params)
    summary = status.summary or {}
    found: list[tuple[float, int, float, str]] = []
    for order, kind in enumerate(params.kinds):
        rows = summary.get(kind) or []
        if not any(r.get("population_covered", 0) > 0 for r in rows):
            continue
        for r in rows:
            found.append((float(r["population_pct"]), order, -float(r["minutes"]), kind))
    if not found:
        return None
    pct, _order, minutes, kind = min(found)
    return Worst(kind, -minutes, pct)


def points_text(points: float) -> str:
    """Percentage points, signed, with enough digits to show a small change (≥ 1 decimal,
    two significant digits below 0.1)."""
    size = abs(points)
    digits = 1 if size >= 0.1 or size == 0 else 1 - math.floor(math.log10(size))
    return f"{points:+.{digits}f}"


def delta_text(result: WhatIf, lang: str) -> str:
    """The scenario against today: people and percentage points, or that nothing changed."""
    b, s = result.baseline, result.scenario
    people = int(s["population_covered"]) - int(b["population_covered"])
    if people == 0:
        return t("plan.no_change", lang)
    points = 100.0 * people / b["population"] if b["population"] else 0.0
    return t("plan.delta", lang, people=f"{people:+,}", delta=points_text(points))


def point_options(
    engine: Engine, kind: str, edits: list[Edit], params: CircleParams, lang: str
) -> list[dict[str, Any]]:
    """Dropdown options: the scenario's points of ``kind`` (id → name)."""
    model, _ = CACHE.get(engine_url(engine), params)
    sites = apply_edits(model, edits) if edits else model.sites
    pick = np.flatnonzero(sites.kinds == kind)
    return [
        {"label": f"{sites.names[i]} (#{sites.ids[i]})", "value": int(sites.ids[i])} for i in pick
    ]


def map_traces(
    engine: Engine,
    kind: str,
    minutes: float,
    euclid: bool,
    edits: list[Edit],
    params: CircleParams,
    lang: str,
    view: dict[str, Any] | None,
    suggestions: list[dict[str, Any]] | None,
    figures: Figures | None = None,
) -> list[BaseTraceType]:
    """Isochrones (stored), uncovered buildings (stored, in view), the buildings the
    scenario gains and loses (with legend entries), the scenario's points of the kind and
    suggested sites."""
    filters = (CircleFilter(kind=kind, minutes=minutes, euclid=euclid),)
    ctx = LayerContext(engine, params=filters, language=lang)
    traces = CIRCLES.traces(CIRCLES.query(ctx), lang)
    if view:
        vctx = LayerContext(engine, bbox=tuple(view["bbox"]), zoom=view["zoom"], params=filters)
        traces += UNCOVERED.traces(UNCOVERED.query(vctx), lang)
    model, _ = CACHE.get(engine_url(engine), params)
    sites = apply_edits(model, edits) if edits else model.sites
    pick = np.flatnonzero(sites.kinds == kind)
    traces += whatif_circles(model, sites, pick, edits, minutes, lang)
    if figures is not None:
        traces += change_traces(figures, lang)
    lon = np.round(sites.lonlat[pick, 0], 6).tolist()
    lat = np.round(sites.lonlat[pick, 1], 6).tolist()
    changed = {e.point_id for e in edits if e.point_id is not None}
    colors = [
        "#0f172a" if (sites.ids[i] < 0 or sites.ids[i] in changed) else KIND_COLORS[kind]
        for i in pick
    ]
    traces.append(
        go.Scattermap(
            lon=lon,
            lat=lat,
            mode="markers",
            hoverinfo="skip",
            showlegend=False,
            marker={"size": 19, "color": HALO_COLOR},
            meta={"layer": "plan_points", "role": "halo"},
        )
    )
    traces.append(
        go.Scattermap(
            lon=lon,
            lat=lat,
            mode="markers",
            marker={"size": 13, "color": colors},
            customdata=[[int(sites.ids[i]), str(sites.names[i])] for i in pick],
            hovertemplate="<b>%{customdata[1]}</b> #%{customdata[0]}<extra></extra>",
            showlegend=False,
            meta={"layer": "plan_points"},
        )
    )
    if suggestions:
        traces.append(
            go.Scattermap(
                lon=[s["lon"] for s in suggestions],
                lat=[s["lat"] for s in suggestions],
                mode="markers+text",
                text=[f"#{s['rank']}" for s in suggestions],
                textposition="top center",
                marker={"size": 16, "color": SUGGESTION_COLOR},
                hoverinfo="skip",
                showlegend=False,
                meta={"layer": "plan_suggestions"},
            )
        )
    return traces


def plan_key(kind: str, minutes: float, lang: str) -> list[LegendEntry]:
    """The map's key for the kind and minutes: its walking area and points, the buildings
    it leaves out and the suggested sites (the what-if changes have Plotly's legend)."""
    name = t(f"service.{kind}", lang)
    color = KIND_COLORS[kind]
    return [
        LegendEntry(t("plan.key_circle", lang, kind=name, minutes=f"{minutes:g}"), color, "fill"),
        LegendEntry(name, color, "circle"),
        *UNCOVERED.legend(lang),
        LegendEntry(t("plan.suggest", lang), SUGGESTION_COLOR, "circle"),
    ]


def whatif_circles(
    model: Any, sites: Any, pick: np.ndarray, edits: list[Edit], minutes: float, lang: str
) -> list[BaseTraceType]:
    """Walking areas of the added and moved points, computed in memory (outlined)."""
    changed = {e.point_id for e in edits if e.op == "move"}
    mine = [i for i in pick if sites.ids[i] < 0 or sites.ids[i] in changed]
    if not mine:
        return []
    g, params = model.graph, model.params
    reach = params.reach_m(minutes)
    polys = []
    for i in mine:
        if sites.snap[i] > params.max_snap_m:
            continue
        dist = csgraph.dijkstra(g.matrix, directed=True, indices=int(sites.node[i]), limit=reach)
        origin = g.to_local(sites.lonlat[i : i + 1, 0], sites.lonlat[i : i + 1, 1])[0]
        polys.append(isochrone_polygon(g, dist, origin, float(sites.snap[i]), reach,
                                       params.buffer_m))  # fmt: skip
    if not polys:
        return []
    lon, lat = polygon_rings(g.to_lonlat(np.array(polys, dtype=object)))
    return [
        go.Scattermap(
            lon=lon,
            lat=lat,
            mode="lines",
            fill="toself",
            fillcolor="rgba(15,23,42,0.08)",
            line={"width": 2, "color": "#0f172a"},
            hoverinfo="name",
            name=t("plan.whatif_circle", lang, minutes=f"{minutes:g}"),
            showlegend=True,
            meta={"layer": "plan_whatif_circles"},
        )
    ]


def change_traces(figures: Figures, lang: str) -> list[BaseTraceType]:
    """The buildings the what-if newly covers and leaves uncovered, each with a legend
    entry naming how many."""
    traces: list[BaseTraceType] = []
    for points, color, key, layer in (
        (figures.gained, GAINED_COLOR, "plan.legend_gained", "plan_gained"),
        (figures.lost, LOST_COLOR, "plan.legend_lost", "plan_lost"),
    ):
        if not len(points):
            continue
        traces.append(
            go.Scattermap(
                lon=np.round(points[:, 0], 6).tolist(),
                lat=np.round(points[:, 1], 6).tolist(),
                mode="markers",
                marker={"size": 9, "color": color, "opacity": 0.95},
                name=t(key, lang, count=f"{len(points):,}"),
                hoverinfo="name",
                showlegend=True,
                meta={"layer": layer},
            )
        )
    return traces


def warm_up(engine: Engine, params: CircleParams | None = None) -> None:
    """Build this process's planning model and the walks of the view ``/plan`` opens on
    (the worst covered kind), so the first planner after a start does not wait for them.
    Never raises: a database without a network, or unreachable, is the page's to report."""
    params = params or CircleParams.from_settings()
    try:
        worst = worst_covered(engine, params)
        kind, minutes = (worst.kind, worst.minutes) if worst else (params.kinds[0], 15.0)
        coverage_figures(engine, kind, minutes, [], params)
    except Exception as exc:  # a warm-up must never take the worker down
        log.info("planning warm-up skipped: %s", exc)


def status_text(engine: Engine, params: CircleParams, lang: str) -> str:
    """One line: whether stored isochrones/coverage are current."""
    url = engine_url(engine)
    states = [run_status(url, job, params) for job in ("coverage", "isochrones")]
    worst: RunStatus = next((s for s in states if s.state == "missing"), None) or next(
        (s for s in states if s.state == "stale"), states[0]
    )
    at = f"{worst.computed_at:%Y-%m-%d %H:%M}" if worst.computed_at else ""
    state = t(f"plan.status_{worst.state}", lang, reason=worst.reason, at=at)
    return t("plan.status", lang, state=state)


def recompute(engine: Engine, params: CircleParams) -> tuple[int, float]:
    """Recompute and store coverage and isochrones; (isochrones, seconds)."""
    url = engine_url(engine)
    started = time.perf_counter()
    CACHE.clear()
    model, _ = CACHE.get(url, params)
    walks = model.walks()
    save_coverage(url, model, walks, time.perf_counter() - started)
    isos = compute_isochrones(model)
    save_isochrones(url, model, isos, time.perf_counter() - started)
    return len(isos), time.perf_counter() - started


def suggestions(
    engine: Engine, kind: str, minutes: float, k: int, candidates: str, edits: list[Edit],
    params: CircleParams,
) -> SitingResult:  # fmt: skip
    """k new sites for the scenario (greedy maximal covering)."""
    model, _ = CACHE.get(engine_url(engine), params)
    sites = apply_edits(model, edits) if edits else None
    return suggest_sites(
        model, kind, k, minutes, candidates, sites=sites,
        max_candidates=get_settings().circles_max_candidates,
    )  # fmt: skip
