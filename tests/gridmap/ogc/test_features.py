"""OGC API – Features Part 1 core over real HTTP on the demo city: landing page, conformance,
collections, items with bbox/limit/offset/datetime, single items, errors, HTML, and GDAL."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import shapely
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.ogc.collections import collections
from gridmap.ogc.views import CONFORMANCE
from gridmap.settings import get_settings
from layers import get_layer
from layers.base import LayerContext
from tests.gridmap.ogc.live import Live

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: A box over the south-west part of the demo city.
BOX = (118.76, 32.02, 118.78, 32.04)
#: Collections read through a map layer's reader: (collection, layer, id column).
LAYERED = [
    ("grids", "grids", "id"),
    ("buildings", "buildings", "id"),
    ("cameras", "cameras", "id"),
    ("service_points", "service_points", "id"),
]


def rels(doc: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for link in doc["links"]:
        out.setdefault(link["rel"], []).append(link)
    return out


def local(url: str, live: Live) -> str:
    """A link's path and query on the live server (links are absolute)."""
    assert url.startswith(live.url), url
    return url[len(live.url) :]


def walk(live: Live, path: str) -> tuple[list, int, int]:
    """Follow ``next`` links from ``path``: all feature ids, numberMatched, pages."""
    ids: list = []
    matched = None
    pages = 0
    while path:
        response = live.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/geo+json")
        doc = response.json()
        pages += 1
        if matched is None:
            matched = doc["numberMatched"]
        assert doc["numberMatched"] == matched
        assert doc["numberReturned"] == len(doc["features"])
        ids += [f["id"] for f in doc["features"]]
        links = rels(doc)
        assert {"self", "alternate", "collection"} <= set(links)
        if pages > 1:
            assert "prev" in links
        path = local(links["next"][0]["href"], live) if "next" in links else ""
    return ids, matched or 0, pages


def test_landing_page_links_resolve(live: Live) -> None:
    response = live.get("/ogc/")
    assert response.status_code == 200
    doc = response.json()
    assert doc["title"].startswith("gridmap")
    links = rels(doc)
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert links["service-desc"][0]["type"].startswith("application/vnd.oai.openapi+json")
    for rel in ("self", "alternate", "service-desc", "service-doc", "conformance", "data"):
        assert live.get(local(links[rel][0]["href"], live)).status_code == 200, rel


def test_conformance_classes(live: Live) -> None:
    doc = live.get("/ogc/conformance").json()
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert doc["conformsTo"] == CONFORMANCE
    assert {base + c for c in ("core", "geojson", "html", "oas30")} == set(doc["conformsTo"])


def test_collections_metadata(live: Live, ogc_url: str) -> None:
    doc = live.get("/ogc/collections").json()
    assert [c["id"] for c in doc["collections"]] == [c.id for c in collections()]
    assert {"self", "alternate"} <= set(rels(doc))
    with get_engine(ogc_url).connect() as conn:
        grid_box = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom)::geometry e FROM grids) x"
            )
        ).one()
    for c in doc["collections"]:
        assert c["itemType"] == "feature"
        assert c["crs"] == [CRS84]
        assert c["extent"]["spatial"]["crs"] == CRS84
        (bbox,) = c["extent"]["spatial"]["bbox"]
        assert len(bbox) == 4 and bbox[0] < bbox[2] and bbox[1] < bbox[3], c["id"]
        links = rels(c)
        assert {"self", "alternate", "items"} <= set(links)
        assert {link["type"] for link in links["items"]} == {"application/geo+json", "text/html"}
        single = live.get(f"/ogc/collections/{c['id']}").json()
        assert single["id"] == c["id"] and single["extent"] == c["extent"]
    grids = next(c for c in doc["collections"] if c["id"] == "grids")
    assert grids["extent"]["spatial"]["bbox"][0] == pytest.approx(list(grid_box), abs=1e-6)
    cases = next(c for c in doc["collections"] if c["id"] == "case_aggregates")
    start, end = cases["extent"]["temporal"]["interval"][0]
    assert start < end
    assert "temporal" not in grids["extent"]


