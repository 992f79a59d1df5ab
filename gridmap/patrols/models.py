"""GeoAlchemy2 models of the patrol tables (migration 0007), registered on the shared Base."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, ForeignKey, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import REAL, Float

from gridmap.db.models import TIMESTAMPTZ, Base, geometry


class RejectedPing(Base):
    __tablename__ = "gps_pings_rejected"
    device_id: Mapped[str] = mapped_column(Text, primary_key=True)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, primary_key=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(REAL)
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())


class EdgeGrid(Base):
    __tablename__ = "edge_grid"
    edge_id: Mapped[int] = mapped_column(ForeignKey("road_edges.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True)
    length_m: Mapped[float] = mapped_column(Float)
    seen_m: Mapped[float] = mapped_column(Float, server_default="0")
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTILINESTRING"))


class EdgeVisit(Base):
    __tablename__ = "edge_visits"
    edge_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(TIMESTAMPTZ, primary_key=True)
    first_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    last_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)


class EdgeLastVisit(Base):
    __tablename__ = "edge_last_visit"
    edge_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)


class CameraSector(Base):
    __tablename__ = "camera_sectors"
    camera_id: Mapped[int] = mapped_column(Integer, ForeignKey("cameras.id"), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(geometry("POLYGON"))
