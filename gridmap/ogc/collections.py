"""The feature collections the OGC API serves, each read through a map layer's own SQL.

A :class:`Collection` names the SQL it reads. The map layers' collections are built from
the layers that declare one (``Layer.collection``, a :class:`~layers.specs.CollectionSpec`:
the layer module's reader called with the same arguments as its ``export(ctx)``, no view
caps, exact geometry), so a bbox selects the same features on the map, in an export and
here. Case aggregates (cases per grid and day) are not a map layer: they are declared here,
with their reader in ``sql/functions/ogc.sql``. Paging wraps that SQL in a stable order with
LIMIT/OFFSET; numberMatched is a count of the same SQL. Reads run as ``ctx.user`` through
:func:`layers.base.read_frame` (row-level security).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import geopandas as gpd
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access.scope import cache_scope, scoped_connection, unscoped
from gridmap.ogc.errors import OgcError
from layers import LAYERS, Layer
from layers.base import LayerContext, read_frame
from layers.cases import case_filter

#: Extra SQL parameters of a collection's reader, from the request's context.
Params = Callable[[LayerContext], dict[str, Any]]


def _no_params(ctx: LayerContext) -> dict[str, Any]:
    return {}


def _case_params(ctx: LayerContext) -> dict[str, Any]:
    from gridmap.cases.filters import case_timezone

    cases = case_filter(ctx)
    return {"since": cases.since, "until": cases.until, "tz": case_timezone()}


@dataclass(frozen=True)
class Collection:
    """One OGC API feature collection."""

    id: str
    #: i18n keys of the title and description.
    title: str
    description: str
    #: SELECT of the features, with the bbox as ``:minx, :miny, :maxx, :maxy`` (NULL: all).
    sql: str
    params: Params = _no_params
    #: SQL expression of the feature id (over the reader's columns) and whether it is a number.
    fid: str = "id"
    numeric_fid: bool = True
    #: ORDER BY of the pages (stable, unique): the fid unless cheaper columns say the same.
    order: str = "1"
    #: Column of the features' time stamp (a date or timestamptz): the datetime filter.
    temporal: str | None = None
    #: SELECT of (extent geometry, first time, last time) when cheaper than over ``sql``.
    extent_sql: str | None = None
    #: Columns left out of the properties (ids used only for the fid).
    hidden: tuple[str, ...] = field(default_factory=tuple)

    def _wrapped(self) -> str:
        return f"SELECT ({self.fid}) AS ogc_fid, f.* FROM ({self.sql}) f"

    def args(self, ctx: LayerContext) -> dict[str, Any]:
        """The SQL parameters of the reader for ``ctx``."""
        return {**ctx.bounds, **self.params(ctx)}

    def page(self, ctx: LayerContext, limit: int, offset: int) -> gpd.GeoDataFrame:
        """One page of features (in :attr:`order`), column ``ogc_fid`` first."""
        sql = f"{self._wrapped()} ORDER BY {self.order} LIMIT :ogc_limit OFFSET :ogc_offset"
        return read_frame(ctx, sql, **self.args(ctx), ogc_limit=limit, ogc_offset=offset)

    def item(self, ctx: LayerContext, fid: str) -> gpd.GeoDataFrame:
        """The feature with id ``fid`` (an empty frame when there is none)."""
        key: Any = fid
        if self.numeric_fid:
            if not (fid.isascii() and fid.isdigit()) or len(fid) > 18:
                return read_frame(ctx, f"{self._wrapped()} WHERE false", **self.args(ctx))
            key = int(fid)
        sql = f"SELECT * FROM ({self._wrapped()}) w WHERE w.ogc_fid = :ogc_key"
        return read_frame(ctx, sql, **self.args(ctx), ogc_key=key)

    def count(self, ctx: LayerContext) -> int:
        """How many features match ``ctx`` (numberMatched), remembered for
        :data:`COUNT_SECONDS` while the data's change counters stand."""
        args = self.args(ctx)
        key = (_database(ctx), self.id, cache_scope(ctx.asker), repr(sorted(args.items())))
        key += (_changes(ctx),)
        cached = _COUNTS.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        with _reading(ctx) as conn:
            matched = int(conn.execute(text(f"SELECT count(*) FROM ({self.sql}) f"), args).scalar())
        _remember(_COUNTS, key, COUNT_SECONDS, matched)
        return matched

    def extent(self, ctx: LayerContext) -> tuple[list[float] | None, list[str | None] | None]:
        """Lon/lat bbox of all features and, for time-stamped ones, their first/last time
        (as ``ctx.user`` sees them; remembered for :data:`EXTENT_SECONDS`)."""
        key = (_database(ctx), self.id, cache_scope(ctx.asker), _changes(ctx))
        cached = _EXTENTS.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        sql = self.extent_sql
        if sql is None:
            times = "NULL, NULL"
            if self.temporal:
                times = f"min(f.{self.temporal}), max(f.{self.temporal})"
            sql = f"SELECT ST_Extent(f.geom)::geometry, {times} FROM ({self.sql}) f"
        corners = "ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
        sql = f"SELECT {corners}, t0, t1 FROM ({sql}) x(e, t0, t1)"
        with _reading(ctx) as conn:
            row = conn.execute(text(sql), self.args(ctx)).one()
        bbox = None if row[0] is None else [round(float(v), 7) for v in row[:4]]
        interval = [_iso(row[4]), _iso(row[5])] if self.temporal else None
        _remember(_EXTENTS, key, EXTENT_SECONDS, (bbox, interval))
        return bbox, interval


