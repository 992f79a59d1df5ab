"""Patrols: GPS ping ingest, matching to streets, patrol and camera coverage, risk gaps."""
