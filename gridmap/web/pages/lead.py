"""The grid-lead page (``/lead``): the signed-in user's grids, selected and framed; filters
by district → street → community → grid, by attributes and by a box or lasso drawn on the
map; a case table in step with the map; and the detail panel of one grid.

Callbacks stay thin over :mod:`gridmap.web.services.lead` (every read scoped to the signed-in user):
``choose`` turns the filter controls into the chosen grids (the map and the table's scope),
``show_page`` fills the table one server-side page at a time (and jumps to a case clicked
on the map), ``pick_case`` rings the case picked in the table and pans to it, ``show_grid``
fills the detail panel and outlines its grid; ``show_households`` lists the grid's households
overdue for a visit (masked, audited) and draws its buildings' overdue-visits layer;
``save_visit`` records a visit from the form — to a household, a building or a ten-household
unit, with an optional GPS fix and optionally opening a case — through the API's own service
and validation (idempotent: the form's key changes only after a visit is stored, so a double
click records one), and says when the fix was far and which case it opened; ``show_route``
draws the grid's day route (the day-plan service of GET /api/v1/day-plan) as numbered stops
on the map, lists them and links its printable PDF. Component ids start with ``lead-``.

Why a page of its own rather than a mode of the city map (``/``): the lead works on a few
grids with a table and a detail panel, not on city-wide layer toggles, and a separate page
keeps both layouts simple. Sign-in lands a grid-scoped user here when no other page was
asked for (:func:`gridmap.access.pages.home_of`), so a lead lands on their own grids
without choosing a page; ``/`` and the header's city-map link still open the city map.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component
from flask import current_app, request

from gridmap.access import Role, User, current_user
from gridmap.access.pages import page
from gridmap.db.app import URL_KEY, app_engine, read_engine
from gridmap.errors import GridmapError, InvalidInput
from gridmap.households.errors import HouseholdNotFound, VisitConflict
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.components import lead_map
from gridmap.web.components.case_table import case_table, pager_text, table_rows
from gridmap.web.components.grid_panel import grid_panel, selection_panel
from gridmap.web.components.household_panel import (
    building_options,
    category_options,
    household_items,
    household_options,
    household_section,
    kind_options,
    route_items,
    route_summary,
    summary,
    unit_options,
)
from gridmap.web.services.lead import households, route, selection
from gridmap.web.services.lead.cases import CaseScope, case_page, case_points, case_position
from gridmap.web.services.lead.figures import combined, grid_figures
from gridmap.web.services.lead.selection import GridFilter, area_from_selection
from gridmap.web.services.lead.shapes import grid_extent, grid_shapes
from gridmap.web.services.map import FALLBACK_CENTER, FALLBACK_ZOOM, MapView
from gridmap.web.shell import (
    dropdown_labels,
    graph_config,
    page_language,
    page_layout,
    triggered_id,
)

PATH = "/lead"
#: Who may open the grids page (a grid lead or worker sees only their own grids).
ROLES = frozenset({Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER})
LEVELS = selection.LEVELS
ATTRIBUTES = ("min_open_cases", "min_population", "min_vulnerable", "max_patrol_pct")
#: Share of the chosen grids' width and height added on each side when framing them (the
#: map is about 1000 x 440 px on a 1600 x 1000 screen, the table under it taking 42vh;
#: MapView.fit assumes 1000 x 760).
FRAME_PAD = (0.08, 0.5)
#: Most grids the grid dropdown lists (more: choose a street or community first).
MAX_GRID_OPTIONS = 500
#: Zoom the map jumps to when a case is picked in the table.
CASE_ZOOM = 16.0
#: The visit kind the form starts with (the care visits the panel is about).
DEFAULT_KIND = "care"
GRAPH_CONFIG = graph_config(displayModeBar=True, modeBarButtonsToRemove=["toImage"])


def _user() -> User | None:
    return current_user()


def _now() -> datetime:
    return datetime.now(UTC)


def _style() -> dict[str, Any]:
    return basemap_style(request.host_url, get_settings().basemap_tiles)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) < 1e12 else None


def _row(label: str, control: Component) -> html.Div:
    """A filter row: ``control`` under its ``label``."""
    return html.Div(
        className="filter-row",
        children=[html.Label(label, htmlFor=control.id), control],
    )


def _dropdown(level: str, lang: str) -> html.Div:
    any_ = t("lead.any", lang)
    control = dcc.Dropdown(
        id=f"lead-{level}",
        options=[],
        placeholder=any_,
        clearable=True,
        labels=dropdown_labels(lang),
    )
    return _row(t(f"field.{level}", lang), control)


def _threshold(name: str, lang: str) -> html.Div:
    control = dcc.Input(
        id=f"lead-{name}",
        type="number",
        min=0,
        debounce=True,
        placeholder=t("lead.any", lang),
        className="lead-number",
    )
    return _row(t(f"lead.{name}", lang), control)


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """The page for ``?lang=`` (zh-CN by default); the callbacks fill it for the user."""
    lang = page_language(lang)
    empty = lead_map.lead_figure(
        [],
        MapView.around(FALLBACK_CENTER, FALLBACK_ZOOM),
        _style(),
        "start",
    )
    return page_layout(
        lang,
        PATH,
        page_class="lead-page",
        panel_class="lead-panel",
        panel=[
            html.H2(t("lead.filters", lang), className="panel-title"),
            *[_dropdown(level, lang) for level in LEVELS[:3]],
            _dropdown("compound", lang),
            _dropdown(LEVELS[3], lang),
            html.H3(t("lead.attributes", lang), className="panel-subtitle"),
            *[_threshold(name, lang) for name in ATTRIBUTES],
            dcc.RadioItems(
                id="lead-case-status",
                options=[
                    {"label": t("lead.cases_all", lang), "value": "all"},
                    {"label": t("lead.only_open", lang), "value": "open"},
                ],
                value="all",
                className="lead-status",
                inline=True,
            ),
            html.P(t("lead.draw_hint", lang), className="lead-hint"),
            html.Button(t("lead.clear_area", lang), id="lead-clear-area", n_clicks=0),
            html.Div(id="lead-message", className="lead-message"),
        ],
        area_class="lead-map-area",
        area=[
            dcc.Graph(id="lead-graph", figure=empty, config=GRAPH_CONFIG, className="lead-graph"),
            lead_map.lead_legend(lang),
        ],
        after=[
            html.Aside(
                [html.Div(id="lead-detail"), household_section(lang)], className="lead-detail"
            ),
            case_table(lang),
        ],
        stores=[
            dcc.Store(id="lead-lang", data=lang),
            dcc.Store(id="lead-filter", data=GridFilter().to_store()),
            dcc.Store(id="lead-scope"),
            dcc.Store(id="lead-grid"),
            dcc.Store(id="lead-offset", data=0),
            dcc.Store(id="lead-visit-key", data=_new_key()),
            dcc.Store(id="lead-visit-done", data=0),
        ],
    )


# -- choose: filters → grids, map, scope -----------------------------------------------------


def _filter_from(values: dict[str, Any], stored: GridFilter, trigger: str | None) -> GridFilter:
    """The filter the controls now say; the drawn area changes only by drawing or clearing."""
    area = stored.area
    if trigger == "lead-graph":
        chosen = values.get("selected")
        area = None if chosen is None else (area_from_selection(chosen) or stored.area)
    elif trigger == "lead-clear-area":
        area = None
    numbers = {name: _number(values.get(name)) for name in ATTRIBUTES}
    counts = {
        name: None if numbers[name] is None else int(numbers[name]) for name in ATTRIBUTES[:3]
    }
    return GridFilter(
        **{level: values.get(level) for level in LEVELS},
        compound=values.get("compound"),
        **counts,
        max_patrol_pct=numbers["max_patrol_pct"],
        area=area,
    )


def choose(
    district: int | None,
    street: int | None,
    community: int | None,
    grid: int | None,
    min_open: Any,
    min_population: Any,
    min_vulnerable: Any,
    max_patrol: Any,
    case_status: str,
    selected: dict[str, Any] | None,
    _clear: int,
    compound: int | None,
    stored_filter: dict[str, Any] | None,
    lang: str,
) -> tuple[Any, ...]:
    """The chosen grids from the filter controls: dropdown options and values (each level
    offers only what lies under the levels above), the map (re-framed unless the change was
    a drawn area), the case table's scope, the grid for the detail panel, a message, and
    the compound dropdown's options and value (the compounds of the chosen community)."""
    trigger = triggered_id()
    values = {
        "district": district,
        "street": street,
        "community": community,
        "grid": grid,
        "min_open_cases": min_open,
        "min_population": min_population,
        "min_vulnerable": min_vulnerable,
        "max_patrol_pct": max_patrol,
        "selected": selected,
        "compound": compound,
    }
    user = _user()
    engine = read_engine()
    flt = _filter_from(values, GridFilter.from_store(stored_filter), trigger)
    try:
        rows = selection.hierarchy(engine, user)
        flt = selection.valid_choice(rows, flt)
        opts = selection.options(rows, flt)
        flt, opts["compound"], under = _compound_choice(engine, user, rows, flt, opts)
        picked = selection.select_grids(engine, user, under, flt, at=_now())
        chosen = picked.grid_ids
        everywhere = user is not None and not user.grid_scoped and len(chosen) == len(rows)
        scope = CaseScope(
            None if everywhere else tuple(chosen), flt.area_wkt(), case_status == "open"
        )
        figure = _figure(engine, user, chosen, scope, lang, reframe=trigger not in _AREA_TRIGGERS)
    except GridmapError:
        message = t("lead.error", lang)
        return (*([no_update] * 8), no_update, no_update, None, None, message, [], None)
    message = ""
    if user is None:
        message = t("lead.sign_in", lang)
    elif not rows:
        message = t("lead.no_grids", lang)
    elif not chosen:
        message = t("lead.no_match", lang)
    else:
        message = t("lead.chosen", lang, count=f"{len(chosen):,}")
    if picked.too_broad:
        message += " " + t("lead.too_broad", lang, count=f"{selection.MAX_ATTRIBUTE_GRIDS:,}")
    if len(chosen) > get_settings().lead_map_max_grids:
        message += " " + t("lead.too_many", lang, count=get_settings().lead_map_max_grids)
    detail = _detail(flt, chosen, trigger)
    if len(opts["grid"]) > MAX_GRID_OPTIONS:
        opts["grid"] = []  # choose a community (or street) first
    return (
        *[opts[level] for level in LEVELS],
        *[getattr(flt, level) for level in LEVELS],
        figure,
        flt.to_store(),
        _scope_store(scope),
        detail,
        message,
        opts["compound"],
        flt.compound,
    )


