"""The ``/ogc`` blueprint: OGC API – Features Part 1 core (landing page, conformance,
collections, items, single item) as JSON/GeoJSON or HTML (``f=html`` or ``Accept:
text/html``), in zh-CN or English (``lang=en``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, render_template, request, url_for

from gridmap.access import current_user
from gridmap.access.policy import Access, allow
from gridmap.api.contract import Reply, contract
from gridmap.cases.filters import CaseFilter
from gridmap.catchall import OTHER_METHODS, catch_all, other_methods
from gridmap.db.app import read_engine
from gridmap.errors import InvalidInput
from gridmap.i18n import normalize_language, t
from gridmap.ogc import collections as registry
from gridmap.ogc import schemas as s
from gridmap.ogc.collections import Collection, get_collection
from gridmap.ogc.errors import OgcError
from gridmap.ogc.params import CRS84
from gridmap.settings import get_settings
from layers.base import LayerContext, LayerError

blueprint = Blueprint("ogc", __name__, url_prefix="/ogc", template_folder="templates")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
#: Conformance classes of OGC API – Features Part 1 this API implements.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


# -- request helpers -------------------------------------------------------------------------


def _lang() -> str:
    return normalize_language(request.args.get("lang") or get_settings().language)


def _wants_html() -> bool:
    """``f=html|json`` decides; else the Accept header (JSON when it does not prefer HTML)."""
    fmt = request.args.get("f")
    if fmt is not None:
        if fmt not in ("html", "json"):
            raise OgcError(f"f {fmt!r} is not a format of this API; use f=json or f=html.")
        return fmt == "html"
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, HTML], default=JSON)
    return best == HTML and request.accept_mimetypes[HTML] > request.accept_mimetypes[JSON]


def _url(endpoint: str, fmt: str | None = None, **values: Any) -> str:
    """Absolute URL of ``endpoint``, keeping the language and naming the format."""
    if "lang" in request.args:
        values.setdefault("lang", request.args["lang"])
    if fmt:
        values["f"] = fmt
    return url_for(endpoint, _external=True, **values)


def _link(rel: str, kind: str, href: str, title: str | None = None) -> dict[str, str]:
    return {"rel": rel, "type": kind, "href": href} | ({"title": title} if title else {})


def _self_links(endpoint: str, json_type: str, html_now: bool, **values: Any) -> list[dict]:
    """``self`` and ``alternate`` links of a resource in its JSON and HTML forms."""
    as_json = {"href": _url(endpoint, "json", **values), "type": json_type}
    as_html = {"href": _url(endpoint, "html", **values), "type": HTML}
    rel_json, rel_html = ("alternate", "self") if html_now else ("self", "alternate")
    return [as_json | {"rel": rel_json}, as_html | {"rel": rel_html}]


def _respond(payload: dict, template: str, json_type: str = JSON, **context: Any) -> Response:
    if _wants_html():
        lang = _lang()
        other = "en" if lang != "en" else "zh-CN"
        args = {k: v for k, v in request.args.items() if k != "lang"}
        switch = url_for(request.endpoint, **(request.view_args or {}), **args, lang=other)
        page = render_template(
            template,
            doc=payload,
            lang=lang,
            switch_href=switch,
            t=lambda key, **v: t(key, lang, **v),
            **context,
        )
        return Response(page, mimetype=HTML)
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, mimetype=json_type, headers={"Access-Control-Allow-Origin": "*"})


def _context(**values: Any) -> LayerContext:
    return LayerContext(engine=read_engine(), user=current_user(), language=_lang(), **values)


@blueprint.errorhandler(OgcError)
def ogc_error(exc: OgcError) -> Response:
    """The OGC exception body of ``exc`` with its status."""
    body = {"code": exc.code, "description": exc.message}
    return Response(json.dumps(body, ensure_ascii=False), status=exc.http_status, mimetype=JSON)


@blueprint.errorhandler(InvalidInput)
def _invalid(exc: InvalidInput) -> Response:
    """A parameter the contract refused (gridmap.ogc.schemas): the OGC exception, 400."""
    return ogc_error(OgcError(exc.message))


@blueprint.errorhandler(LayerError)
def _layer_error(exc: LayerError) -> Response:
    return ogc_error(OgcError(exc.message, 503, hint=exc.hint))


# -- resources -------------------------------------------------------------------------------


def _page(description: str, body: Any, media: str = JSON) -> Reply:
    """A resource's 200: its JSON (or GeoJSON) body, or the same as HTML (f=html)."""
    return Reply(description, body, media=media, alternatives=(HTML,))


