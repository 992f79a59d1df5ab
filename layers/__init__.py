"""The map overlays, in drawing order (first is drawn lowest), each a :class:`Layer`.

Adding a layer = writing one module implementing :class:`layers.base.Layer` (its SQL
function in ``sql/functions``, its title and legend keys in :mod:`gridmap.i18n`) and listing
an instance in :data:`LAYERS` (or :func:`register`-ing it). Everything else is built from
the registry: the map page's toggles, legends and traces, the vector tiles
(:mod:`gridmap.web.tiles`) and their style (:mod:`gridmap.web.tile_overlays`), the OGC API
collections (:mod:`gridmap.ogc.collections`), exports and print maps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import overload

from layers.base import Detail, FeatureLayer, Layer, LayerContext, LayerError, LegendEntry
from layers.buildings import BuildingsLayer
from layers.cameras import CamerasLayer
from layers.cases import CasesLayer
from layers.grids import GridsLayer
from layers.overdue_visits import OverdueVisitsLayer
from layers.patrol_coverage import PatrolCoverageLayer
from layers.risk_gap import RiskGapLayer
from layers.service_circles import ServiceCirclesLayer
from layers.service_points import ServicePointsLayer
from layers.uncovered_buildings import UncoveredBuildingsLayer
from layers.unwatched_streets import UnwatchedStreetsLayer


class LayerRegistry(Sequence[Layer]):
    """The registered layers in drawing order. Layers that keep their place
    (``keeps_place``: the case layer, whose traces the live dashboard patches) stay last."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self._layers: list[Layer] = []
        for layer in layers:
            self.register(layer)

    @overload
    def __getitem__(self, index: int) -> Layer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Layer]: ...
    def __getitem__(self, index):
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __repr__(self) -> str:
        return f"LayerRegistry({[layer.id for layer in self._layers]})"

    def get(self, layer_id: str) -> Layer | None:
        return next((layer for layer in self._layers if layer.id == layer_id), None)

    def register(self, layer: Layer) -> Layer:
        """Add ``layer`` on top of the others (under those that keep their place)."""
        if self.get(layer.id) is not None:
            raise LayerError(f"A map layer {layer.id!r} is registered already.")
        at = len(self._layers)
        if not layer.keeps_place:
            while at > 0 and self._layers[at - 1].keeps_place:
                at -= 1
        self._layers.insert(at, layer)
        return layer

    def unregister(self, layer_id: str) -> None:
        """Remove the layer with this id (LayerError when there is none)."""
        self._layers.remove(get_layer(layer_id))

    @contextmanager
    def registered(self, layer: Layer) -> Iterator[Layer]:
        """``layer`` registered for the ``with`` block (tests)."""
        self.register(layer)
        try:
            yield layer
        finally:
            self.unregister(layer.id)


LAYERS = LayerRegistry(
    [
        GridsLayer(),
        RiskGapLayer(),  # off by default: the analysis overlays below are switched on by hand
        ServiceCirclesLayer(),
        PatrolCoverageLayer(),
        UnwatchedStreetsLayer(),
        BuildingsLayer(),
        UncoveredBuildingsLayer(),
        OverdueVisitsLayer(),  # off by default
        CamerasLayer(),
        ServicePointsLayer(),
        CasesLayer(),  # keeps its place last: drawn on top; the live dashboard patches it
    ]
)
register = LAYERS.register


def get_layer(layer_id: str) -> Layer:
    """The registered layer with this id (LayerError when there is none)."""
    layer = LAYERS.get(layer_id)
    if layer is None:
        raise LayerError(f"There is no map layer {layer_id!r}.")
    return layer


def layer_ids() -> list[str]:
    """The registered layer ids, in drawing order."""
    return [layer.id for layer in LAYERS]


__all__ = [
    "LAYERS",
    "Detail",
    "FeatureLayer",
    "Layer",
    "LayerContext",
    "LayerError",
    "LayerRegistry",
    "LegendEntry",
    "get_layer",
    "layer_ids",
    "register",
]
