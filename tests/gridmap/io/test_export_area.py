"""Exports of one area (issue 15): districts, streets, communities, compounds (小区) or grids
name the part of the city written; every layer keeps exactly the features inside it (by
grid, by compound, else by place), point features carry their compound, and unknown ids
are refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine, text

from gridmap.io.export import ExportError, ExportRequest, export_data, layer_frame, parse_area


@pytest.fixture(scope="module")
def street(demo_engine: Engine) -> tuple[int, list[int]]:
    """The demo street with the most grids, and its grids."""
    with demo_engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT c.street_id, array_agg(g.id ORDER BY g.id) FROM grids g "
                    "JOIN communities c ON c.id = g.community_id GROUP BY c.street_id "
                    "ORDER BY count(*) DESC, c.street_id LIMIT 1"
                )
            ).one()
        )


@pytest.fixture(scope="module")
def compound(demo_engine: Engine) -> tuple[int, str, list[int]]:
    """The demo compound with the most buildings: id, name, its buildings."""
    with demo_engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT k.id, k.name, array_agg(b.id ORDER BY b.id) FROM compounds k "
                    "JOIN buildings b ON b.compound_id = k.id GROUP BY k.id "
                    "ORDER BY count(*) DESC, k.id LIMIT 1"
                )
            ).one()
        )


def _frames(engine: Engine, area: dict, layers: tuple[str, ...]) -> dict:
    ctx = ExportRequest(layers=layers, format="gpkg", area=area).context(engine)
    return {lid: layer_frame(ctx, lid) for lid in layers}


def test_a_street_keeps_its_grids_features_only(demo_engine: Engine, street) -> None:
    street_id, grids = street
    frames = _frames(demo_engine, {"streets": [street_id]}, ("grids", "cases", "cameras"))
    with demo_engine.connect() as conn:
        cases, cameras = (
            conn.execute(
                text(f"SELECT array_agg(id ORDER BY id) FROM {t} WHERE grid_id = ANY(:g)"),
                {"g": grids},
            ).scalar_one()
            for t in ("cases", "cameras")
        )
    assert sorted(frames["grids"]["id"]) == grids  # polygons by where they lie: exact
    assert sorted(frames["cases"]["id"]) == cases
    assert sorted(frames["cameras"]["id"]) == cameras
    # the same area named by its grids (and by its district: a superset) agrees
    by_grids = _frames(demo_engine, {"grids": grids}, ("cases",))["cases"]
    assert sorted(by_grids["id"]) == cases


def test_a_compound_keeps_its_buildings_with_its_name(demo_engine: Engine, compound) -> None:
    compound_id, name, buildings = compound
    frames = _frames(demo_engine, {"compounds": [compound_id]}, ("buildings", "cases"))
    found = frames["buildings"]
    assert sorted(found["id"]) == buildings
    assert set(found["compound_id"]) == {compound_id} and set(found["compound"]) == {name}
    with demo_engine.connect() as conn:
        cases = conn.execute(
            text(
                "SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') FROM cases c, compounds k "
                "WHERE k.id = :k AND ST_Intersects(k.geom, c.geom)"
            ),
            {"k": compound_id},
        ).scalar_one()
    assert sorted(frames["cases"]["id"]) == cases


def test_every_exported_building_names_its_compound(demo_engine: Engine, tmp_path: Path) -> None:
    request = ExportRequest(layers=("buildings",), format="gpkg")
    counts = export_data(demo_engine, request, tmp_path / "b.gpkg")
    written = pyogrio.read_dataframe(tmp_path / "b.gpkg", layer="buildings")
    with demo_engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT b.id, k.name FROM buildings b JOIN compounds k ON k.id = b.compound_id"
                )
            ).all()
        )
    named = written.dropna(subset=["compound"])
    assert counts == {"buildings": len(written)} and len(named) == len(stored) > 0
    assert dict(zip(named["id"], named["compound"], strict=True)) == stored


def test_an_area_export_writes_only_its_features(demo_engine, street, tmp_path: Path) -> None:
    street_id, grids = street
    request = ExportRequest(layers=("cases", "grids"), format="gpkg", area={"streets": [street_id]})
    counts = export_data(demo_engine, request, tmp_path / "s.gpkg")
    cases = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="cases")
    assert counts == {"cases": len(cases), "grids": len(grids)}
    assert set(cases["grid_id"]) <= set(grids) and len(cases) > 0
    assert ExportRequest.from_json(request.to_json()) == request


def test_unknown_area_ids_are_refused_before_writing(demo_engine, tmp_path: Path) -> None:
    request = ExportRequest(
        layers=("grids",), format="csv", area={"streets": [999_999, 1], "compounds": [888_888]}
    )
    with pytest.raises(ExportError) as caught:
        export_data(demo_engine, request, tmp_path / "x.csv")
    assert str(caught.value) == "area: no such street 999999; no such compound 888888."
    assert list(tmp_path.iterdir()) == []


def test_area_text_of_the_command_line() -> None:
    assert parse_area(["street:3", "compound:12,14", "streets:5"]) == {
        "streets": [3, 5],
        "compounds": [12, 14],
    }
    for bad, message in (
        ("ward:3", "Area 'ward:3' is not level:ids"),
        ("street", "Area 'street' is not level:ids"),
        ("grid:a", "Area 'grid:a': ids are whole numbers"),
        ("grid:", "Area 'grid:' names no ids"),
    ):
        with pytest.raises(ExportError, match=message):
            parse_area([bad])


def test_command_line_area(
    demo_url: str, street, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gridmap.io.export_cli import export
    from gridmap.settings import get_settings

    monkeypatch.setattr(get_settings(), "database_url", demo_url)

    street_id, grids = street
    out = tmp_path / "street.csv"
    runner = CliRunner()
    args = ["grids", "-o", str(out), "--quiet", "--area", f"street:{street_id}"]
    done = runner.invoke(export, args)
    assert done.exit_code == 0, done.output
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert sorted(written["id"]) == grids
    bad = runner.invoke(export, [*args[:-1], "street:999999"])
    assert bad.exit_code != 0 and "area: no such street 999999." in bad.output
    assert "Traceback" not in bad.output