def _compound_choice(
    engine: Any, user: User | None, rows: list, flt: GridFilter, opts: dict[str, list]
) -> tuple[GridFilter, list[dict[str, Any]], list]:
    """The compound options (of the chosen community), the filter with a compound not
    among them cleared (and a grid outside the chosen compound), and the rows the choice
    keeps: with a compound, the grids holding its buildings (the grid options too)."""
    choices = selection.compound_options(engine, user, flt.community)
    if flt.compound is None or flt.compound not in {c["value"] for c in choices}:
        return replace(flt, compound=None), choices, rows
    holding = selection.compound_grids(engine, user, flt.compound)
    opts["grid"] = [o for o in opts["grid"] if o["value"] in holding]
    if flt.grid is not None and flt.grid not in holding:
        flt = replace(flt, grid=None)
    return flt, choices, [r for r in rows if r.grid_id in holding]


_AREA_TRIGGERS = {"lead-graph", "lead-clear-area", "lead-case-status"}


def _detail(flt: GridFilter, chosen: list[int], trigger: str | None) -> int | dict | None:
    """What the detail panel shows (the ``lead-grid`` store): the grid picked in the
    dropdown; after a box or lasso over several grids, a summary of them (``{"grids":
    ids}``), not one of them at random; else the only (or first) chosen grid."""
    if flt.grid is not None and flt.grid in chosen:
        return flt.grid
    if not chosen:
        return None
    if trigger == "lead-graph" and flt.area and len(chosen) > 1:
        return {"grids": chosen}
    return chosen[0]


