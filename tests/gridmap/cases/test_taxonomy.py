"""The taxonomy file: the shipped one loads; malformed ones fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmap.cases.errors import TaxonomyError
from gridmap.cases.taxonomy import get_taxonomy, load_taxonomy
from gridmap.settings import get_settings


def test_shipped_taxonomy() -> None:
    tax = get_taxonomy()
    assert [(c.slug, c.zh, c.priority, c.sla_hours) for c in tax.categories] == [
        ("disputes", "矛盾纠纷", 2, 72.0),
        ("public_security", "治安隐患", 1, 24.0),
        ("fire_safety", "安全生产与消防", 1, 24.0),
        ("sanitation", "环境卫生", 3, 48.0),
        ("municipal", "市政设施", 3, 72.0),
        ("livelihood", "民生服务", 3, 120.0),
        ("traffic", "交通出行", 3, 48.0),
        ("petitions", "信访诉求", 2, 360.0),
    ]
    assert len(tax.subcategories) == 33
    gas = tax.subcategories["gas_hazard"]
    assert (gas.category, gas.priority, gas.sla_hours, gas.handling_type) == (
        "fire_safety",
        1,
        4.0,
        "transfer",
    )
    assert tax.category("Traffic").slug == tax.category("交通出行").slug == "traffic"
    assert tax.subcategory("邻里纠纷").slug == "neighbour_dispute"
    assert tax.handling_names["reply"] == ("回复解释类", "Reply / explanation")


GOOD = """
version = 1
[handling_types]
reply = { zh = "回复", en = "Reply" }
self_handle = { zh = "自办", en = "Self" }
transfer = { zh = "转办", en = "Transfer" }
[[categories]]
slug = "roads"
zh = "道路"
en = "Roads"
priority = 3
sla_hours = 24
handling_type = "transfer"
subcategories = [{ slug = "pothole", zh = "坑洞", en = "Pothole" }]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("version = 1", "version = 2"), "top level: 'version = 1' is required"),
        (
            ("priority = 3", "priority = 5"),
            "category 'roads': 'priority' must be an integer 1 (urgent) … 4 (low)",
        ),
        (
            ("sla_hours = 24", "sla_hours = -1"),
            "category 'roads': 'sla_hours' must be a number of hours > 0 and ≤ 8784",
        ),
        (
            ('handling_type = "transfer"', 'handling_type = "ignore"'),
            "category 'roads': 'handling_type' must be one of reply, self_handle, transfer",
        ),
        (
            ('slug = "roads"', 'slug = "Roads!"'),
            "category 'Roads!': slug must be lower-case letters, digits and _ (2–48)",
        ),
        (
            ('slug = "pothole"', 'slug = "roads"'),
            "subcategory 'roads': slug is used twice (slugs are unique file-wide)",
        ),
        (('zh = "道路"\n', ""), "category 'roads': 'zh' must be a non-empty string"),
        (
            ('transfer = { zh = "转办", en = "Transfer" }', ""),
            "handling_types: 'transfer' needs zh and en names",
        ),
        (
            ('subcategories = [{ slug = "pothole", zh = "坑洞", en = "Pothole" }]', ""),
            "category 'roads': needs at least one subcategory",
        ),
    ],
)
def test_malformed_taxonomy(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "tax.toml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    assert info.value.message == f"Taxonomy {path}: {message}"


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = = 1", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"bad\.toml: syntax: "):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="does not exist"):
        load_taxonomy(tmp_path / "none.toml")


def test_operator_replaces_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_CASES_TAXONOMY", str(path))
    get_settings.cache_clear()
    try:
        assert [c.slug for c in get_taxonomy().categories] == ["roads"]
    finally:
        get_settings.cache_clear()


def test_check_taxonomy_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gridmap.cases.cli import cases

    ok = CliRunner().invoke(cases, ["check-taxonomy"])
    assert ok.exit_code == 0
    assert ok.output.splitlines()[0] == (
        "disputes         矛盾纠纷 / Disputes: priority 2, 72 h, 5 subcategories"
    )
    assert ok.output.splitlines()[-1].endswith(": 8 categories, 33 types")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 2", encoding="utf-8")
    failed = CliRunner().invoke(cases, ["check-taxonomy", str(bad)])
    assert failed.exit_code == 2
    assert failed.output.startswith(f"error: Taxonomy {bad}: top level: 'version = 1' is required")
