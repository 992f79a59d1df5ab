"""The wall screen's KPI tiles: the four case tiles (new today, open, overdue, resolution
rate) and the heavier ones read on a slower interval — patrol coverage now, cameras online,
people inside the service circles and, where households are registered, the share of them
visited within their cadence (read by :mod:`gridmap.web.services.dashboard`)."""

from __future__ import annotations

from dash import html

from gridmap.i18n import t
from gridmap.web.services.dashboard import CaseTiles, WallExtras

#: The tiles, in screen order.
CASE_KEYS = ("new_today", "open", "overdue", "resolution_rate")
EXTRA_KEYS = ("patrol_now", "cameras_online", "circle_population")


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
        *visit_tiles(extras, lang),
    ]


def visit_tiles(extras: WallExtras, lang: str) -> list[html.Div]:
    """The households visited within their cadence and the vulnerable ones overdue (no
    tile without households)."""
    rate = extras.visit_rate
    if rate is None:
        return []
    vulnerable = extras.vulnerable_overdue or 0
    return [
        wall_tile(
            "visits",
            t("kpi.visits", lang),
            _pct(rate, lang),
            t("wall.visits_sub", lang, count=f"{vulnerable:,}"),
            "tone-alert" if vulnerable else "tone-good",
        )
    ]