def _scope_store(scope: CaseScope) -> dict[str, Any]:
    ids = None if scope.grid_ids is None else list(scope.grid_ids)
    return {"grid_ids": ids, "area": scope.area, "open_only": scope.open_only}


def _scope(data: dict[str, Any] | None) -> CaseScope:
    if not data:
        return CaseScope(())
    ids = data.get("grid_ids")
    return CaseScope(
        None if ids is None else tuple(ids), data.get("area"), bool(data.get("open_only"))
    )


def _figure(
    engine: Any,
    user: User | None,
    chosen: list[int],
    scope: CaseScope,
    lang: str,
    *,
    reframe: bool,
) -> Any:
    """The whole map for the chosen grids (``reframe``: zoomed to them), or — after drawing
    an area — a Patch of the grid and case traces only, keeping the user's view."""
    settings = get_settings()
    drawn = chosen[: settings.lead_map_max_grids]
    extent = grid_extent(engine, user, drawn) if drawn else None
    view = _framed(extent)
    tolerance = 0.5 * 360.0 / (512.0 * 2.0**view.zoom)
    shapes = grid_shapes(engine, user, drawn, tolerance)
    points = case_points(engine, user, scope, limit=settings.lead_map_max_cases, at=_now())
    traces = [
        lead_map.grid_trace(shapes, lang),
        lead_map.case_trace(points, lang),
        lead_map.outline_trace(None, lang),
        lead_map.ring_trace(None, None, lang),
        households.overdue_trace(engine, user, None, lang),
        lead_map.route_line_trace([], lang),
        lead_map.route_stops_trace([], lang),
    ]
    if not reframe:
        patch = dash.Patch()
        for index in (lead_map.GRIDS, lead_map.CASES, lead_map.CASE_RING):
            patch["data"][index] = traces[index]
        return patch
    revision = f"lead-{hash(tuple(drawn)) & 0xFFFFFFFF:x}"
    return lead_map.lead_figure(traces, view, _style(), revision)


