"""A legend: one line per :class:`~layers.specs.LegendEntry`, its swatch and its label."""

from __future__ import annotations

from collections.abc import Iterable

from dash import html

from layers import LegendEntry


def legend_list(entries: Iterable[LegendEntry], class_name: str = "legend") -> html.Ul:
    """The entries as a list of swatches (``.swatch-fill``, ``-line``, ``-circle``) and labels."""
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(className=f"swatch swatch-{entry.shape}", style={"--c": entry.color}),
                    html.Span(entry.label),
                ]
            )
            for entry in entries
        ],
        className=class_name,
    )
