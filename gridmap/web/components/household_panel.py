"""The lead's household panel under the grid detail: the grid's share of households
visited within their cadence, its overdue households (masked; the most days overdue
first) and a form recording a visit (household, kind, outcome, note). Ids start with
``lead-visit`` / ``lead-household``."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from gridmap.households.visits import OUTCOMES
from gridmap.i18n import t
from gridmap.web.services.lead.households import MAX_LISTED, MAX_NOTE, GridHouseholds
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
                    html.Label(t("lead.visit_household", lang), htmlFor="lead-visit-household"),
                    dcc.Dropdown(
                        id="lead-visit-household",
                        options=[],
                        clearable=True,
                        placeholder=t("lead.visit_household_pick", lang),
                        labels=dropdown_labels(lang),
                    ),
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
                    html.Button(t("lead.visit_submit", lang), id="lead-visit-submit", n_clicks=0),
                    html.Div(id="lead-visit-message", className="lead-visit-message"),
                ],
            ),
        ],
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
