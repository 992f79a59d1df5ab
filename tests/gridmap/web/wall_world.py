"""The wall's test world: the small demo city (seed DEMO_SEED) with its patrol visits and
service-circle coverage and isochrones computed, so every wall tile has a figure (and the
map page its service circles)."""

from __future__ import annotations

from sqlalchemy import Engine

from gridmap.db.engine import get_engine
from gridmap.demo.load import load_demo
from gridmap.derived import compute_all
from tests.conftest import DEMO_SEED


def build_wall_world(url: str) -> Engine:
    """Load the demo city into the (empty, migrated) database at ``url`` and compute its
    street pieces, camera sectors, patrol visits, service-circle coverage and isochrones."""
    load_demo(url, scale="small", seed=DEMO_SEED, progress=False)
    compute_all(url, steps=("patrol_static", "patrol_visits", "coverage", "isochrones"))
    return get_engine(url)
