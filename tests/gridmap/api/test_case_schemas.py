"""The doors' models and intake's domain check share one set of limits: every bound the
OpenAPI document states is intake's own, and what the model accepts at its edges intake
accepts too (so a documented-valid body is never refused for its shape)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap import bounds
from gridmap.api import case_schemas as s
from gridmap.api import open311_schemas as o
from gridmap.api.contract import Components
from gridmap.cases.intake import MAX_LEN, RANGES, SOURCES, validate_case
from gridmap.cases.taxonomy import get_taxonomy


def properties(model) -> dict:
    components = Components()
    ref = components.input_schema(model)["$ref"].rsplit("/", 1)[1]
    return components.schemas[ref]["properties"]


def test_text_limits_are_intakes() -> None:
    for model in (s.CaseIn, s.ActionIn):
        for name, prop in properties(model).items():
            if name in MAX_LEN and prop.get("type") == "string" and "enum" not in prop:
                assert prop["maxLength"] == MAX_LEN[name], (model.__name__, name)
    assert properties(o.RequestIn)["address_string"]["maxLength"] == MAX_LEN["address"]
    assert properties(o.RequestIn)["description"]["maxLength"] == MAX_LEN["description"]


def test_ranges_and_choices_are_intakes() -> None:
    case = properties(s.CaseIn)
    for name in ("priority", "lon", "lat"):
        assert (case[name]["minimum"], case[name]["maximum"]) == RANGES[name], name
    assert (properties(s.ActionIn)["satisfaction"]["maximum"]) == RANGES["satisfaction"][1]
    open311 = properties(o.RequestIn)
    assert (open311["long"]["minimum"], open311["long"]["maximum"]) == RANGES["lon"]
    assert (open311["lat"]["minimum"], open311["lat"]["maximum"]) == RANGES["lat"]
    assert case["source"]["enum"] == list(SOURCES)
    tax = get_taxonomy()
    assert set(tax.by_slug) <= set(case["category"]["enum"])
    assert {c.zh for c in tax.categories} <= set(case["category"]["enum"])


EDGES = [
    {"title": "x" * MAX_LEN["title"], "description": "y" * MAX_LEN["description"]},
    {"priority": RANGES["priority"][0], "lon": RANGES["lon"][0], "lat": RANGES["lat"][0]},
    {"priority": RANGES["priority"][1], "lon": RANGES["lon"][1], "lat": RANGES["lat"][1]},
    {"reported_at": bounds.EARLIEST.isoformat()},
    {"reported_at": (datetime.now(UTC) + bounds.FUTURE_SLACK - timedelta(seconds=5)).isoformat()},
    {"reported_at": "2024-03-01T10:00:00"},  # naive: the cases' time zone
    {"reporter_phone": "+86 (571) 8888-0000", "reporter_name": "欧" * MAX_LEN["reporter_name"]},
    {"category": "矛盾纠纷", "subcategory": None},
    {"category": None, "subcategory": "noise"},
]


@pytest.mark.parametrize("edge", EDGES)
def test_what_the_model_accepts_intake_accepts(edge: dict) -> None:
    body = {"title": "路灯不亮", "subcategory": "street_light"} | edge
    body = {k: v for k, v in body.items() if v is not None}
    accepted = s.CaseIn.model_validate(body)
    case = validate_case(accepted.model_dump(exclude_none=True), get_taxonomy(), source="walk_in")
    assert case.title == accepted.title


def test_the_documented_examples_are_accepted() -> None:
    example = s.CaseIn.model_json_schema()["example"]
    validate_case(s.CaseIn.model_validate(example).model_dump(), get_taxonomy(), source="walk_in")
    o.RequestIn.model_validate(o.RequestIn.model_json_schema()["example"])
    s.ActionIn.model_validate(s.ActionIn.model_json_schema()["example"])