def _framed(extent: tuple[float, float, float, float] | None) -> MapView:
    """The view showing ``extent`` whole in the page's map (wider than tall, beside the
    panels and above the table): the extent padded by :data:`FRAME_PAD` each way."""
    if extent is None:
        return MapView.around(FALLBACK_CENTER, FALLBACK_ZOOM)
    minx, miny, maxx, maxy = extent
    dx, dy = (maxx - minx) * FRAME_PAD[0], (maxy - miny) * FRAME_PAD[1]
    return MapView.fit((minx - dx, miny - dy, maxx + dx, maxy + dy))


# -- the table -------------------------------------------------------------------------------


def show_page(
    scope_data: dict[str, Any] | None,
    _prev: int,
    _next: int,
    click: dict[str, Any] | None,
    offset: int | None,
    lang: str,
) -> tuple[Any, ...]:
    """One page of the scope's cases. A new scope starts at the first page; the arrows
    turn pages; a case clicked (or box-selected alone) on the map opens its page, selected.
    A grid clicked on the map goes to the detail panel."""
    trigger = triggered_id()
    size = get_settings().lead_page_size
    user, engine = _user(), read_engine()
    scope = _scope(scope_data)
    offset = int(offset or 0)
    selected: Any = no_update
    grid: Any = no_update
    try:
        if trigger == "lead-prev":
            offset = max(0, offset - size)
        elif trigger == "lead-next":
            offset += size
        elif trigger == "lead-graph":
            case_id, grid_id = _clicked(click)
            if grid_id is not None:
                return no_update, no_update, no_update, no_update, grid_id
            offset = page_of_case(engine, user, scope, case_id, size)
            if offset is None:
                return (no_update,) * 5
            selected = {"ids": [str(case_id)]}
        else:
            offset = 0
            selected = []
        page = case_page(engine, user, scope, offset=offset, limit=size, at=_now())
    except GridmapError:
        return [], t("lead.error", lang), offset, no_update, no_update
    return table_rows(page, lang), pager_text(page, size, lang), page.offset, selected, grid


