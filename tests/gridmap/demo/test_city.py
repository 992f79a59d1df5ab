"""The demo city generator on its own (no database): determinism and believable content."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.demo.city import SCALES, TABLES, TZ, CityGenerator, default_anchor, generate_city
from gridmap.demo.taxonomy import CASE_TAXONOMY, SOURCE_WEIGHTS

ANCHOR = datetime(2026, 3, 15, tzinfo=TZ)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Geometry columns as WKB bytes, so frames compare exactly."""
    out = frame.copy()
    for col in out.columns:
        if len(out) and isinstance(out[col].iloc[0], shapely.Geometry):
            out[col] = shapely.to_wkb(out[col].to_numpy())
    return out


@pytest.fixture(scope="module")
def city() -> dict[str, pd.DataFrame]:
    return generate_city("small", seed=7, anchor=ANCHOR)


def test_tables_in_load_order(city: dict[str, pd.DataFrame]) -> None:
    assert tuple(city) == TABLES


def test_same_seed_same_city(city: dict[str, pd.DataFrame]) -> None:
    again = generate_city("small", seed=7, anchor=ANCHOR)
    for table in TABLES:
        pd.testing.assert_frame_equal(_comparable(city[table]), _comparable(again[table]))


def test_other_seed_other_city(city: dict[str, pd.DataFrame]) -> None:
    other = generate_city("small", seed=8, anchor=ANCHOR)
    a, b = city["grids"]["geom"], other["grids"]["geom"]
    assert len(a) != len(b) or not all(shapely.equals_exact(a, b, 0))
    assert not city["buildings"][["lon", "lat"]].equals(other["buildings"][["lon", "lat"]])
    assert not city["cases"]["reported_at"].equals(other["cases"]["reported_at"])


def test_anchor_moves_times_not_places(city: dict[str, pd.DataFrame]) -> None:
    later = datetime(2026, 3, 16, tzinfo=TZ)
    frames = dict(CityGenerator("small", 7, later).tables())
    for table in ("grids", "road_edges", "users"):
        a, b = _comparable(frames[table]), _comparable(city[table])
        pd.testing.assert_frame_equal(a.drop(columns="created_at", errors="ignore"),
                                      b.drop(columns="created_at", errors="ignore"))  # fmt: skip
    pd.testing.assert_frame_equal(
        frames["buildings"][["lon", "lat"]], city["buildings"][["lon", "lat"]]
    )
    assert frames["cases"]["reported_at"].max() < pd.Timestamp(later)
    assert frames["cases"]["reported_at"].max() >= pd.Timestamp(ANCHOR)


def test_default_anchor_is_local_midnight() -> None:
    now = datetime(2026, 7, 1, 23, 30, tzinfo=TZ)
    assert default_anchor(now) == datetime(2026, 7, 1, tzinfo=TZ)


def test_small_sizes(city: dict[str, pd.DataFrame]) -> None:
    n = {t: len(f) for t, f in city.items()}
    assert n["districts"] == 2
    assert n["streets"] == 5
    assert n["communities"] == 14
    assert 120 <= n["grids"] <= 140
    assert 4_500 <= n["buildings"] <= 5_500
    assert 250 <= n["cameras"] <= 350
    assert n["service_points"] == 40
    assert n["cases"] == 20_000
    assert n["patrol_shifts"] == 30
    assert n["gps_pings"] == 30 * 8 * 360


def test_chinese_names_and_codes(city: dict[str, pd.DataFrame]) -> None:
    assert city["districts"]["name"].str.endswith("区").all()
    assert city["streets"]["name"].str.endswith("街道").all()
    assert city["communities"]["name"].str.endswith("社区").all()
    assert city["communities"]["name"].is_unique
    grids = city["grids"].merge(
        city["communities"][["id", "name"]], left_on="community_id", right_on="id"
    )
    for gname, cname in zip(grids["name_x"], grids["name_y"], strict=True):
        assert re.fullmatch(re.escape(cname) + r"第\d+网格", gname)
    for table in ("districts", "streets", "communities", "grids", "buildings", "cameras",
                  "service_points", "cases"):  # fmt: skip
        assert city[table]["code"].is_unique, table
    assert city["buildings"]["address"].str.fullmatch(r"\w+(路|街|巷|大道|大街)\d+号").all()
    assert city["users"]["username"].is_unique


