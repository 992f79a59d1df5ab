"""Reusable pieces of dashboard pages: the case filter panel, KPI tiles and the ticker of
the latest cases (the map page and, later, the wall screen share them)."""
