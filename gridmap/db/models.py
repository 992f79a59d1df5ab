"""GeoAlchemy2 models mirroring ``sql/migrations`` (the SQL files are the source of truth).

Services use these for typed queries and single-row writes; bulk loads use COPY. These
are the core tables; subsystems keep their own tables' models beside their code, on the same
:class:`Base` (:mod:`gridmap.models` imports them all, for the whole schema at once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, Computed, ForeignKey, Integer, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import REAL, TIMESTAMP, Boolean, Float

TIMESTAMPTZ = TIMESTAMP(timezone=True)


def geometry(kind: str) -> Geometry:
    """A lon/lat (EPSG:4326) geometry column of one type; indexes live in the SQL files."""
    return Geometry(kind, srid=4326, spatial_index=False)


class Base(DeclarativeBase):
    """Declarative base of every gridmap table."""


class District(Base):
    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class Street(Base):
    __tablename__ = "streets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class Community(Base):
    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    # A command centre's area (at most one; migration 0026).
    area_district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    area_street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"))
    area_community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))


class UserToken(Base):
    """An API token (intake clients) or display token (wall screens); only its SHA-256."""

    __tablename__ = "user_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(Text)
    token_sha256: Mapped[str] = mapped_column(Text, unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    revoked_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lead_name: Mapped[str | None] = mapped_column(Text)
    lead_phone: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class UserGrid(Base):
    __tablename__ = "user_grids"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True)


class Building(Base):
    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    address: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    floors: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    elderly_alone: Mapped[int] = mapped_column(Integer, server_default="0")
    disabled: Mapped[int] = mapped_column(Integer, server_default="0")
    low_income: Mapped[int] = mapped_column(Integer, server_default="0")
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    footprint: Mapped[WKBElement | None] = mapped_column(geometry("POLYGON"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    # references compounds (gridmap.households.models; no ForeignKey here, so the core
    # models stand without that module)
    compound_id: Mapped[int | None] = mapped_column(Integer)
    # Web Mercator position (0..1), generated by the database (migration 0025)
    merc_x: Mapped[float | None] = mapped_column(Float, Computed("(st_x(geom) + 180) / 360"))
    merc_y: Mapped[float | None] = mapped_column(Float, Computed("see migration 0025"))


class BuildingCell(Base):
    """Buildings summed per z13 tile cell and grid (migration 0034; kept by triggers on
    buildings, read by the building tiles at zooms 12-13). Unique per (cx, cy, grid_id),
    grid_id NULL outside every grid."""

    __tablename__ = "building_cells"
    cx: Mapped[int] = mapped_column(Integer, primary_key=True)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    buildings: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(BigInteger)
    population: Mapped[int] = mapped_column(BigInteger)
    sum_x: Mapped[float] = mapped_column(Float)
    sum_y: Mapped[float] = mapped_column(Float)
    __mapper_args__: ClassVar[dict[str, Any]] = {"primary_key": [cx, cy, grid_id]}


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="online")
    last_seen: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    heading: Mapped[float] = mapped_column(REAL, server_default="0")
    fov: Mapped[float] = mapped_column(REAL, server_default="90")
    range_m: Mapped[float] = mapped_column(REAL, server_default="50")
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))


class ServicePoint(Base):
    __tablename__ = "service_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))


class RoadEdge(Base):
    __tablename__ = "road_edges"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[int] = mapped_column(BigInteger)
    length_m: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(Text, server_default="residential")
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("LINESTRING"))


class RoadStreet(Base):
    """A street's road edges merged into one line (one row per line), kept from road_edges
    by triggers for the road tiles (migration 0032); never written by the application."""

    __tablename__ = "road_streets"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("LINESTRING"))


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    subcategory: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="reported")
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="3")
    handling_type: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    due_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    dispatched_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    resolved_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    closed_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    department: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_phone: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)  # unique per submitter (0020)
    geom: Mapped[WKBElement | None] = mapped_column(geometry("POINT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("case_imports.id"))
    # the account that submitted it through the API or Open311, and when (0020)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)


class CaseImport(Base):
    """One bulk import run (append-only); the cases it brought in name it."""

    __tablename__ = "case_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)


class CaseEvent(Base):
    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # part of the key: the table is partitioned by it (migration 0030)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, primary_key=True, server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class PatrolShift(Base):
    __tablename__ = "patrol_shifts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    started_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    ended_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)


class GpsPing(Base):
    __tablename__ = "gps_pings"
    device_id: Mapped[str] = mapped_column(Text, primary_key=True)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, primary_key=True)
    accuracy_m: Mapped[float | None] = mapped_column(REAL)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # part of the key: the table is partitioned by it (migration 0031)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, primary_key=True, server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    client_ip: Mapped[str | None] = mapped_column(INET)


class Partitioned(Base):
    """A time-partitioned table: its partition key and the period of one partition (0029)."""

    __tablename__ = "gridmap_partitioned"
    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    column_name: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(Text)


class Meta(Base):
    __tablename__ = "gridmap_meta"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)


class DataVersion(Base):
    """A table's change counter (migration 0022; read by the vector tile cache)."""

    __tablename__ = "gridmap_data_version"
    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    changed_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
