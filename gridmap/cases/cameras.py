"""The online cameras nearest a case (雪亮工程 video for the case's place)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, text

from gridmap.cases.queries import connection
from gridmap.settings import get_settings


def nearest_cameras(
    engine: Engine | Connection,
    case_id: int,
    *,
    radius_m: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Online cameras within the radius of the case's point, nearest first, with the
    distance in metres; empty when the case has no location."""
    settings = get_settings()
    with connection(engine) as conn:
        rows = conn.execute(
            text(
                "SELECT n.* FROM cases c CROSS JOIN LATERAL "
                "gridmap_nearest_cameras(c.geom, :radius, :limit) n "
                "WHERE c.id = :id AND c.geom IS NOT NULL"
            ),
            {
                "id": case_id,
                "radius": radius_m or settings.cases_camera_radius_m,
                "limit": limit or settings.cases_camera_limit,
            },
        ).mappings()
        return [dict(r) for r in rows]
