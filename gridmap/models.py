"""Every table's model: the core tables of :mod:`gridmap.db.models` and each subsystem's own
(analytics, basemap, cases, households, io, patrols), all on one
:class:`~gridmap.db.models.Base`. Import this module where the whole schema must be known
(``Base.metadata`` complete); a service only imports the models it uses."""

from __future__ import annotations

import gridmap.analytics.models
import gridmap.basemap.models
import gridmap.cases.models
import gridmap.households.models
import gridmap.io.models
import gridmap.patrols.models  # noqa: F401
from gridmap.db.models import Base


def all_models() -> list[type[Base]]:
    """Every table's model, by table name."""
    return sorted(Base.__subclasses__(), key=lambda m: m.__tablename__)
