"""The wall's test world: the small demo city (seed DEMO_SEED) with its patrol visits and
service-circle coverage computed, so every wall tile has a figure."""

from __future__ import annotations

from sqlalchemy import Engine

from gridmap.analytics.coverage import compute_coverage
from gridmap.analytics.params import CircleParams
from gridmap.db.engine import get_engine
from gridmap.demo.load import load_demo
from gridmap.patrols.coverage import refresh_static
from gridmap.patrols.matching import matcher_for
from gridmap.patrols.visits import rebuild_visits
from gridmap.settings import get_settings
from tests.conftest import DEMO_SEED


def build_wall_world(url: str) -> Engine:
    """Load the demo city into the (empty, migrated) database at ``url`` and compute its
    street pieces, camera sectors, patrol visits and service-circle coverage."""
    load_demo(url, scale="small", seed=DEMO_SEED, progress=False)
    engine = get_engine(url)
    refresh_static(engine)
    settings = get_settings()
    raw = engine.raw_connection()
    try:
        rebuild_visits(
            raw,
            matcher_for(engine),
            max_accuracy_m=settings.patrol_max_accuracy_m,
            match_m=settings.patrol_match_m,
        )
        raw.commit()
    finally:
        raw.close()
    compute_coverage(url, CircleParams.from_settings(), store=True)
    return engine
