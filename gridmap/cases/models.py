"""Models of the case heatmap rollup (migration 0009): counts of located cases per heatmap
level and UTC day, and the days marked stale by the cases' statement triggers."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Integer, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.models import Base


class CaseHeatDay(Base):
    """One (level, day, detail) row of parallel arrays: cell_counts[k] cases in cell
    cell_keys[k] with status cell_statuses[k] (and category/source on detail rows)."""

    __tablename__ = "case_heat_days"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    detail: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    cell_keys: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    cell_statuses: Mapped[list[str]] = mapped_column(ARRAY(Text))
    cell_categories: Mapped[list[str | None]] = mapped_column(ARRAY(Text))
    cell_sources: Mapped[list[str | None]] = mapped_column(ARRAY(Text))
    cell_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class CaseHeatStale(Base):
    """A (level, day) whose rollup may be out of date. Append-only marks without a key in
    the table (duplicates allowed); the mapper's key is the pair."""

    __tablename__ = "case_heat_stale"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
