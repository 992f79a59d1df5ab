"""GeoAlchemy2 models of the household tables (migration 0024), registered on the shared
Base. ``buildings.compound_id`` is on the core Building model."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import REAL

from gridmap.db.models import TIMESTAMPTZ, Base, geometry


class Compound(Base):
    __tablename__ = "compounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    property_manager: Mapped[str | None] = mapped_column(Text)
    owners_committee: Mapped[bool] = mapped_column(Boolean, server_default="false")
    party_branch: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class HouseholdTag(Base):
    __tablename__ = "household_tags"
    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    vulnerable: Mapped[bool] = mapped_column(Boolean, server_default="true")
    sort: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class VisitCadence(Base):
    __tablename__ = "visit_cadences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str | None] = mapped_column(ForeignKey("household_tags.slug"))
    days: Mapped[int] = mapped_column(Integer)


class VisitKind(Base):
    __tablename__ = "visit_kinds"
    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    sort: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class TenHouseholdUnit(Base):
    __tablename__ = "ten_household_units"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    lead_name: Mapped[str | None] = mapped_column(Text)
    lead_phone: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())


class Household(Base):
    __tablename__ = "households"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    unit: Mapped[str | None] = mapped_column(Text)
    floor: Mapped[int | None] = mapped_column(SmallInteger)
    room: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str | None] = mapped_column(Text)
    head_phone: Mapped[str | None] = mapped_column(Text)
    members: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    ten_household_unit_id: Mapped[int | None] = mapped_column(ForeignKey("ten_household_units.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    registered_on: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    last_visited_at: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    #: kept by triggers from the tags (migration 0028), never set by hand
    cadence_days: Mapped[int | None] = mapped_column(Integer)
    vulnerable: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())


class Visit(Base):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    ten_household_unit_id: Mapped[int | None] = mapped_column(ForeignKey("ten_household_units.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    worker_name: Mapped[str | None] = mapped_column(Text)
    visited_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    kind: Mapped[str] = mapped_column(ForeignKey("visit_kinds.slug"))
    outcome: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(geometry("POINT"))
    accuracy_m: Mapped[float | None] = mapped_column(REAL)
    distance_m: Mapped[float | None] = mapped_column(REAL)
    far_fix: Mapped[bool] = mapped_column(Boolean, server_default="false")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=func.now())
