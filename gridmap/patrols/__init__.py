"""Patrols: GPS ping ingest, matching to streets, patrol and camera coverage, risk gaps."""

from gridmap.patrols import models as models  # registers the tables' models on Base
