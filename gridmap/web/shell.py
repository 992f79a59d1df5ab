"""The frame every page shares: the header with the product name, the modes the signed-in
user may open (city map, my grids, planning, patrols, wall) and the language switch; the
page scaffold (:func:`page_layout`: header, a side panel beside a map area, the page's stores),
the map graph's configuration (:func:`graph_config`) and :func:`triggered_id` for callbacks.

The mode links come from the pages' own declarations (:func:`gridmap.access.pages.page`:
roles and label), the role's home page first: the header offers exactly what the server
lets the role open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import dash
from dash import dcc, html
from dash.development.base_component import Component
from dash.exceptions import MissingCallbackContextException

from gridmap.access import Role, current_user
from gridmap.access.pages import NAV_KEY, home_of, pages_for
from gridmap.i18n import LANGUAGES, normalize_language, t
from gridmap.settings import get_settings

#: The map graphs' configuration: scroll to zoom, no Plotly logo, the size of its box.
GRAPH_CONFIG: dict[str, Any] = {"scrollZoom": True, "displaylogo": False, "responsive": True}

#: Pages without the mode links (the wall is watched, not clicked).
BARE_PAGES = frozenset({"/wall"})


#: The keys of ``dcc.Dropdown(labels=…)`` (Dash 4: its own words are English otherwise).
DROPDOWN_LABELS = (
    "select_all",
    "deselect_all",
    "selected_count",
    "search",
    "clear_search",
    "clear_selection",
    "no_options_found",
)


def dropdown_labels(lang: str) -> dict[str, str]:
    """The words a dropdown shows itself ("Select All", "Search", …) in ``lang``."""
    return {key: t(f"dropdown.{key}", lang) for key in DROPDOWN_LABELS}


def localize_dropdowns(parts: Sequence[Component], lang: str) -> None:
    """Give every ``dcc.Dropdown`` in ``parts`` that sets no ``labels`` of its own the
    words of ``lang`` (so no "Select All" or "Search" in English on a Chinese page)."""
    for part in parts:
        for node in [part, *part._traverse()] if isinstance(part, Component) else ():
            if isinstance(node, dcc.Dropdown) and getattr(node, "labels", None) is None:
                node.labels = dropdown_labels(lang)


def nav_links(role: Role) -> list[tuple[str, str]]:
    """(path, label key) of the pages ``role`` may open, its home page first."""
    links = [(entry["path"], entry[NAV_KEY]) for entry in pages_for(role)]
    home = home_of(role)
    return sorted(links, key=lambda link: link[0] != home)


def mode_nav(lang: str, path: str) -> html.Nav | None:
    """Links to the modes of the signed-in user's role (None: anonymous, or a bare page)."""
    user = current_user()
    if user is None or path in BARE_PAGES:
        return None
    links = [
        html.A(
            t(key, lang),
            href=f"{href}?{urlencode({'lang': lang})}",
            id=f"nav-{href.strip('/') or 'map'}",
            className="mode-link active" if href == path else "mode-link",
        )
        for href, key in nav_links(user.role)
    ]
    links.append(
        html.A(
            t("nav.logout", lang, name=user.display_name),
            href="/logout",
            id="nav-logout",
            className="mode-link mode-logout",
        )
    )
    return html.Nav(links, className="mode-nav", title=t("nav.modes", lang))


def header(lang: str, path: str = "/") -> html.Header:
    """The page header; the language switch links reload ``path`` in the other language."""
    switch = [
        html.A(
            t(f"lang.{code}", code),
            href=f"{path}?{urlencode({'lang': code})}",
            id=f"lang-{code}",
            className="lang-option active" if code == lang else "lang-option",
            lang=code,
        )
        for code in LANGUAGES
    ]
    return html.Header(
        className="app-header",
        children=[
            html.Div(
                className="brand",
                children=[
                    html.Span(className="brand-mark"),
                    html.H1(t("app.title", lang), className="brand-title"),
                    html.Span(t("app.subtitle", lang), className="brand-subtitle"),
                ],
            ),
            *([nav] if (nav := mode_nav(lang, path)) else []),
            html.Nav(
                className="lang-switch",
                title=t("lang.switch", lang),
                children=switch,
            ),
        ],
    )


def graph_config(**changes: Any) -> dict[str, Any]:
    """:data:`GRAPH_CONFIG` with a page's ``changes`` (e.g. the mode-bar buttons it keeps)."""
    return GRAPH_CONFIG | changes


def triggered_id() -> Any:
    """The id of the input that fired the running callback (None outside a callback). When
    several fired together, the first: ask :func:`triggered_ids` whether one of them did."""
    try:
        return dash.callback_context.triggered_id
    except MissingCallbackContextException:
        return None


def triggered_ids() -> list[Any]:
    """The ids of every input that fired the running callback (empty outside a callback).
    Changes that come together reach the callback in one call: a filter chosen just as a
    timer ticks fires it once, for both."""
    try:
        return list(dash.callback_context.triggered_prop_ids.values())
    except MissingCallbackContextException:
        return []


def page_language(lang: str | None) -> str:
    """The language a page is drawn in: ``?lang=`` when known, else the configured one."""
    return normalize_language(lang or get_settings().language)


def page_layout(
    lang: str,
    path: str,
    *,
    page_class: str,
    panel: Sequence[Component],
    panel_class: str,
    area: Sequence[Component],
    area_class: str = "map-area",
    after: Sequence[Component] = (),
    stores: Sequence[Component] = (),
) -> html.Div:
    """A page: the header, then a side panel beside the map area (and ``after`` them, e.g.
    a detail panel), then the page's stores and intervals; its dropdowns speak ``lang``."""
    localize_dropdowns([*panel, *area, *after], lang)
    return html.Div(
        className="app",
        lang=lang,
        children=[
            header(lang, path),
            html.Main(
                className=page_class,
                children=[
                    html.Aside(className=panel_class, children=list(panel)),
                    html.Section(className=area_class, children=list(area)),
                    *after,
                ],
            ),
            *stores,
        ],
    )
