"""gridmap: a GIS-centred grid management (网格化管理) dashboard on PostGIS and Dash."""

__version__ = "0.1.0"
