"""KPI tiles of the cases matching a filter: new today, open, overdue, resolution rate and
mean time to close — read through the SQL function ``gridmap_case_tiles``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dash import html
from sqlalchemy import text

from gridmap.i18n import t
from layers import LayerContext
from layers.cases import filter_args

TILES_SQL = (
    "SELECT * FROM gridmap_case_tiles(:since, :until, :categories, :statuses, :sources, "
    ":at, :day_start)"
)


@dataclass(frozen=True)
class CaseTiles:
    """The figures the tiles show (``total``: cases in the window)."""

    new_today: int
    total: int
    open: int
    overdue: int
    resolved: int
    mean_close_hours: float | None

    @property
    def resolution_rate(self) -> float | None:
        """Resolved or closed share of the window's cases (None when there are none)."""
        return self.resolved / self.total if self.total else None

    def to_store(self) -> dict[str, Any]:
        return asdict(self)


def read_tiles(ctx: LayerContext, at: datetime, day_start: datetime) -> CaseTiles:
    """The tiles for the filters in ``ctx`` (its box is ignored: the whole city), judged at
    ``at``; "new today" counts from ``day_start``. Raises SQLAlchemyError."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            text(TILES_SQL), filter_args(ctx) | {"at": at, "day_start": day_start}
        ).one()
    mean = row.mean_close_hours
    return CaseTiles(
        new_today=int(row.new_today),
        total=int(row.total),
        open=int(row.open),
        overdue=int(row.overdue),
        resolved=int(row.resolved),
        mean_close_hours=float(mean) if mean is not None else None,
    )


def _tile(key: str, value: str, lang: str, tone: str = "", sub: str = "") -> html.Div:
    return html.Div(
        className=f"kpi-tile {tone}".strip(),
        id=f"kpi-{key}",
        children=[
            html.Div(t(f"kpi.{key}", lang), className="kpi-label"),
            html.Div(value, className="kpi-value"),
            html.Div(sub, className="kpi-sub") if sub else None,
        ],
    )


def kpi_tiles(tiles: CaseTiles | None, lang: str) -> list[html.Div]:
    """The five tiles (dashes while nothing has been read yet)."""
    none = t("kpi.none", lang)
    if tiles is None:
        keys = ("new_today", "open", "overdue", "resolution_rate", "mean_close")
        return [_tile(k, none, lang) for k in keys]
    rate = tiles.resolution_rate
    mean = tiles.mean_close_hours
    return [
        _tile("new_today", f"{tiles.new_today:,}", lang, "tone-accent"),
        _tile(
            "open", f"{tiles.open:,}", lang, sub=t("kpi.of_total", lang, count=f"{tiles.total:,}")
        ),
        _tile("overdue", f"{tiles.overdue:,}", lang, "tone-alert" if tiles.overdue else ""),
        _tile("resolution_rate", f"{rate:.1%}" if rate is not None else none, lang, "tone-good"),
        _tile(
            "mean_close",
            t("kpi.hours", lang, value=f"{mean:.1f}") if mean is not None else none,
            lang,
        ),
    ]