@blueprint.get("/")
@allow(Access.SIGNED_IN)
@contract(query=s.CommonQuery, responses={200: _page("The landing page.", s.LandingOut)})
def landing(query: s.CommonQuery) -> Response:
    """Landing page: what the API is and links to its parts."""
    html_now = _wants_html()
    lang = _lang()
    links = [
        *_self_links("ogc.landing", JSON, html_now),
        _link("service-desc", OPENAPI, url_for("openapi.document", _external=True), "OpenAPI"),
        _link("service-doc", HTML, url_for("openapi.docs", _external=True), "API docs"),
        _link("conformance", JSON, _url("ogc.conformance", "json"), t("ogc.conformance", lang)),
        _link("data", JSON, _url("ogc.collections", "json"), t("ogc.collections", lang)),
    ]
    payload = {
        "title": t("ogc.title", lang),
        "description": t("ogc.description", lang),
        "links": links,
    }
    return _respond(payload, "ogc/landing.html")


@blueprint.get("/conformance")
@allow(Access.SIGNED_IN)
@contract(
    query=s.CommonQuery,
    responses={200: _page("The conformance classes.", s.ConformanceOut)},
)
def conformance(query: s.CommonQuery) -> Response:
    """The conformance classes implemented."""
    payload = {
        "conformsTo": CONFORMANCE,
        "links": _self_links("ogc.conformance", JSON, _wants_html()),
    }
    return _respond(payload, "ogc/conformance.html")