@pytest.mark.parametrize(("collection", "layer_id", "id_column"), LAYERED)
def test_paging_walk_matches_the_layer_export(
    live: Live, ogc_url: str, collection: str, layer_id: str, id_column: str
) -> None:
    limit = 700 if collection == "buildings" else 37
    ids, matched, pages = walk(live, f"/ogc/collections/{collection}/items?limit={limit}")
    exported = get_layer(layer_id).export(LayerContext(get_engine(ogc_url)))
    assert matched == len(exported) > 0
    assert len(ids) == matched == len(set(ids))  # every feature once
    assert sorted(ids) == sorted(int(i) for i in exported[id_column])
    assert pages == -(-matched // limit)


def test_isochrones_and_case_aggregates_walk(live: Live, ogc_url: str) -> None:
    with get_engine(ogc_url).connect() as conn:
        isochrones = conn.execute(text("SELECT count(*) FROM service_isochrones")).scalar()
        grid_days = conn.execute(
            text(
                "SELECT count(DISTINCT (grid_id, (reported_at AT TIME ZONE :tz)::date)) "
                "FROM cases WHERE grid_id IS NOT NULL AND geom IS NOT NULL"
            ),
            {"tz": get_settings().cases_timezone},
        ).scalar()
    ids, matched, _ = walk(live, "/ogc/collections/isochrones/items?limit=50")
    assert len(ids) == len(set(ids)) == matched == isochrones == 120
    ids, matched, _ = walk(live, "/ogc/collections/case_aggregates/items?limit=5000")
    assert len(ids) == len(set(ids)) == matched == grid_days


@pytest.mark.parametrize(("collection", "layer_id", "id_column"), LAYERED)
def test_bbox_selects_what_the_layer_selects(
    live: Live, ogc_url: str, collection: str, layer_id: str, id_column: str
) -> None:
    bbox = ",".join(map(str, BOX))
    ids, matched, _ = walk(live, f"/ogc/collections/{collection}/items?bbox={bbox}&limit=1000")
    exported = get_layer(layer_id).export(LayerContext(get_engine(ogc_url), bbox=BOX))
    assert sorted(ids) == sorted(int(i) for i in exported[id_column])
    doc = live.get(f"/ogc/collections/{collection}/items?bbox={bbox}&limit=1000").json()
    # PostGIS `&&` compares float4 boxes: a point up to ~1e-5 degrees outside may match.
    box = shapely.box(*BOX).buffer(1e-5)
    for feature in doc["features"]:
        assert shapely.geometry.shape(feature["geometry"]).intersects(box)
    everywhere = live.get(f"/ogc/collections/{collection}/items?limit=1").json()
    assert 0 < matched < everywhere["numberMatched"] or collection == "service_points"


def test_bbox_3d_form_and_crs(live: Live) -> None:
    flat = live.get("/ogc/collections/buildings/items?bbox=118.76,32.02,118.78,32.04").json()
    deep = live.get("/ogc/collections/buildings/items?bbox=118.76,32.02,-5,118.78,32.04,50")
    assert deep.json()["numberMatched"] == flat["numberMatched"]
    crs = live.get(
        f"/ogc/collections/buildings/items?bbox=118.76,32.02,118.78,32.04&bbox-crs={CRS84}"
    )
    assert crs.json()["numberMatched"] == flat["numberMatched"]


def test_limit_default_max_and_links(live: Live) -> None:
    settings = get_settings()
    doc = live.get("/ogc/collections/buildings/items").json()
    assert doc["numberReturned"] == settings.ogc_default_limit
    links = rels(doc)
    assert "prev" not in links
    query = parse_qs(urlsplit(links["next"][0]["href"]).query)
    assert query["offset"] == [str(settings.ogc_default_limit)]
    # A limit above the largest is cut to it, not refused.
    big = live.get("/ogc/collections/buildings/items?limit=99999999").json()
    assert big["numberReturned"] == min(big["numberMatched"], settings.ogc_max_limit)
    self_query = parse_qs(urlsplit(rels(big)["self"][0]["href"]).query)
    assert self_query["limit"] == [str(settings.ogc_max_limit)]
    # The last page has a prev link and no next; past the end: empty page, still counted.
    last = live.get(f"/ogc/collections/grids/items?limit=50&offset={131 - 1}").json()
    assert last["numberReturned"] == 1 and "next" not in rels(last) and "prev" in rels(last)
    past = live.get("/ogc/collections/grids/items?offset=100000").json()
    assert past["features"] == [] and past["numberMatched"] == 131


def case_days(url: str, since: datetime | None, until: datetime | None) -> dict[str, int]:
    """Expected feature id → cases, counted straight from the cases table."""
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT grid_id || '-' || to_char((reported_at AT TIME ZONE :tz)::date, "
                "'YYYY-MM-DD'), count(*) FROM cases "
                "WHERE grid_id IS NOT NULL AND geom IS NOT NULL "
                "AND (CAST(:since AS timestamptz) IS NULL OR reported_at >= :since) "
                "AND (CAST(:until AS timestamptz) IS NULL OR reported_at < :until) GROUP BY 1"
            ),
            {"tz": get_settings().cases_timezone, "since": since, "until": until},
        ).all()
    return dict(rows)