def test_grid_codes_nest(city: dict[str, pd.DataFrame]) -> None:
    g = city["grids"].merge(city["communities"], left_on="community_id", right_on="id")
    assert (g.apply(lambda r: r["code_x"].startswith(r["code_y"]), axis=1)).all()


def test_grids_tile_each_community(city: dict[str, pd.DataFrame]) -> None:
    grids, comms = city["grids"], city["communities"]
    for cid, geom in zip(comms["id"], comms["geom"], strict=True):
        parts = grids.loc[grids["community_id"] == cid, "geom"].to_numpy()
        total = shapely.area(parts).sum()
        assert total == pytest.approx(geom.area, rel=1e-12)
        assert shapely.union_all(parts).area == pytest.approx(geom.area, rel=1e-12)


def test_buildings(city: dict[str, pd.DataFrame]) -> None:
    b = city["buildings"]
    assert (b["elderly_alone"] + b["disabled"] + b["low_income"] <= b["population"]).all()
    assert set(b["kind"]) <= {"residential", "commercial", "mixed", "office", "industrial",
                              "school", "hospital", "public"}  # fmt: skip
    assert (b["kind"] == "residential").mean() > 0.6


def test_road_edges(city: dict[str, pd.DataFrame]) -> None:
    e = city["road_edges"]
    assert (e["length_m"] > 30).all()
    assert set(e["kind"]) == {"primary", "secondary", "residential", "alley"}
    assert e["name"].str.fullmatch(r"\w+(路|街|巷|大道|大街)").all()
    # Edges only join neighbouring lattice nodes; both ends of each are other edges' ends too.
    ends = np.r_[e["source"], e["target"]]
    assert np.unique(ends).size < ends.size


def test_cameras(city: dict[str, pd.DataFrame]) -> None:
    c = city["cameras"]
    assert c["heading"].between(0, 360, inclusive="left").all()
    assert c["fov"].between(60, 100).all()
    assert c["range_m"].between(30, 80).all()
    assert (c["status"] == "online").mean() > 0.8
    assert c["name"].str.contains("交叉口|广场").all()


def test_cases(city: dict[str, pd.DataFrame]) -> None:
    c = city["cases"]
    start = pd.Timestamp(ANCHOR) - pd.Timedelta(days=365)
    assert c["reported_at"].between(start, pd.Timestamp(ANCHOR), inclusive="left").all()
    assert c["reported_at"].is_monotonic_increasing
    assert set(c["category"]) == set(CASE_TAXONOMY)
    assert set(c["source"]) <= set(SOURCE_WEIGHTS)
    closed = c["status"] == "closed"
    assert c.loc[closed, "closed_at"].notna().all()
    assert c.loc[~closed, "closed_at"].isna().all()
    assert (c.loc[closed, "closed_at"] >= c.loc[closed, "resolved_at"]).all()
    assert (c["satisfaction"].notna() <= closed).all()
    # Old cases are done; most recent ones are still open.
    old = c["reported_at"] < pd.Timestamp(ANCHOR) - pd.Timedelta(days=60)
    assert c.loc[old, "status"].isin(["closed", "rejected"]).mean() > 0.99
    recent = c["reported_at"] >= pd.Timestamp(ANCHOR) - pd.Timedelta(days=1)
    assert (~c.loc[recent, "status"].isin(["closed", "rejected"])).mean() > 0.5


def test_case_events_follow_status(city: dict[str, pd.DataFrame]) -> None:
    c, ev = city["cases"], city["case_events"]
    last = ev.groupby("case_id").tail(1).set_index("case_id")
    assert (last["to_status"].reindex(c["id"]).to_numpy() == c["status"].to_numpy()).all()
    assert ev.groupby("case_id")["at"].is_monotonic_increasing.all()
    first = ev.groupby("case_id").head(1)
    assert (first["action"] == "report").all() and first["from_status"].isna().all()


