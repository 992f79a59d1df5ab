"""The service circles error family: safe, user-facing messages."""

from __future__ import annotations

from gridmap.errors import GridmapError


class AnalyticsError(GridmapError):
    """A service-circle computation cannot run (no network, bad parameters, bad input)."""


class NetworkError(AnalyticsError):
    """The walking network is missing, empty or cannot be read."""


class ParameterError(AnalyticsError):
    """A parameter (speed, minutes, kind, k …) is out of range."""