def _database(ctx: LayerContext) -> str:
    return ctx.engine.url.render_as_string(hide_password=True)


def _changes(ctx: LayerContext) -> tuple | None:
    """The database's change counters (cases, and the tables of migration 0022): a kept
    count or extent is used only while they stand, so every server counts anew after any
    such write, whichever server made it (tables without a counter: after the time)."""
    try:
        with unscoped(), ctx.engine.connect() as conn:  # the grid reader may not read them
            return tuple(conn.execute(_CHANGES_SQL).one())
    except SQLAlchemyError:
        return None  # the count's own query reports the database


_CHANGES_SQL = text(
    "SELECT (SELECT version FROM gridmap_case_version()), "
    "(SELECT coalesce(sum(version), 0) FROM gridmap_data_version)"
)


def _remember(cache: dict[tuple, tuple[float, Any]], key: tuple, seconds: float, value: Any):
    """Keep ``value`` for ``seconds``; a full cache (many boxes asked for) starts afresh."""
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
    cache[key] = (time.monotonic() + seconds, value)


#: Most remembered counts (and extents) per process.
CACHE_ENTRIES = 4096


#: How long a numberMatched is reused (seconds) while the change counters stand (see
#: :func:`_changes`): a client walking the pages does not count on every page.
COUNT_SECONDS = 30.0
_COUNTS: dict[tuple, tuple[float, int]] = {}
#: How long a collection's extent is reused (seconds): the metadata of /collections is asked
#: for by every GIS client on connect, and a city's extents change rarely.
EXTENT_SECONDS = 300.0
_EXTENTS: dict[tuple, tuple[float, Any]] = {}


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime(value.year, value.month, value.day).isoformat() + "Z"


@contextmanager
def _reading(ctx: LayerContext) -> Iterator[Connection]:
    """A connection reading as ``ctx.user`` (the same scope as ``read_frame``)."""
    try:
        with scoped_connection(ctx.engine, ctx.user) as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise OgcError(
            "The features could not be read from the database.", 503, hint=type(exc).__name__
        ) from exc


def layer_collection(layer: Layer) -> Collection | None:
    """The collection a map layer declares (None: it has none)."""
    spec = layer.collection
    if spec is None:
        return None
    collection_id = spec.id or layer.id
    args = dict(spec.args)
    return Collection(
        collection_id,
        layer.title,
        spec.description or f"ogc.desc.{collection_id}",
        spec.sql,
        params=lambda ctx: dict(args),
        fid=spec.fid,
        numeric_fid=spec.numeric_fid,
        order=spec.order,
        temporal=spec.temporal,
        extent_sql=spec.extent_sql,
        hidden=spec.hidden,
    )


#: Collections that are not map layers.
CASE_AGGREGATES = Collection(
    "case_aggregates",
    "ogc.case_aggregates",
    "ogc.desc.case_aggregates",
    "SELECT * FROM gridmap_ogc_case_days(:minx, :miny, :maxx, :maxy, :since, :until, :tz)",
    params=_case_params,
    fid="f.fid",
    numeric_fid=False,
    order="f.grid_id, f.day",
    temporal="day",
    hidden=("fid",),
    # The grids with their cases' first and last local day, without counting all cases.
    extent_sql=(
        "SELECT (SELECT ST_Extent(geom)::geometry FROM grids), "
        "(SELECT (min(reported_at) AT TIME ZONE :tz)::date FROM cases "
        " WHERE grid_id IS NOT NULL AND geom IS NOT NULL), "
        "(SELECT (max(reported_at) AT TIME ZONE :tz)::date FROM cases "
        " WHERE grid_id IS NOT NULL AND geom IS NOT NULL)"
    ),
)
OTHER_COLLECTIONS: tuple[Collection, ...] = (CASE_AGGREGATES,)


def collections() -> tuple[Collection, ...]:
    """Every collection: the registered map layers' (drawing order), then the others."""
    built = (layer_collection(layer) for layer in LAYERS)
    return (*(c for c in built if c is not None), *OTHER_COLLECTIONS)


def get_collection(collection_id: str) -> Collection:
    """The collection with this id (OgcError 404 when there is none)."""
    known = collections()
    for collection in known:
        if collection.id == collection_id:
            return collection
    names = ", ".join(c.id for c in known)
    raise OgcError(f"There is no collection {collection_id!r} (known: {names}).", 404)