def page_of_case(
    engine: Any, user: User | None, scope: CaseScope, case_id: int | None, size: int
) -> int | None:
    """The first row of the table page listing case ``case_id`` (None: not listed)."""
    if case_id is None:
        return None
    position = case_position(engine, user, scope, case_id)
    return None if position is None else position // size * size


def _clicked(click: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(case id, grid id) of a map click (either may be None)."""
    for point in (click or {}).get("points", []):
        custom = point.get("customdata")
        if point.get("curveNumber") == lead_map.CASES and custom:
            return int(custom[0]), None
        if point.get("curveNumber") == lead_map.GRIDS and point.get("location") is not None:
            return None, int(point["location"])
    return None, None


def pick_case(selected_rows: list[dict[str, Any]] | dict[str, Any] | None, lang: str) -> Any:
    """Ring the case selected in the table on the map and pan to it. A selection the server
    made (``{"ids": [...]}``, after a click on the map) comes back as such until the grid
    reports rows: nothing to move then, the case is under the pointer."""
    if not selected_rows or not isinstance(selected_rows, list):
        return no_update
    row = selected_rows[0]
    if row.get("lon") is None or row.get("lat") is None:
        return no_update
    return lead_map.ring_patch(float(row["lon"]), float(row["lat"]), lang, CASE_ZOOM)


# -- the detail panel ------------------------------------------------------------------------


def show_grid(grid_id: int | dict[str, Any] | None, lang: str) -> tuple[Any, Any]:
    """The detail panel of a grid and its outline on the map (``{"grids": ids}``: the
    summary of a selection of several grids, no outline)."""
    user, engine = _user(), read_engine()
    if isinstance(grid_id, dict):
        return show_selection(grid_id.get("grids"), lang), lead_map.outline_patch(None, lang)
    if grid_id is None:
        return grid_panel(None, None, lang), lead_map.outline_patch(None, lang)
    try:
        found = selection.hierarchy(engine, user, [int(grid_id)])
        row = found[0] if found else None
        if row is None:
            return grid_panel(None, None, lang), lead_map.outline_patch(None, lang)
        figures = grid_figures(engine, user, [row.grid_id], at=_now())
        shapes = grid_shapes(engine, user, [row.grid_id])
    except GridmapError:
        return [html.P(t("lead.error", lang), className="lead-empty")], no_update
    shape = shapes.geometry.iloc[0] if len(shapes) else None
    return grid_panel(row, figures.get(row.grid_id), lang), lead_map.outline_patch(shape, lang)


def show_selection(grid_ids: Any, lang: str) -> list:
    """The summary of several grids selected on the map (only those the user may see;
    figures added up for at most :data:`selection.MAX_ATTRIBUTE_GRIDS` grids)."""
    if not isinstance(grid_ids, list):
        return grid_panel(None, None, lang)
    ids = [i for i in grid_ids if isinstance(i, int) and not isinstance(i, bool)]
    user, engine = _user(), read_engine()
    try:
        rows = selection.hierarchy(engine, user, ids) if ids else []
        if not rows:
            return grid_panel(None, None, lang)
        figures = None
        if len(rows) <= selection.MAX_ATTRIBUTE_GRIDS:
            figures = combined(
                grid_figures(engine, user, [r.grid_id for r in rows], at=_now()).values()
            )
    except GridmapError:
        return [html.P(t("lead.error", lang), className="lead-empty")]
    return selection_panel(rows, figures, lang)


# -- households and visits -------------------------------------------------------------------


def _new_key() -> str:
    """A new idempotency key for the visit form (one per visit recorded)."""
    return f"lead-form:{uuid.uuid4()}"


def _one_grid(grid_id: Any) -> int | None:
    if isinstance(grid_id, int) and not isinstance(grid_id, bool):
        return grid_id
    return None


def show_households(grid_id: Any, _done: Any, kind: Any, lang: str) -> tuple[Any, ...]:
    """The household panel of the grid shown (one grid; several: how to pick one): its
    visit figures, overdue households and the form's choices (households, buildings,
    ten-household units, kinds, case categories), and the grid's buildings on the map's
    overdue-visits trace; again after each visit recorded. The kind chosen stays (a care
    visit until one is chosen)."""
    user, engine = _user(), read_engine()
    grid = _one_grid(grid_id)
    try:
        found = households.grid_households(engine, user, grid) if grid is not None else None
        targets = households.grid_targets(engine, user, grid) if found is not None else None
        kinds = kind_options(households.visit_kinds(engine), lang)
        trace = households.overdue_trace(engine, user, grid if found is not None else None, lang)
    except GridmapError:
        return t("lead.error", lang), [], [], no_update, no_update, no_update, [], [], no_update
    slugs = [k["value"] for k in kinds]
    chosen = kind if kind in slugs else DEFAULT_KIND if DEFAULT_KIND in slugs else None
    empty = households.Targets([], [])
    return (
        summary(found, lang),
        household_items(found, lang),
        household_options(found, lang),
        kinds,
        chosen if chosen is not None else (slugs[0] if slugs else None),
        lead_map.overdue_patch(trace),
        building_options(targets or empty, lang),
        unit_options(targets or empty, lang),
        category_options(households.case_categories(), lang),
    )


def save_visit(
    _clicks: int,
    household_id: Any,
    building_id: Any,
    unit_id: Any,
    kind: Any,
    outcome: Any,
    note: Any,
    lon: Any,
    lat: Any,
    open_case: Any,
    case_category: Any,
    case_description: Any,
    key: Any,
    done: Any,
    lang: str,
) -> tuple[Any, ...]:
    """Record the form's visit; after it is stored: a new key for the next one, the
    target, note, fix and case cleared and the panel redrawn (``lead-visit-done``). The
    message says the visit's number, a far fix (its distance: flagged) and the case opened."""
    user, engine = _user(), app_engine()
    form = households.VisitForm(
        kind=kind,
        outcome=outcome,
        household_id=household_id,
        building_id=building_id,
        unit_id=unit_id,
        note=note,
        lon=lon,
        lat=lat,
        open_case=isinstance(open_case, list) and "open" in open_case,
        case_category=case_category,
        case_description=case_description,
    )
    unchanged = (no_update,) * 10
    try:
        done_visit = households.record(
            engine, user, form, key=key if isinstance(key, str) and key else None
        )
    except InvalidInput as exc:
        return (invalid_message(exc, lang), *unchanged)
    except households.TargetNotFound as exc:
        return (t(_NOT_FOUND[exc.field], lang), *unchanged)
    except HouseholdNotFound:
        return (t("lead.visit_not_found", lang), *unchanged)
    except VisitConflict:  # this form's key stored another visit (its answer was lost)
        return (t("lead.visit_conflict", lang), _new_key(), *unchanged[1:])
    except GridmapError:
        return (t("lead.visit_error", lang), *unchanged)
    cleared = (None, "", None, None, None, None, [], "")
    return (visit_message(done_visit, lang), _new_key(), int(done or 0) + 1, *cleared)