def test_pings_follow_each_device(city: dict[str, pd.DataFrame]) -> None:
    p = city["gps_pings"]
    step = p.groupby("device_id")["at"].diff().dropna()
    assert (step == pd.Timedelta(seconds=10)).all()
    shifts = city["patrol_shifts"]
    first = p.groupby("device_id")["at"].min()
    assert (first.reindex(shifts["device_id"]).to_numpy() == shifts["started_at"].to_numpy()).all()
    # Walking pace: mostly under 2 m/s between pings (bad fixes excepted).
    lon, lat = p["lon"].to_numpy(), p["lat"].to_numpy()
    dx = np.diff(lon) * 111_320 * np.cos(np.radians(32.04))
    dy = np.diff(lat) * 110_574
    same = p["device_id"].to_numpy()[1:] == p["device_id"].to_numpy()[:-1]
    speed = np.hypot(dx, dy)[same] / 10
    assert np.median(speed) < 1.6
    assert (speed < 3).mean() > 0.97


def test_demo_draws_from_the_case_taxonomy() -> None:
    """Every category and subcategory the demo uses exists in the case taxonomy file."""
    from gridmap.cases.taxonomy import get_taxonomy

    taxonomy = get_taxonomy()
    assert set(CASE_TAXONOMY) <= set(taxonomy.by_slug)
    for slug, cat in CASE_TAXONOMY.items():
        assert set(cat["subcategories"]) <= {s.slug for s in taxonomy.by_slug[slug].subcategories}


def test_household_register_of_a_few_grids(city: dict[str, pd.DataFrame]) -> None:
    """Households with tags in believable shares, ten-household units of about ten, and 90
    days of visits with gaps (issue 15)."""
    households, units, visits = city["households"], city["ten_household_units"], city["visits"]
    assert 10_000 <= len(households) <= 15_000
    assert (
        households["code"].is_unique
        and households["building_id"].isin(city["buildings"]["id"]).all()
    )
    tags = households["tags"].str.strip("{}").str.split(",").explode()
    share = tags[tags != ""].value_counts() / len(households)
    assert 0.05 <= share["elderly_alone"] <= 0.12
    assert 0.01 <= share["disabled"] <= 0.05
    assert 0.03 <= share["low_income"] <= 0.08
    assert 0.005 <= share["left_behind_child"] <= 0.02
    size = households.groupby("ten_household_unit_id").size()
    assert set(size.index) == set(units["id"]) and 5 <= size.median() <= 15
    span = visits["visited_at"].max() - visits["visited_at"].min()
    assert pd.Timedelta(days=85) <= span <= pd.Timedelta(days=90)
    assert visits["visited_at"].max() < pd.Timestamp(ANCHOR)
    never = ~households["id"].isin(visits["household_id"])
    assert 0.05 <= never.mean() <= 0.25  # gaps: neglected households and quarterly ones
    assert 0.005 <= visits["far_fix"].mean() <= 0.04
    assert (visits.loc[visits["far_fix"], "distance_m"] >= 300).all()
    assert len(city["compounds"]) >= 50 and city["compounds"]["geom"].map(shapely.is_valid).all()


def test_filled_scale_has_compounds_for_every_block_of_homes() -> None:
    """At a scale whose register is filled by SQL after the load (city), the generator
    gives compounds for every block of homes and no households of its own."""
    scale = dataclasses.replace(SCALES["small"], household_grids=0, household_fill=1_000)
    frames = {}
    for name, frame in CityGenerator(scale, 7, default_anchor()).tables():
        frames[name] = frame
        if name == "visits":
            break
    homes = frames["buildings"]["households"] > 0
    assert len(frames["compounds"]) > 900 and homes.sum() > 3_000
    assert [len(frames[t]) for t in ("ten_household_units", "households", "visits")] == [0, 0, 0]
