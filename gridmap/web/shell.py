"""The frame every page shares: the header with the product name and language switch."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import html

from gridmap.i18n import LANGUAGES, t


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
            html.Nav(
                className="lang-switch",
                title=t("lang.switch", lang),
                children=switch,
            ),
        ],
    )