_NOT_FOUND = {
    "household_id": "lead.visit_not_found",
    "building_id": "lead.visit_not_found_building",
    "unit_id": "lead.visit_not_found_unit",
}
_FIELD_LABELS = {
    "target": "lead.visit_target",
    "kind": "lead.visit_kind",
    "outcome": "lead.visit_outcome",
    "note": "lead.visit_note",
    "lon": "lead.visit_lon",
    "lat": "lead.visit_lat",
    "case_category": "lead.case_category",
    "case_description": "lead.case_description",
}


def invalid_message(exc: InvalidInput, lang: str) -> str:
    """What the form lacks ("请补全：…") and what it holds wrong, each with the rule
    ("请更正：…"), in ``lang``."""
    sep = "、" if lang == "zh-CN" else ", "
    missing = [p.field for p in exc.problems if p.message == households.MISSING]
    wrong = [p.field for p in exc.problems if p.message != households.MISSING]
    parts = []
    if missing:
        names = sep.join(t(_FIELD_LABELS.get(f, "lead.visit_note"), lang) for f in missing)
        parts.append(t("lead.visit_invalid", lang, fields=names))
    if wrong:
        names = sep.join(
            t(f"lead.visit_bad.{f}" if f in _FIELD_LABELS else "lead.visit_bad.note", lang)
            for f in dict.fromkeys(wrong)
        )
        parts.append(t("lead.visit_bad", lang, fields=names))
    return " ".join(parts)