def _collection_doc(collection: Collection, html_now: bool) -> dict[str, Any]:
    lang = _lang()
    bbox, interval = collection.extent(_context())
    extent: dict[str, Any] = {"spatial": {"bbox": [bbox or [-180, -90, 180, 90]], "crs": CRS84}}
    if collection.temporal:
        extent["temporal"] = {
            "interval": [interval or [None, None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    title = t(collection.title, lang)
    links = [
        *_self_links("ogc.collection", JSON, html_now, collection_id=collection.id),
        _link("items", GEOJSON, _url("ogc.items", "json", collection_id=collection.id), title),
        _link("items", HTML, _url("ogc.items", "html", collection_id=collection.id), title),
    ]
    return {
        "id": collection.id,
        "title": title,
        "description": t(collection.description, lang),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": links,
    }


@blueprint.get("/collections")
@allow(Access.SIGNED_IN)
@contract(query=s.CommonQuery, responses={200: _page("The collections.", s.CollectionsOut)})
def collections(query: s.CommonQuery) -> Response:
    """Every collection with its extent and links."""
    html_now = _wants_html()
    payload = {
        "links": _self_links("ogc.collections", JSON, html_now),
        "collections": [_collection_doc(c, html_now) for c in registry.collections()],
    }
    return _respond(payload, "ogc/collections.html")


@blueprint.get("/collections/<collection_id>")
@allow(Access.SIGNED_IN)
@contract(query=s.CommonQuery, responses={200: _page("A collection.", s.CollectionOut)})
def collection(collection_id: str, query: s.CommonQuery) -> Response:
    """One collection's metadata."""
    found = get_collection(collection_id)
    return _respond(_collection_doc(found, _wants_html()), "ogc/collection.html")


def _feature(collection: Collection, row: dict[str, Any], geom: Any) -> dict[str, Any]:
    fid = row.pop("ogc_fid")
    for key in collection.hidden:
        row.pop(key, None)
    return {
        "type": "Feature",
        "id": fid,
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
        "properties": row,
    }


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (NaN/NA → None, times → RFC 3339, numpy numbers → Python)."""
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _features(collection: Collection, frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    geoms = shapely.transform(frame.geometry.values, lambda xy: np.round(xy, 7))
    columns = [c for c in frame.columns if c != frame.geometry.name]
    rows = frame[columns].astype(object).to_dict("records")
    return [
        _feature(collection, {k: _plain(v) for k, v in row.items()}, geom)
        for row, geom in zip(rows, geoms, strict=True)
    ]


@blueprint.get("/collections/<collection_id>/items")
@allow(Access.SIGNED_IN)
@contract(
    query=s.ItemsQuery,
    responses={200: _page("A page of features.", s.FeatureCollectionOut, GEOJSON)},
)
def items(collection_id: str, query: s.ItemsQuery) -> Response:
    """A page of features filtered by bbox and datetime, with next/prev links."""
    found = get_collection(collection_id)
    bbox, offset = query.bbox, query.offset
    limit = query.limit or get_settings().ogc_default_limit
    since, until = query.datetime_ if found.temporal and query.datetime_ else (None, None)
    html_now = _wants_html()
    # The datetime filter selects by the case window (case_aggregates is the time-stamped one).
    ctx = _context(bbox=bbox, params=(CaseFilter(since=since, until=until),))
    frame = found.page(ctx, limit, offset)
    matched = found.count(ctx)
    features = _features(found, frame)

    query = {k: v for k, v in request.args.items() if k not in ("f", "offset", "limit")}
    query["limit"] = limit

    def page_link(rel: str, at: int, fmt: str, kind: str) -> dict[str, Any]:
        href = _url("ogc.items", fmt, collection_id=found.id, **query, offset=at)
        return {"rel": rel, "type": kind, "href": href}

    links = [
        page_link("self" if not html_now else "alternate", offset, "json", GEOJSON),
        page_link("alternate" if not html_now else "self", offset, "html", HTML),
        _link("collection", JSON, _url("ogc.collection", "json", collection_id=found.id)),
    ]
    fmt, kind = ("html", HTML) if html_now else ("json", GEOJSON)
    if offset + len(features) < matched:
        links.append(page_link("next", offset + limit, fmt, kind))
    if offset > 0:
        links.append(page_link("prev", max(0, offset - limit), fmt, kind))
    payload = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return _respond(
        payload,
        "ogc/items.html",
        GEOJSON,
        collection=found,
        offset=offset,
        columns=_columns(features),
    )


def _columns(features: list[dict[str, Any]]) -> list[str]:
    return list(features[0]["properties"]) if features else []


@blueprint.get("/collections/<collection_id>/items/<fid>")
@allow(Access.SIGNED_IN)
@contract(query=s.CommonQuery, responses={200: _page("A feature.", s.FeatureOut, GEOJSON)})
def item(collection_id: str, fid: str, query: s.CommonQuery) -> Response:
    """One feature by id (404 when there is none, or it is not the user's to see)."""
    found = get_collection(collection_id)
    frame = found.item(_context(), fid)
    if frame.empty:
        raise OgcError(f"There is no feature {fid!r} in collection {collection_id!r}.", 404)
    feature = _features(found, frame)[0]
    feature["links"] = [
        *_self_links("ogc.item", GEOJSON, _wants_html(), collection_id=found.id, fid=fid),
        _link("collection", JSON, _url("ogc.collection", "json", collection_id=found.id)),
    ]
    return _respond(feature, "ogc/item.html", GEOJSON, collection=found)


@catch_all
@blueprint.route("/<path:rest>", methods=list(OTHER_METHODS))
@allow(Access.SIGNED_IN)
def unknown(rest: str) -> Response:
    """Any other request under ``/ogc``: the OGC exception, 404 (no such resource) or 405
    (the resource exists, for other methods), never the dashboard's page."""
    allowed = other_methods()
    if allowed:
        error = OgcError(f"{request.method} is not allowed here; use {', '.join(allowed)}.", 405)
        response = ogc_error(error)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    raise OgcError(f"There is no resource {request.path!r} in this API.", 404)
