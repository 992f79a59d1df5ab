"""The derived analyses, computed from the stored data in one order by one recipe.

After a load (``gridmap demo``, an import of pings or service points), the map's analysis
layers read results computed from the raw tables: the patrol street pieces, camera sectors
and what cameras see (``patrol_static``), the patrol visit history matched from every stored
ping (``patrol_visits``), the service circles' coverage (``coverage``) and their walking
isochrones (``isochrones``). :func:`compute_all` runs them, or the chosen ones, in that
order; the CLI (``gridmap demo``, ``gridmap circles compute``, ``gridmap patrols refresh``
and ``rebuild``), the tests' worlds and the benchmarks all use it.

Case heat (``case_heat_days``) and the risk gap need no step here: the heat rollup is kept
current by the database (stale days are refreshed when read) and the risk gap is computed
per request.

With a Dask client (``client=``, see :mod:`gridmap.distributed`) the patrol visits,
coverage and isochrones are computed tile by tile on its cluster, with the same results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from sqlalchemy import Engine, text

from gridmap.analytics.coverage import CoverageModel, save_coverage
from gridmap.analytics.isochrones import compute_isochrones, save_isochrones
from gridmap.analytics.params import CircleParams
from gridmap.db.engine import get_engine
from gridmap.patrols.coverage import refresh_static
from gridmap.patrols.matching import matcher_for
from gridmap.patrols.visits import rebuild_visits
from gridmap.settings import get_settings

#: The steps in the order they run (a later one may read what an earlier one wrote).
STEPS: tuple[str, ...] = ("patrol_static", "patrol_visits", "coverage", "isochrones")

#: ``progress(step, done, total)``: ``done`` of ``total`` units of ``step`` are finished
#: (called with ``done == 0`` when the step starts).
Progress = Callable[[str, int, int], None]

#: Per step, a query that is non-zero once the step's results are stored.
_PRESENT: dict[str, str] = {
    "patrol_static": "SELECT count(*) FROM edge_grid",
    "patrol_visits": "SELECT count(*) FROM edge_last_visit",
    "coverage": "SELECT count(*) FROM analysis_runs WHERE job = 'coverage'",
    "isochrones": "SELECT count(*) FROM analysis_runs WHERE job = 'isochrones'",
}


@dataclass
class Derived:
    """What :func:`compute_all` computed (``None``: the step did not run)."""

    static: dict[str, int] | None = None
    visits: dict[str, int] | None = None
    model: CoverageModel | None = None
    walks: dict[str, np.ndarray] = field(default_factory=dict)
    isochrones: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def rebuild_patrol_visits(
    engine: Engine, progress: Callable[[int, int], None] | None = None, client=None
) -> dict[str, int]:
    """Rebuild the visit history from every stored ping, in one transaction, with the
    configured accuracy and matching distance (on the Dask ``client``'s cluster when
    given); the counts and seconds of each step."""
    settings = get_settings()
    matcher = matcher_for(engine)
    if client is not None:
        from gridmap import distributed

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        stats = distributed.rebuild_visits(
            client, url, matcher, max_accuracy_m=settings.patrol_max_accuracy_m,
            match_m=settings.patrol_match_m,
        )  # fmt: skip
        if progress:
            progress(stats["pings"], stats["pings"])
        return stats
    raw = engine.raw_connection()
    try:
        stats = rebuild_visits(
            raw,
            matcher,
            max_accuracy_m=settings.patrol_max_accuracy_m,
            match_m=settings.patrol_match_m,
            progress=progress,
        )
        raw.commit()
    finally:
        raw.close()
    return stats


def missing_steps(url: str, steps: Iterable[str] = STEPS) -> tuple[str, ...]:
    """The ``steps`` whose results the database at ``url`` does not hold yet."""
    with get_engine(url).connect() as conn:
        return tuple(s for s in steps if not conn.execute(text(_PRESENT[s])).scalar_one())


def compute_all(
    url: str,
    *,
    steps: Iterable[str] = STEPS,
    params: CircleParams | None = None,
    missing_only: bool = False,
    progress: Progress | None = None,
    client=None,
) -> Derived:
    """Compute the derived analyses of the database at ``url``: every step of :data:`STEPS`
    (or those of ``steps``, always in :data:`STEPS` order; ``missing_only``: only those whose
    results are not stored yet). ``params``: the service circles' (default: settings);
    ``client``: a Dask client to run the heavy steps on (:mod:`gridmap.distributed`)."""
    chosen = set(steps)
    unknown = chosen - set(STEPS)
    if unknown:
        raise ValueError(f"unknown derived step(s): {', '.join(sorted(unknown))}")
    todo = tuple(s for s in STEPS if s in chosen)
    if missing_only:
        todo = missing_steps(url, todo)
    report: Progress = progress or _silent
    engine = get_engine(url)
    out = Derived()
    if params is None and {"coverage", "isochrones"} & set(todo):
        params = CircleParams.from_settings()
    for step in todo:
        started = time.perf_counter()
        if step == "patrol_static":
            report(step, 0, 1)
            out.static = refresh_static(engine)
            report(step, 1, 1)
        elif step == "patrol_visits":
            report(step, 0, 1)
            out.visits = rebuild_patrol_visits(engine, partial(report, step), client)
        elif step == "coverage":
            assert params is not None
            _coverage(url, params, out, report, client)
        elif step == "isochrones":
            assert params is not None
            _isochrones(url, params, out, report, client)
        out.seconds[step] = time.perf_counter() - started
    return out


def _silent(step: str, done: int, total: int) -> None:
    """No progress shown."""


def _coverage(url: str, params: CircleParams, out: Derived, report: Progress, client=None) -> None:
    """Every kind's walks from every building, stored as a new coverage run."""
    started = time.perf_counter()
    report("coverage", 0, len(params.kinds))
    out.model = CoverageModel.load(url, params)
    if client is not None:
        from gridmap import distributed

        out.walks = distributed.coverage_walks(client, out.model)
        report("coverage", len(params.kinds), len(params.kinds))
        save_coverage(url, out.model, out.walks, time.perf_counter() - started)
        return
    for k, kind in enumerate(params.kinds, 1):
        out.walks[kind] = out.model.walk(kind)
        report("coverage", k, len(params.kinds))
    save_coverage(url, out.model, out.walks, time.perf_counter() - started)


def _isochrones(
    url: str, params: CircleParams, out: Derived, report: Progress, client=None
) -> None:
    """The isochrones of every on-network service point, stored as a new run."""
    model = out.model = out.model or CoverageModel.load(url, params)
    sites = model.sites
    total = int((np.isin(sites.kinds, params.kinds) & (sites.snap <= params.max_snap_m)).sum())
    done = 0

    def one(n: int) -> None:
        nonlocal done
        done += n
        report("isochrones", done, total)

    report("isochrones", 0, total)
    started = time.perf_counter()
    if client is not None:
        from gridmap import distributed

        isos = distributed.isochrones(client, model)
        one(total)
    else:
        isos = compute_isochrones(model, progress=one)
    save_isochrones(url, model, isos, time.perf_counter() - started)
    out.isochrones = len(isos)
