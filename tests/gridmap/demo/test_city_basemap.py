"""The demo city's basemap stage: a river outside the town, named parks on the empty blocks,
a lake in the biggest park (no database here)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
import shapely

from gridmap.demo.city import TZ, generate_city

ANCHOR = datetime(2026, 3, 15, tzinfo=TZ)


@pytest.fixture(scope="module")
def city() -> dict[str, pd.DataFrame]:
    return generate_city("small", seed=7, anchor=ANCHOR)


def test_water_and_parks(city: dict[str, pd.DataFrame]) -> None:
    f = city["basemap_features"]
    assert list(f.columns) == ["id", "kind", "class", "name", "source", "geom"]
    assert f["id"].tolist() == list(range(1, len(f) + 1))
    assert set(f["source"]) == {"demo"}
    assert all(shapely.is_valid(f["geom"])) and set(f["geom"].map(lambda g: g.geom_type)) == {
        "Polygon"
    }
    kinds = f.groupby(["kind", "class"]).size().to_dict()
    assert kinds == {("park", "park"): 42, ("park", "riverside"): 1, ("water", "lake"): 1,
                     ("water", "river"): 1}  # fmt: skip
    assert f["name"].is_unique and f["name"].notna().all()
    grids = shapely.union_all(city["grids"]["geom"].to_numpy())
    river = f.loc[f["class"] == "river", "geom"].item()
    bank = f.loc[f["class"] == "riverside", "geom"].item()
    assert f.loc[f["class"] == "river", "name"].item() == "月牙河"
    # The river runs outside the town (touching at most its edge), its bank beside it.
    assert river.intersection(grids).area < 1e-9
    assert bank.intersection(river).area < 1e-9 and bank.distance(river) < 1e-6
    # The parks are the blocks with no building; the lake lies inside the biggest park.
    parks = f[f["class"] == "park"]
    points = shapely.points(city["buildings"][["lon", "lat"]].to_numpy())
    assert not shapely.union_all(parks["geom"].to_numpy()).intersects(shapely.multipoints(points))
    biggest = parks.loc[parks["geom"].map(lambda g: g.area).idxmax(), "geom"]
    lake = f.loc[f["class"] == "lake", "geom"].item()
    assert biggest.contains(lake) and 0.2 < lake.area / biggest.area < 0.8
    assert all(n.endswith(("公园", "绿地", "游园", "广场")) for n in parks["name"])
