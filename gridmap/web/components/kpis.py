"""KPI tiles of the cases matching a filter: new today, open, overdue, resolution rate and
mean time to close (read by :func:`gridmap.web.services.dashboard.read_tiles`)."""

from __future__ import annotations

from dash import html

from gridmap.i18n import t
from gridmap.web.services.dashboard import CaseTiles


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