def test_datetime_filter(live: Live, ogc_url: str) -> None:
    with get_engine(ogc_url).connect() as conn:
        earliest, latest = conn.execute(
            text("SELECT min(reported_at), max(reported_at) FROM cases")
        ).one()
    start = (latest - timedelta(days=10)).replace(microsecond=0)
    end = (latest - timedelta(days=3)).replace(microsecond=0)
    s, e = start.isoformat(), end.isoformat()

    def fetch(value: str) -> dict[str, int]:
        doc = live.get(
            "/ogc/collections/case_aggregates/items", params={"datetime": value, "limit": 10000}
        ).json()
        assert doc["numberMatched"] == len(doc["features"])
        return {f["id"]: f["properties"]["cases"] for f in doc["features"]}

    closed = fetch(f"{s}/{e}")
    assert closed == case_days(ogc_url, start, end + timedelta(microseconds=1))
    assert 0 < len(closed) < len(case_days(ogc_url, None, None))
    assert fetch(f"{s}/..") == case_days(ogc_url, start, None)
    early = (earliest + timedelta(days=5)).replace(microsecond=0)
    assert fetch(f"../{early.isoformat()}") == case_days(
        ogc_url, None, early + timedelta(microseconds=1)
    )
    assert fetch(latest.isoformat()) == case_days(
        ogc_url, latest, latest + timedelta(microseconds=1)
    )
    # A bare date is that whole local day.
    day = (latest - timedelta(days=1)).date().isoformat()
    got = fetch(day)
    assert got and all(fid.endswith(day) for fid in got)


def test_single_item(live: Live) -> None:
    response = live.get("/ogc/collections/grids/items/7")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/geo+json")
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == 7
    assert feature["properties"]["id"] == 7
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert {"self", "alternate", "collection"} <= set(rels(feature))
    iso = live.get("/ogc/collections/isochrones/items/1-15").json()
    assert iso["id"] == "1-15" and iso["properties"]["minutes"] == 15


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/nothing",
        "/ogc/collections/nothing/items",
        "/ogc/collections/grids/items/999999",
        "/ogc/collections/grids/items/abc",
        "/ogc/collections/isochrones/items/1-99",
        "/ogc/collections/grids/items/%C2%B2",
        "/ogc/nothing",
        "/ogc/collections/grids/items/1/more",
    ],
)
def test_unknown_is_404(live: Live, path: str) -> None:
    response = live.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NotFound" and body["description"]


def test_wrong_method_is_405_with_allow(live: Live) -> None:
    response = live.session.post(live.url + "/ogc/collections", timeout=60)
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert response.json() == {
        "code": "InvalidRequest",
        "description": "POST is not allowed here; use GET, HEAD.",
    }


