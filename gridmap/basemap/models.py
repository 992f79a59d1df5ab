"""GeoAlchemy2/SQLAlchemy model of the basemap's own features (migration 0021)."""

from __future__ import annotations

from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.models import Base, geometry


class BasemapFeature(Base):
    __tablename__ = "basemap_features"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    class_: Mapped[str] = mapped_column("class", Text, server_default="")
    name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, server_default="demo")
    geom: Mapped[WKBElement] = mapped_column(geometry("GEOMETRY"))
