"""What-if: add, move or remove service points in memory and see coverage change, without
touching the stored data until the scenario is saved.

A process keeps one :class:`CoverageModel` per database (reloaded when the data's
fingerprint changes, checked at most every ``RECHECK_S`` seconds); a scenario is a list of
:class:`Edit` applied to a copy of its service points, and one kind's coverage is one
multi-source Dijkstra — milliseconds on the demo city, well under a second at city scale.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from gridmap.access.errors import AccessError
from gridmap.access.scope import request_scope_user
from gridmap.analytics.coverage import CoverageModel, Sites, data_print, summarize
from gridmap.analytics.errors import ParameterError
from gridmap.analytics.params import SERVICE_KINDS, CircleParams
from gridmap.db.engine import connect

#: Seconds between checks that a cached model still matches the database.
RECHECK_S = 5.0


@dataclass(frozen=True)
class Edit:
    """One change: ``add`` a point of ``kind`` at lon/lat, ``move`` point ``point_id``
    there, or ``remove`` point ``point_id``. Added points get ids -1, -2, … in order."""

    op: Literal["add", "move", "remove"]
    point_id: int | None = None
    kind: str | None = None
    lon: float | None = None
    lat: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edit:
        op = data.get("op")
        if op not in ("add", "move", "remove"):
            raise ParameterError(f"Unknown what-if change {op!r}.")
        edit = cls(
            op=op,
            point_id=None if data.get("point_id") is None else int(data["point_id"]),
            kind=data.get("kind"),
            lon=None if data.get("lon") is None else float(data["lon"]),
            lat=None if data.get("lat") is None else float(data["lat"]),
        )
        if op in ("add", "move") and (edit.lon is None or edit.lat is None):
            raise ParameterError("A point needs a position to be added or moved.")
        if op == "add" and edit.kind not in SERVICE_KINDS:
            raise ParameterError(f"Unknown service kind {edit.kind!r}.")
        if op in ("move", "remove") and edit.point_id is None:
            raise ParameterError("Choose the service point to move or remove.")
        return edit

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def apply_edits(model: CoverageModel, edits: list[Edit]) -> Sites:
    """A copy of the model's service points with ``edits`` applied."""
    s = model.sites
    ids, kinds, lonlat, names = s.ids.copy(), s.kinds.copy(), s.lonlat.copy(), s.names.copy()
    new_id = -1
    for edit in edits:
        if edit.op == "add":
            ids = np.append(ids, new_id)
            kinds = np.append(kinds, np.array([edit.kind], dtype=object))
            lonlat = np.vstack([lonlat, [[edit.lon, edit.lat]]])
            names = np.append(names, np.array([f"new {-new_id}"], dtype=object))
            new_id -= 1
            continue
        at = np.flatnonzero(ids == edit.point_id)
        if not len(at):
            raise ParameterError(f"There is no service point {edit.point_id}.")
        if edit.op == "move":
            lonlat[at[0]] = (edit.lon, edit.lat)
        else:
            keep = ids != edit.point_id
            ids, kinds, lonlat, names = ids[keep], kinds[keep], lonlat[keep], names[keep]
    node, snap = model.graph.snap(model.graph.to_local(lonlat[:, 0], lonlat[:, 1]))
    return Sites(ids=ids, kinds=kinds, lonlat=lonlat, node=node, snap=snap, names=names)


@dataclass(frozen=True)
class WhatIf:
    """Coverage of one kind within some minutes: stored points, the scenario, change."""

    kind: str
    minutes: float
    baseline: dict[str, Any]
    scenario: dict[str, Any]
    elapsed_s: float

    @property
    def delta_population(self) -> int:
        return self.scenario["population_covered"] - self.baseline["population_covered"]

    @property
    def delta_pct(self) -> float:
        return round(self.scenario["population_pct"] - self.baseline["population_pct"], 2)


