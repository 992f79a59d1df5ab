"""The lead's household panel under the grid detail: the grid's share of households
visited within their cadence, its overdue households (masked; the most days overdue
first), a form recording a visit (to a household, a building or a ten-household unit:
kind, outcome, note, an optional GPS fix, and optionally a case it opens) and the day's
walking route (stops in order, a printable PDF). Ids start with ``lead-visit`` /
``lead-household`` / ``lead-route``."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from gridmap.households.visits import OUTCOMES
from gridmap.i18n import t
from gridmap.web.services.lead.households import (
    MAX_CASE_DESCRIPTION,
    MAX_LISTED,
    MAX_NOTE,
    GridHouseholds,
    Targets,
)
from gridmap.web.shell import dropdown_labels


def household_section(lang: str) -> html.Section:
    """The empty panel and form (the callbacks fill them for the grid shown)."""
    return html.Section(
        id="lead-households",
        className="lead-households",
        children=[
            html.H3(t("lead.households_title", lang), className="lead-households-title"),
            html.P(id="lead-household-summary", className="lead-household-summary"),
            html.Ul(id="lead-household-list", className="lead-household-list"),
            html.Div(
                className="lead-visit-form",
                children=[
                    *_target("household", lang),
                    *_target("building", lang),
                    *_target("unit", lang),
                    html.Label(t("lead.visit_kind", lang), htmlFor="lead-visit-kind"),
                    dcc.Dropdown(
                        id="lead-visit-kind",
                        options=[],
                        clearable=False,
                        labels=dropdown_labels(lang),
                    ),
                    dcc.RadioItems(
                        id="lead-visit-outcome",
                        options=[
                            {"label": t(f"visit.outcome.{o}", lang), "value": o} for o in OUTCOMES
                        ],
                        value="met",
                        inline=True,
                        className="lead-visit-outcome",
                    ),
                    dcc.Textarea(
                        id="lead-visit-note",
                        placeholder=t("lead.visit_note", lang),
                        maxLength=MAX_NOTE,
                        className="lead-visit-note",
                    ),
                    html.Fieldset(
                        className="lead-visit-fix",
                        children=[
                            html.Legend(t("lead.visit_fix", lang)),
                            _coordinate("lon", lang),
                            _coordinate("lat", lang),
                        ],
                    ),
                    dcc.Checklist(
                        id="lead-visit-open-case",
                        options=[{"label": t("lead.visit_open_case", lang), "value": "open"}],
                        value=[],
                        className="lead-visit-open-case",
                    ),
                    html.Label(t("lead.case_category", lang), htmlFor="lead-visit-case-category"),
                    dcc.Dropdown(
                        id="lead-visit-case-category",
                        options=[],
                        clearable=True,
                        placeholder=t("lead.case_category_pick", lang),
                        labels=dropdown_labels(lang),
                    ),
                    dcc.Textarea(
                        id="lead-visit-case-description",
                        placeholder=t("lead.case_description", lang),
                        maxLength=MAX_CASE_DESCRIPTION,
                        className="lead-visit-note",
                    ),
                    html.Button(t("lead.visit_submit", lang), id="lead-visit-submit", n_clicks=0),
                    html.Div(id="lead-visit-message", className="lead-visit-message"),
                ],
            ),
            html.Div(
                className="lead-route-box",
                children=[
                    html.Button(t("lead.route_show", lang), id="lead-route-show", n_clicks=0),
                    " ",
                    html.A(
                        t("lead.route_pdf", lang),
                        id="lead-route-pdf",
                        href=None,
                        target="_blank",
                        className="lead-route-pdf",
                    ),
                    html.P(id="lead-route-summary", className="lead-route-summary"),
                    html.Ol(id="lead-route-stops", className="lead-route-stops"),
                ],
            ),
        ],
    )


def _target(kind: str, lang: str) -> list:
    """The label and dropdown choosing what a visit is to: ``household``, ``building`` or
    ``unit`` (``lead-visit-<kind>``; the callbacks fill its options)."""
    name = f"lead-visit-{kind}"
    return [
        html.Label(t(f"lead.visit_{kind}", lang), htmlFor=name),
        dcc.Dropdown(
            id=name,
            options=[],
            clearable=True,
            placeholder=t(f"lead.visit_{kind}_pick", lang),
            labels=dropdown_labels(lang),
        ),
    ]


def _coordinate(name: str, lang: str) -> html.Div:
    """A number input of the visit's fix (``lon`` or ``lat``, degrees), under its label."""
    control = dcc.Input(
        id=f"lead-visit-{name}",
        type="number",
        step="any",
        debounce=True,
        placeholder=t(f"lead.visit_{name}_hint", lang),
        className="lead-number",
    )
    return html.Div(
        className="filter-row",
        children=[html.Label(t(f"lead.visit_{name}", lang), htmlFor=control.id), control],
    )