def visit_message(done: households.Recorded, lang: str) -> str:
    """The visit stored (or replayed), its far fix (distance, flagged) and its case."""
    metres = f"{done.distance_m:,.0f}" if done.distance_m is not None else ""
    if done.created and done.far_fix:
        message = t("lead.visit_recorded_far", lang, id=done.id, metres=metres)
    else:
        message = t("lead.visit_recorded" if done.created else "lead.visit_replayed", lang,
                    id=done.id)  # fmt: skip
        if done.far_fix:
            message += " " + t("lead.visit_far_flag", lang, metres=metres)
    if done.case_id is not None:
        code = done.case_code or str(done.case_id)
        message += " " + t("lead.visit_case", lang, code=code, id=done.case_id)
    return message


def show_route(_clicks: int, grid_id: Any, lang: str) -> tuple[Any, ...]:
    """The grid's day route: drawn on the map as a line and numbered stops, listed in
    walking order (address, households and why due), with the link to its printable PDF;
    a new grid shown clears the drawn route (and points the link at the new grid)."""
    grid = _one_grid(grid_id)
    if triggered_id() != "lead-route-show" or grid is None:
        cleared = lead_map.route_patch([], [], lang)
        text = "" if grid is not None else t("lead.households_pick", lang)
        return text, [], route.pdf_href(grid) if grid is not None else None, cleared
    return draw_route(grid, lang)


def draw_route(grid: int, lang: str) -> tuple[Any, ...]:
    """Grid ``grid``'s day route for the signed-in user: the summary line (or that nothing
    is due today), the stops listed, the PDF link and the map Patch drawing it."""
    href = route.pdf_href(grid)
    user, engine = _user(), app_engine()
    try:
        plan = route.day_route(engine, current_app.config[URL_KEY], user, grid)
    except GridmapError:
        return t("lead.error", lang), [], href, no_update
    if plan is None:
        return t("lead.households_pick", lang), [], None, lead_map.route_patch([], [], lang)
    patch = lead_map.route_patch(plan.stops, plan.line, lang)
    return route_summary(plan, lang), route_items(plan, lang), href, patch


