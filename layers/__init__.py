"""The map overlays, in drawing order (first is drawn lowest), each a :class:`Layer`.

Adding a layer = writing one module implementing :class:`layers.base.Layer` and listing an
instance in :data:`LAYERS`; the map page builds its toggles, legend and traces from here.
"""

from __future__ import annotations

from layers.base import Detail, Layer, LayerContext, LayerError, LegendEntry
from layers.buildings import BuildingsLayer
from layers.cameras import CamerasLayer
from layers.cases import CasesLayer
from layers.grids import GridsLayer
from layers.patrol_coverage import PatrolCoverageLayer
from layers.risk_gap import RiskGapLayer
from layers.service_circles import ServiceCirclesLayer
from layers.service_points import ServicePointsLayer
from layers.uncovered_buildings import UncoveredBuildingsLayer
from layers.unwatched_streets import UnwatchedStreetsLayer

LAYERS: tuple[Layer, ...] = (
    GridsLayer(),
    RiskGapLayer(),  # off by default: the analysis overlays below are switched on by hand
    ServiceCirclesLayer(),
    PatrolCoverageLayer(),
    UnwatchedStreetsLayer(),
    BuildingsLayer(),
    UncoveredBuildingsLayer(),
    CamerasLayer(),
    ServicePointsLayer(),
    CasesLayer(),  # last: drawn on top; the live dashboard patches the final traces
)

_BY_ID = {layer.id: layer for layer in LAYERS}
assert len(_BY_ID) == len(LAYERS), "layer ids must be unique"


def get_layer(layer_id: str) -> Layer:
    """The registered layer with this id (LayerError when there is none)."""
    try:
        return _BY_ID[layer_id]
    except KeyError:
        raise LayerError(f"There is no map layer {layer_id!r}.") from None


def layer_ids() -> list[str]:
    """The registered layer ids, in drawing order."""
    return [layer.id for layer in LAYERS]


__all__ = [
    "LAYERS",
    "Detail",
    "Layer",
    "LayerContext",
    "LayerError",
    "LegendEntry",
    "get_layer",
    "layer_ids",
]
