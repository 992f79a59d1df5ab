"""Fixtures of the database tests: the patrol world (its ingest runs through pgbouncer)."""

from tests.gridmap.patrols.conftest import patrol_url, world  # noqa: F401
