"""Service circles: walking network, isochrones, coverage, new sites and what-if."""

from gridmap.analytics import models as models  # registers the tables' models on Base
