"""A day plan printed: one A4 portrait PDF page, the route over the walking network on a
small map (numbered stops, scale bar, north up) above the list of stops and households.

Drawn with matplotlib like the print maps (:mod:`gridmap.io.printmap`: no pyplot, the
system's Noto Sans CJK for Chinese text, roads as one path). The map is in the walking
graph's own local metres (azimuthal equidistant at the network's centre), so the scale
bar measures metres. The list holds what fits on the page; the rest is counted.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib_scalebar.scalebar import ScaleBar
from pyproj import Transformer

from gridmap.analytics.network import WalkGraph, local_crs
from gridmap.households.dayplan import DayPlan
from gridmap.io.printmap import _path, cjk_font

#: A4 portrait, inches.
PAGE_IN = (8.27, 11.69)
#: Lines of the list that fit under the map (7 pt).
LIST_LINES = 46
#: Width of one list line in ems of its 7 pt text (0.88 of A4's width; the rest is cut
#: with an ellipsis): a CJK character is one em, others about half.
LINE_EMS = 72.0


def _ems(char: str) -> float:
    return 1.0 if ord(char) >= 0x2E80 else 0.55


def cut(line: str, ems: float = LINE_EMS) -> str:
    """``line`` cut (with an ellipsis) to ``ems`` ems of width."""
    width = 0.0
    for i, char in enumerate(line):
        width += _ems(char)
        if width > ems - 1.0:
            return line[:i] + "…"
    return line


ROUTE = "#dc2626"
STOP = "#1d4ed8"


def _household_text(h: dict[str, Any], tag_names: dict[str, str]) -> str:
    door = "-".join(str(p) for p in (h.get("unit"), h.get("room")) if p) or h["code"]
    name = h.get("head_name") or ""
    tags = "·".join(tag_names.get(t, t) for t in h.get("tags") or [])
    late = f"逾期{h['days_overdue']}天" if h["days_overdue"] > 0 else "今日到期"
    return " ".join(p for p in (door, name, tags, late) if p)


def list_lines(body: dict[str, Any], tag_names: dict[str, str]) -> list[str]:
    """The page's list: one line per stop (its households after the address), cut to
    :data:`LIST_LINES` lines with the count of those left out."""
    lines = []
    for stop in body["stops"]:
        people = "；".join(_household_text(h, tag_names) for h in stop["households"])
        line = f"{stop['seq']:>2}. {stop['address']}（{stop['walk_m']:.0f} m）  {people}"
        lines.append(line if sum(map(_ems, line)) <= LINE_EMS else cut(line))
    if len(lines) > LIST_LINES:
        rest = len(lines) - (LIST_LINES - 1)
        lines = [*lines[: LIST_LINES - 1], f"……另有 {rest} 处（见系统）"]
    return lines


def render_day_plan(
    body: dict[str, Any],
    plan: DayPlan,
    graph: WalkGraph | None,
    tag_names: dict[str, str] | None = None,
) -> bytes:
    """The day plan ``body`` (as the API answers it, masked) as a one-page PDF."""
    font = cjk_font()
    tag_names = tag_names or {}
    fig = Figure(figsize=PAGE_IN)
    title = f"入户走访计划 · {body['date'].isoformat()}"
    if body.get("worker"):
        title += f" · {body['worker']}"
    fig.text(0.06, 0.965, title, family=font, fontsize=14, weight="bold")
    fig.text(
        0.06,
        0.945,
        f"{len(body['stops'])} 栋楼 · {body['households']} 户 · 步行 {body['length_m'] / 1000:.2f}"
        f" km（最近邻 {body['nearest_neighbour_m'] / 1000:.2f} km）· 顺序：{body['method']}",
        family=font,
        fontsize=8,
        color="#374151",
    )
    ax = fig.add_axes((0.06, 0.5, 0.88, 0.43))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    points = [(s["lon"], s["lat"]) for s in body["stops"]]
    if plan.start is not None:
        points.append(plan.start)
    if points:
        ll = np.array(points, float)
        if graph is not None:
            to_local = graph.to_local
        else:  # no walking network: the stops' own local metres, no roads drawn
            tr = Transformer.from_crs(4326, local_crs(*ll.mean(axis=0)), always_xy=True)

            def to_local(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
                return np.column_stack(tr.transform(lon, lat))

        xy = to_local(ll[:, 0], ll[:, 1])
        minx, miny = xy.min(axis=0) - 150
        maxx, maxy = xy.max(axis=0) + 150
        # the map's box at the axes' aspect (0.88 × 0.43 of A4)
        aspect = (0.88 * PAGE_IN[0]) / (0.43 * PAGE_IN[1])
        cx, cy, w, h = (minx + maxx) / 2, (miny + maxy) / 2, maxx - minx, maxy - miny
        w, h = max(w, h * aspect), max(h, w / aspect)
        box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if graph is not None:
            near = shapely.intersects(graph.edge_xy, box)
            roads = _path(graph.edge_xy[near], rings=False)
            ax.add_artist(PathPatch(roads, fill=False, color="#d1d5db", lw=0.5))
        if plan.line:
            line = np.array(plan.line, float)
            route = to_local(line[:, 0], line[:, 1])
            ax.plot(route[:, 0], route[:, 1], color=ROUTE, lw=1.6, alpha=0.85)
        stops = xy[: len(body["stops"])]
        ax.scatter(stops[:, 0], stops[:, 1], s=60, color=STOP, zorder=3)
        for (x, y), stop in zip(stops, body["stops"], strict=True):
            ax.text(x, y, str(stop["seq"]), color="white", fontsize=5.5, ha="center",
                    va="center", zorder=4, family=font)  # fmt: skip
        if plan.start is not None:
            ax.scatter([xy[-1, 0]], [xy[-1, 1]], marker="*", s=90, color=ROUTE, zorder=4)
        ax.set_xlim(cx - w / 2, cx + w / 2)
        ax.set_ylim(cy - h / 2, cy + h / 2)
        ax.add_artist(ScaleBar(1.0, "m", location="lower right", font_properties={"size": 6}))
        ax.text(0.02, 0.96, "N ↑", transform=ax.transAxes, fontsize=8, family=font, va="top")
    else:
        ax.text(0.5, 0.5, "今日无到期或逾期住户", transform=ax.transAxes, ha="center",
                family=font, fontsize=12)  # fmt: skip
    y = 0.48
    for line in list_lines(body, tag_names):
        fig.text(0.06, y, line, family=font, fontsize=7)
        y -= 0.0098
    fig.text(
        0.06,
        0.02,
        "住户信息按权限脱敏；路线为沿本系统步行路网的距离。",
        family=font,
        fontsize=6,
        color="#6b7280",
    )
    out = io.BytesIO()
    fig.savefig(out, format="pdf")
    return out.getvalue()
