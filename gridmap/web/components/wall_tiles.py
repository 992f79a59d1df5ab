"""The wall screen's KPI tiles: the four case tiles (new today, open, overdue, resolution
rate: :mod:`gridmap.web.components.kpis`) and three heavier ones read on a slower interval —
patrol coverage now, cameras online and people inside the service circles (SQL functions
in ``sql/functions/wall.sql``).

People inside the circles only change with a new coverage run, so that sum is kept per run
(and parameters) in the process; the other figures are read every time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

from dash import html
from sqlalchemy import Connection, Engine, text

from gridmap.access.scope import request_cache_scope
from gridmap.i18n import t
from gridmap.web.components.kpis import CaseTiles

CAMERAS_SQL = "SELECT cameras, online FROM gridmap_wall_cameras()"
PATROL_SQL = "SELECT street_m, patrolled_m FROM gridmap_wall_patrol(:t0, :t1)"
LATEST_RUN_SQL = "SELECT id FROM gridmap_latest_run('coverage')"
CIRCLES_SQL = (
    "SELECT run_id, max_minutes, population, covered "
    "FROM gridmap_wall_circle_population(:minutes, :kinds)"
)
#: The tiles, in screen order.
CASE_KEYS = ("new_today", "open", "overdue", "resolution_rate")
EXTRA_KEYS = ("patrol_now", "cameras_online", "circle_population")


@dataclass(frozen=True)
class WallExtras:
    """The heavier figures: cameras (all, online), city street metres and the metres
    patrolled in the last ``patrol_hours`` (None: street pieces never computed), and the
    people of the latest coverage run inside ``circle_minutes`` circles of ``circle_kinds``
    (None: no run, or the run's circles are smaller)."""

    cameras: int
    cameras_online: int
    patrol_hours: float
    street_m: float | None
    patrolled_m: float | None
    circle_minutes: float
    population: int | None
    population_covered: int | None
    circle_kinds: tuple[str, ...] = ()

    @property
    def camera_rate(self) -> float | None:
        return self.cameras_online / self.cameras if self.cameras else None

    @property
    def patrol_rate(self) -> float | None:
        if not self.street_m or self.patrolled_m is None:
            return None
        return self.patrolled_m / self.street_m

    @property
    def circle_rate(self) -> float | None:
        if not self.population or self.population_covered is None:
            return None
        return self.population_covered / self.population

    def to_store(self) -> dict[str, Any]:
        return asdict(self)


_circle_cache: dict[tuple, tuple[int | None, int | None]] = {}
_circle_lock = Lock()


def _after_fork_in_child() -> None:
    global _circle_lock
    _circle_lock = Lock()  # a thread of the parent may have held it


os.register_at_fork(after_in_child=_after_fork_in_child)


def _circle_population(
    conn: Connection, url: str, minutes: float, kinds: Sequence[str]
) -> tuple[int | None, int | None]:
    """(people, people covered) of the latest coverage run, cached per run."""
    run_id = conn.execute(text(LATEST_RUN_SQL)).scalar()
    if run_id is None:
        return None, None
    key = (url, request_cache_scope(), int(run_id), float(minutes), tuple(kinds))
    with _circle_lock:
        if key in _circle_cache:
            return _circle_cache[key]
    row = conn.execute(
        text(CIRCLES_SQL), {"minutes": minutes, "kinds": list(kinds) or None}
    ).first()
    if row is None or row.max_minutes is None or row.max_minutes < minutes:
        value: tuple[int | None, int | None] = (None, None)
    else:
        value = (int(row.population), int(row.covered))
    if row is not None and int(row.run_id) == key[2]:
        with _circle_lock:
            _circle_cache[key] = value
    return value


def read_extras(
    engine: Engine,
    now: datetime,
    *,
    patrol_hours: float,
    circle_minutes: float,
    circle_kinds: Sequence[str] = (),
    patrol: bool = True,
) -> WallExtras:
    """The heavier figures at ``now`` (one connection); ``patrol=False`` leaves the patrol
    metres unread (None) for a caller that has them already. Raises SQLAlchemyError."""
    url = engine.url.render_as_string(hide_password=True)
    street = patrolled = None
    with engine.connect() as conn:
        cameras = conn.execute(text(CAMERAS_SQL)).one()
        if patrol:
            t0 = now - timedelta(hours=patrol_hours)
            row = conn.execute(text(PATROL_SQL), {"t0": t0, "t1": now}).one()
            if row.street_m is not None:
                street, patrolled = float(row.street_m), float(row.patrolled_m)
        population, covered = _circle_population(conn, url, circle_minutes, circle_kinds)
    return WallExtras(
        cameras=int(cameras.cameras),
        cameras_online=int(cameras.online),
        patrol_hours=float(patrol_hours),
        street_m=street,
        patrolled_m=patrolled,
        circle_minutes=float(circle_minutes),
        population=population,
        population_covered=covered,
        circle_kinds=tuple(circle_kinds),
    )


# -- rendering -------------------------------------------------------------------------------


def wall_tile(key: str, label: str, value: str, sub: str = "", tone: str = "") -> html.Div:
    """One tile: label, big value, a line under it (id ``wall-kpi-{key}``)."""
    return html.Div(
        id=f"wall-kpi-{key}",
        className=f"wall-tile {tone}".strip(),
        children=[
            html.Div(label, className="wall-tile-label"),
            html.Div(value, className="wall-tile-value"),
            html.Div(sub, className="wall-tile-sub"),
        ],
    )


def _pct(rate: float | None, lang: str) -> str:
    return f"{rate:.1%}" if rate is not None else t("kpi.none", lang)


def case_tiles(tiles: CaseTiles | None, lang: str, window: str) -> list[html.Div]:
    """The four case tiles (dashes while nothing has been read)."""
    none = t("kpi.none", lang)
    span = t(f"window.{window}", lang)
    if tiles is None:
        return [wall_tile(k, t(f"kpi.{k}", lang), none) for k in CASE_KEYS]
    return [
        wall_tile(
            "new_today",
            t("kpi.new_today", lang),
            f"{tiles.new_today:,}",
            t("wall.since_midnight", lang),
            "tone-accent",
        ),
        wall_tile(
            "open",
            t("kpi.open", lang),
            f"{tiles.open:,}",
            t("wall.in_window", lang, window=span, count=f"{tiles.total:,}"),
        ),
        wall_tile(
            "overdue",
            t("kpi.overdue", lang),
            f"{tiles.overdue:,}",
            t("wall.overdue_share", lang, pct=_pct(tiles.overdue / tiles.open, lang))
            if tiles.open
            else span,
            "tone-alert" if tiles.overdue else "",
        ),
        wall_tile(
            "resolution_rate",
            t("kpi.resolution_rate", lang),
            _pct(tiles.resolution_rate, lang),
            t("wall.resolved_count", lang, count=f"{tiles.resolved:,}", window=span),
            "tone-good",
        ),
    ]


def extra_tiles(extras: WallExtras | None, lang: str) -> list[html.Div]:
    """Patrol coverage now, cameras online and people inside the circles (dashes while
    nothing has been read; "not computed" when the analysis was never run)."""
    none = t("kpi.none", lang)
    if extras is None:
        labels = {
            "patrol_now": t("kpi.patrol_now", lang),
            "cameras_online": t("kpi.cameras_online", lang),
            "circle_population": t("kpi.circle_population", lang, minutes="15"),
        }
        return [wall_tile(k, labels[k], none) for k in EXTRA_KEYS]
    hours = f"{extras.patrol_hours:g}"
    minutes = f"{extras.circle_minutes:g}"
    patrol_rate = extras.patrol_rate
    kinds = "、".join(t(f"service.{k}", lang) for k in extras.circle_kinds) or t(
        "wall.all_kinds", lang
    )
    circle_rate = extras.circle_rate
    return [
        wall_tile(
            "patrol_now",
            t("kpi.patrol_now", lang),
            _pct(patrol_rate, lang),
            t("wall.patrol_sub", lang, hours=hours, km=f"{(extras.street_m or 0) / 1000:,.0f}")
            if patrol_rate is not None
            else t("wall.not_computed", lang),
            "tone-good",
        ),
        wall_tile(
            "cameras_online",
            t("kpi.cameras_online", lang),
            _pct(extras.camera_rate, lang),
            t(
                "wall.cameras_sub",
                lang,
                online=f"{extras.cameras_online:,}",
                total=f"{extras.cameras:,}",
            ),
            "tone-good",
        ),
        wall_tile(
            "circle_population",
            t("kpi.circle_population", lang, minutes=minutes),
            f"{extras.population_covered:,}" if circle_rate is not None else none,
            t("wall.circle_sub", lang, kinds=kinds, pct=_pct(circle_rate, lang))
            if circle_rate is not None
            else t("wall.not_computed", lang),
            "tone-accent",
        ),
    ]
