"""Pieces shared by the planning page's side-bar cards (its own controls and the export
and import panels)."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html
from dash.development.base_component import Component

from gridmap.i18n import t


def plan_card(name: str, lang: str, children: Sequence[Component]) -> html.Div:
    """The ``plan-{name}`` card (class ``{name}-panel``), headed by ``{name}.title``."""
    return html.Div(
        className=f"plan-card {name}-panel",
        id=f"plan-{name}",
        children=[html.H3(t(f"{name}.title", lang)), *children],
    )


def toggle(id_: str, label: str) -> dcc.Checklist:
    """A single check box, off at first; its value is ``["on"]`` when ticked."""
    return dcc.Checklist(id=id_, options=[{"label": label, "value": "on"}], value=[])
