"""GeoAlchemy2 models of the service-circle tables (``0006_service_circles.sql``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import REAL, Float

from gridmap.db.models import TIMESTAMPTZ, Base, geometry


class AnalysisRun(Base):
    __tablename__ = "analysis_runs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    params_hash: Mapped[str] = mapped_column(Text)
    data_print: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    duration_s: Mapped[float] = mapped_column(Float, server_default="0")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class ServiceIsochrone(Base):
    __tablename__ = "service_isochrones"
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"), primary_key=True)
    service_point_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("service_points.id"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(Text)
    minutes: Mapped[float] = mapped_column(REAL, primary_key=True)
    speed_kmh: Mapped[float] = mapped_column(REAL)
    reach_m: Mapped[float] = mapped_column(REAL)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class BuildingAccess(Base):
    __tablename__ = "building_access"
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"), primary_key=True)
    building_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    snap_m: Mapped[float | None] = mapped_column(REAL)
    walk_m: Mapped[list[float | None]] = mapped_column(ARRAY(REAL))