def summary(found: GridHouseholds | None, lang: str) -> str:
    """The grid's visit figures in one line (or how to get them)."""
    if found is None:
        return t("lead.households_pick", lang)
    if found.households == 0:
        return t("lead.households_untracked", lang)
    pct = "—" if found.share is None else f"{100 * found.share:.1f}%"
    return t(
        "lead.households_share",
        lang,
        visited=f"{found.visited:,}",
        households=f"{found.households:,}",
        pct=pct,
        overdue=f"{found.overdue:,}",
        vulnerable=f"{found.vulnerable_overdue:,}",
    )


def _door(row: dict[str, Any]) -> str:
    parts = [row.get("address") or ""]
    door = "-".join(str(row[k]) for k in ("unit", "room") if row.get(k) not in (None, ""))
    return " ".join(p for p in (*parts, door) if p)


def label(row: dict[str, Any], lang: str) -> str:
    """One overdue household: code, door, head (masked), days overdue."""
    parts = [row["code"], _door(row), row.get("head_name") or ""]
    parts.append(t("lead.days_overdue", lang, days=row["days_overdue"]))
    return " · ".join(p for p in parts if p)


def household_items(found: GridHouseholds | None, lang: str) -> list:
    """The list's items: each overdue household, vulnerable ones marked."""
    if found is None:
        return []
    if not found.listed:
        return [html.Li(t("lead.households_none", lang), className="lead-empty")]
    items = [
        html.Li(
            [
                html.Span(t("lead.vulnerable", lang), className="lead-vulnerable")
                if row.get("vulnerable")
                else None,
                label(row, lang),
            ],
            className="lead-household",
            **{"data-household": str(row["household_id"])},
        )
        for row in found.listed
    ]
    if found.overdue > len(found.listed):
        items.append(
            html.Li(t("lead.households_more", lang, count=MAX_LISTED), className="lead-empty")
        )
    return items


def household_options(found: GridHouseholds | None, lang: str) -> list[dict[str, Any]]:
    """The form's household choices: the listed overdue households."""
    if found is None:
        return []
    return [{"label": label(r, lang), "value": int(r["household_id"])} for r in found.listed]


def kind_options(kinds: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The form's visit kinds, named in ``lang``."""
    name = "name_zh" if lang == "zh-CN" else "name_en"
    return [{"label": k[name], "value": k["slug"]} for k in kinds]


def building_options(targets: Targets, lang: str) -> list[dict[str, Any]]:
    """The form's buildings: address (code) · households."""
    return [
        {
            "label": f"{b['address'] or b['code']} · "
            + t("lead.households_count", lang, count=b["households"]),
            "value": int(b["id"]),
        }
        for b in targets.buildings
    ]


def unit_options(targets: Targets, lang: str) -> list[dict[str, Any]]:
    """The form's ten-household units: code name · households."""
    return [
        {
            "label": f"{u['code']} {u['name']} · "
            + t("lead.households_count", lang, count=u["households"]),
            "value": int(u["id"]),
        }
        for u in targets.units
    ]


def category_options(categories: list[dict[str, str]], lang: str) -> list[dict[str, Any]]:
    """The case categories a visit may open a case in, named in ``lang``."""
    name = "zh" if lang == "zh-CN" else "en"
    return [{"label": c[name], "value": c["slug"]} for c in categories]


def route_summary(plan: Any, lang: str) -> str:
    """The day route in one line (or that nothing is due, or how to get one)."""
    if plan is None:
        return t("lead.households_pick", lang)
    if not plan.stops:
        return t("lead.route_empty", lang)
    text = t(
        "lead.route_summary",
        lang,
        stops=len(plan.stops),
        households=plan.households,
        length=f"{plan.length_m:,.0f}",
    )
    if plan.left_out:
        text += " " + t("lead.route_left_out", lang, count=plan.left_out)
    return text


def _why(household: dict[str, Any], lang: str) -> str:
    """Why a household is on the route: overdue by N days, or due today."""
    code = household.get("code") or ""
    days = int(household.get("days_overdue") or 0)
    why = t("lead.days_overdue", lang, days=days) if days > 0 else t("lead.route_due_today", lang)
    mark = t("lead.vulnerable", lang) + " " if household.get("vulnerable") else ""
    return f"{mark}{code} {why}"


def route_items(plan: Any, lang: str) -> list:
    """The route's stops in walking order (the list's numbers are the map's): address,
    walk so far, and each household with why it is due."""
    if plan is None or not plan.stops:
        return []
    sep = "；" if lang == "zh-CN" else "; "
    return [
        html.Li(
            [
                html.Strong(stop["address"], className="lead-route-address"),
                " · ",
                html.Span(
                    t("lead.route_walk", lang, metres=f"{stop['walk_m']:,.0f}"),
                    className="lead-route-walk",
                ),
                html.Br(),
                html.Span(
                    sep.join(_why(h, lang) for h in stop["households"]),
                    className="lead-route-why",
                ),
            ],
            value=stop["seq"],
            className="lead-route-stop",
            **{"data-building": str(stop["building_id"])},
        )
        for stop in plan.stops
    ]