def test_huge_limit_is_cut_to_the_largest(live: Live) -> None:
    doc = live.get("/ogc/collections/grids/items?limit=" + "9" * 5000).json()
    assert (doc["numberReturned"], doc["numberMatched"]) == (131, 131)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("bbox=1,2,3", "bbox: must have 4–6 items (got 3)"),
        ("bbox=1,2,3,4,5", "bbox: must be 4 (or 6) comma-separated numbers"),
        ("bbox=a,b,c,d", "bbox: must be a number (got 'a')"),
        ("bbox=118.8,32.0,118.7,32.1", "antimeridian"),
        ("bbox=118.7,32.1,118.8,32.0", "southern edge"),
        ("bbox=118.7,95,118.8,96", "outside"),
        ("bbox=1,2,3,4&bbox-crs=EPSG:4326", "bbox-crs"),
        ("limit=0", "limit: must be greater than or equal to 1 (got '0')"),
        ("limit=-5", "limit: must be greater than or equal to 1 (got '-5')"),
        ("limit=ten", "limit: must be an integer (got 'ten')"),
        ("offset=-1", "offset: must be between 0 and 1000000000 (got '-1')"),
        ("datetime=yesterday", "not an RFC 3339"),
        ("datetime=2026-01-02/2026-01-01", "ends before it starts"),
        ("datetime=../..", "not an instant"),
        ("colour=red", "colour: is not a known parameter (known: f, lang, bbox, bbox-crs,"),
        ("f=xml", "f: must be one of json or html (got 'xml')"),
        ("limit=%C2%B2", "limit: must be an integer (got '²')"),
        ("offset=99999999999999999999", "offset: must be between 0 and 1000000000"),
        ("offset=%D9%A3", "offset: must be an integer"),
        ("datetime=9999-12-31", "must lie between 2000-01-01 and 2100-01-01"),
        ("datetime=0001-01-01T00:00:00%2B14:00/..", "must lie between 2000-01-01"),
    ],
)
def test_bad_parameters_are_400(live: Live, query: str, says: str) -> None:
    response = live.get(f"/ogc/collections/case_aggregates/items?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert says in body["description"]


def test_html_views(live: Live) -> None:
    page = live.get("/ogc/collections/grids/items?limit=5", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "网格" in page.text and "下一页" in page.text and 'rel="next"' in page.text
    english = live.get("/ogc/collections/grids/items?limit=5&f=html&lang=en")
    assert "Next page" in english.text and "Features 1–5 of 131" in english.text
    for path in (
        "/ogc/?f=html",
        "/ogc/conformance?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/buildings?f=html",
        "/ogc/collections/grids/items/7?f=html",
    ):
        response = live.get(path)
        assert response.status_code == 200 and "<html" in response.text, path
    assert "楼栋" in live.get("/ogc/collections?f=html").text
    # JSON stays the default for clients that accept anything.
    assert live.get("/ogc/", headers={"Accept": "*/*"}).headers["Content-Type"] == (
        "application/json"
    )


def ogrinfo(*args: str) -> str:
    done = subprocess.run(
        ["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


@pytest.mark.parametrize(("collection", "count"), [("grids", 131), ("isochrones", 120)])
def test_ogrinfo_reads_the_api(live: Live, ogc_url: str, collection: str, count: int) -> None:
    listing = ogrinfo(f"OAPIF:{live.url}/ogc")
    assert all(f": {c.id} " in listing for c in collections()), listing
    summary = ogrinfo(f"OAPIF:{live.url}/ogc", "-so", collection)
    assert f"Feature Count: {count}" in summary
    # Reading every feature (GDAL follows the next links) gives the same count.
    features = ogrinfo(f"OAPIF:{live.url}/ogc", "-q", "-al", collection)
    assert features.count("OGRFeature(") == count


def test_ogrinfo_counts_buildings(live: Live, ogc_url: str) -> None:
    with get_engine(ogc_url).connect() as conn:
        buildings = conn.execute(text("SELECT count(*) FROM buildings")).scalar()
    summary = ogrinfo(f"OAPIF:{live.url}/ogc", "-so", "buildings")
    assert f"Feature Count: {buildings}" in summary