def register(app: Dash) -> None:
    """Register the page and its callbacks on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.lead", order=1, name="lead",
              title=t("lead.title", "zh-CN"), layout=layout):  # fmt: skip
        _callbacks(app)


def _callbacks(app: Dash) -> None:
    app.callback(
        *[Output(f"lead-{level}", "options") for level in LEVELS],
        *[Output(f"lead-{level}", "value") for level in LEVELS],
        Output("lead-graph", "figure"),
        Output("lead-filter", "data"),
        Output("lead-scope", "data"),
        Output("lead-grid", "data"),
        Output("lead-message", "children"),
        Output("lead-compound", "options"),
        Output("lead-compound", "value"),
        *[Input(f"lead-{level}", "value") for level in LEVELS],
        *[Input(f"lead-{name}", "value") for name in ATTRIBUTES],
        Input("lead-case-status", "value"),
        Input("lead-graph", "selectedData"),
        Input("lead-clear-area", "n_clicks"),
        Input("lead-compound", "value"),
        State("lead-filter", "data"),
        State("lead-lang", "data"),
    )(choose)
    app.callback(
        Output("lead-table", "rowData"),
        Output("lead-pager-text", "children"),
        Output("lead-offset", "data"),
        Output("lead-table", "selectedRows"),
        Output("lead-grid", "data", allow_duplicate=True),
        Input("lead-scope", "data"),
        Input("lead-prev", "n_clicks"),
        Input("lead-next", "n_clicks"),
        Input("lead-graph", "clickData"),
        State("lead-offset", "data"),
        State("lead-lang", "data"),
        prevent_initial_call=True,
    )(show_page)
    app.callback(
        Output("lead-graph", "figure", allow_duplicate=True),
        Input("lead-table", "selectedRows"),
        State("lead-lang", "data"),
        prevent_initial_call=True,
    )(pick_case)
    app.callback(
        Output("lead-detail", "children"),
        Output("lead-graph", "figure", allow_duplicate=True),
        Input("lead-grid", "data"),
        State("lead-lang", "data"),
        prevent_initial_call="initial_duplicate",
    )(show_grid)
    app.callback(
        Output("lead-household-summary", "children"),
        Output("lead-household-list", "children"),
        Output("lead-visit-household", "options"),
        Output("lead-visit-kind", "options"),
        Output("lead-visit-kind", "value"),
        Output("lead-graph", "figure", allow_duplicate=True),
        Output("lead-visit-building", "options"),
        Output("lead-visit-unit", "options"),
        Output("lead-visit-case-category", "options"),
        Input("lead-grid", "data"),
        Input("lead-visit-done", "data"),
        State("lead-visit-kind", "value"),
        State("lead-lang", "data"),
        prevent_initial_call="initial_duplicate",
    )(show_households)
    app.callback(
        Output("lead-visit-message", "children"),
        Output("lead-visit-key", "data"),
        Output("lead-visit-done", "data"),
        *[Output(f"lead-visit-{name}", "value") for name in _CLEARED],
        Input("lead-visit-submit", "n_clicks"),
        State("lead-visit-household", "value"),
        State("lead-visit-building", "value"),
        State("lead-visit-unit", "value"),
        State("lead-visit-kind", "value"),
        State("lead-visit-outcome", "value"),
        State("lead-visit-note", "value"),
        State("lead-visit-lon", "value"),
        State("lead-visit-lat", "value"),
        State("lead-visit-open-case", "value"),
        State("lead-visit-case-category", "value"),
        State("lead-visit-case-description", "value"),
        State("lead-visit-key", "data"),
        State("lead-visit-done", "data"),
        State("lead-lang", "data"),
        prevent_initial_call=True,
        running=[(Output("lead-visit-submit", "disabled"), True, False)],
    )(save_visit)
    app.callback(
        Output("lead-route-summary", "children"),
        Output("lead-route-stops", "children"),
        Output("lead-route-pdf", "href"),
        Output("lead-graph", "figure", allow_duplicate=True),
        Input("lead-route-show", "n_clicks"),
        Input("lead-grid", "data"),
        State("lead-lang", "data"),
        prevent_initial_call=True,
        running=[(Output("lead-route-show", "disabled"), True, False)],
    )(show_route)


#: The form's fields cleared once a visit is stored (in save_visit's output order).
_CLEARED = (
    "household",
    "note",
    "building",
    "unit",
    "lon",
    "lat",
    "open-case",
    "case-description",
)


__all__ = ["PATH", "register"]