class ModelCache:
    """One CoverageModel per (database, parameters) in this process, with baseline walks.

    The model reads the whole city on its own connection (not through row-level security),
    so it is refused inside a grid-scoped user's request: those roles may not open the
    planning page, and a cached city model must never answer them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)
        self._items: dict[tuple[str, str], tuple[CoverageModel, float, dict[str, np.ndarray]]]
        self._items = {}

    def get(self, url: str, params: CircleParams) -> tuple[CoverageModel, dict[str, np.ndarray]]:
        if request_scope_user() is not None:
            raise AccessError("City-wide planning figures are not available to this account.")
        key = (url, params.digest("coverage"))
        with self._lock:
            item = self._items.get(key)
            now = time.monotonic()
            if item and now - item[1] < RECHECK_S:
                return item[0], item[2]
            if item and data_print(url) == item[0].data_print:
                self._items[key] = (item[0], now, item[2])
                return item[0], item[2]
            model = CoverageModel.load(url, params)
            self._items[key] = (model, now, {})
            return model, self._items[key][2]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held it


CACHE = ModelCache()


def whatif(
    url: str, kind: str, minutes: float, edits: list[Edit], params: CircleParams | None = None
) -> WhatIf:
    """Coverage of ``kind`` within ``minutes`` with the stored points and with ``edits``."""
    if kind not in SERVICE_KINDS:
        raise ParameterError(f"Unknown service kind {kind!r}.")
    params = params or CircleParams.from_settings()
    if minutes > params.minutes[-1]:
        params = replace(params, minutes=(*params.minutes, minutes))
    started = time.perf_counter()
    model, baselines = CACHE.get(url, params)
    if kind not in baselines:
        baselines[kind] = model.walk(kind)
    base = summarize(model, baselines[kind], minutes)
    scenario = (
        summarize(model, model.walk(kind, apply_edits(model, edits)), minutes) if edits else base
    )
    return WhatIf(kind, minutes, base, scenario, time.perf_counter() - started)


def fold_edits(
    edits: list[Edit],
) -> tuple[dict[int, Edit], dict[int, tuple[float, float]], set[int]]:
    """The net effect of a scenario: added points (by their negative id, at their final
    place), stored points moved (final place) and stored points removed."""
    added: dict[int, Edit] = {}
    moved: dict[int, tuple[float, float]] = {}
    removed: set[int] = set()
    new_id = -1
    for edit in edits:
        if edit.op == "add":
            added[new_id] = edit
            new_id -= 1
        elif edit.point_id is not None and edit.point_id < 0:
            if edit.op == "move" and edit.point_id in added:
                added[edit.point_id] = replace(added[edit.point_id], lon=edit.lon, lat=edit.lat)
            else:
                added.pop(edit.point_id, None)
        elif edit.op == "move":
            moved[edit.point_id] = (edit.lon, edit.lat)
        else:
            removed.add(edit.point_id)
            moved.pop(edit.point_id, None)
    return added, moved, removed


def save_edits(url: str, edits: list[Edit], *, name_prefix: str = "新服务点") -> list[int]:
    """Write a scenario into ``service_points`` (one transaction); ids of added points."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    added, moved, removed = fold_edits(edits)
    ids: list[int] = []
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            for i, edit in enumerate(added.values(), start=1):
                cur.execute(
                    "INSERT INTO service_points (code, name, kind, geom) "
                    "VALUES (%s, %s, %s, ST_SetSRID(ST_Point(%s, %s), 4326)) RETURNING id",
                    (f"PLAN-{stamp}-{i}", f"{name_prefix} {i}", edit.kind, edit.lon, edit.lat),
                )
                ids.append(int(cur.fetchone()[0]))
            for point_id, (lon, lat) in moved.items():
                cur.execute(
                    "UPDATE service_points SET geom = ST_SetSRID(ST_Point(%s, %s), 4326) "
                    "WHERE id = %s",
                    (lon, lat, point_id),
                )
            for point_id in sorted(removed):
                cur.execute("DELETE FROM service_points WHERE id = %s", (point_id,))
    finally:
        conn.close()
    CACHE.clear()
    return ids
