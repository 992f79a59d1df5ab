"""The case vocabulary and filter: windows in the case time zone, status groups, the
dashboard's choice resolved into a filter, the filter's SQL parameters."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from gridmap.cases.filters import (
    CLOSED_STATUSES,
    FILTER_PARAMS,
    OPEN_STATUSES,
    SOURCES,
    STATUS_BY_LABEL,
    STATUSES,
    CaseChoice,
    CaseFilter,
    expand_statuses,
    status_label,
    time_window,
)
from gridmap.db.engine import get_engine
from gridmap.demo.taxonomy import SOURCE_WEIGHTS
from gridmap.errors import InvalidInput

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("1h", (T0 - timedelta(hours=1), None)),
        ("24h", (T0 - timedelta(hours=24), None)),
        ("7d", (T0 - timedelta(days=7), None)),
        ("30d", (T0 - timedelta(days=30), None)),
    ],
)
def test_relative_windows_start_before_now_and_stay_open(window: str, expected: tuple) -> None:
    assert time_window(window, T0, "Asia/Shanghai") == expected


def test_custom_window_covers_whole_local_days() -> None:
    assert time_window("custom", T0, "Asia/Shanghai", "2026-03-01", "2026-03-09") == (
        datetime(2026, 3, 1, tzinfo=TZ),
        datetime(2026, 3, 10, tzinfo=TZ),
    )
    # swapped ends are put in order; a missing end stays open
    assert time_window("custom", T0, "Asia/Shanghai", "2026-03-09", "2026-03-01")[0] == (
        datetime(2026, 3, 1, tzinfo=TZ)
    )
    assert time_window("custom", T0, "Asia/Shanghai", "2026-03-09", None) == (
        datetime(2026, 3, 9, tzinfo=TZ),
        None,
    )


def test_unknown_window_or_date_is_a_friendly_error() -> None:
    with pytest.raises(InvalidInput, match="Unknown time window '2h'"):
        time_window("2h", T0, "Asia/Shanghai")
    with pytest.raises(InvalidInput, match="not a date"):
        time_window("custom", T0, "Asia/Shanghai", "yesterday")


@pytest.mark.parametrize(
    ("group", "statuses", "expected"),
    [
        (None, None, None),
        ("all", [], None),
        ("open", None, list(OPEN_STATUSES)),
        ("closed", [], list(CLOSED_STATUSES)),
        ("open", ["reported", "closed"], ["reported"]),  # statuses within the group
        (None, ["closed", "bogus"], ["closed"]),
    ],
)
def test_expand_statuses(group: str | None, statuses: list | None, expected: list | None) -> None:
    assert expand_statuses(group, statuses) == expected


def test_the_groups_split_the_statuses() -> None:
    assert sorted(OPEN_STATUSES + CLOSED_STATUSES) == sorted(STATUSES)
    assert not set(OPEN_STATUSES) & set(CLOSED_STATUSES)


def test_the_demo_draws_from_every_source_and_no_other() -> None:
    assert set(SOURCE_WEIGHTS) == set(SOURCES)


def test_a_choice_resolves_into_a_filter() -> None:
    choice = CaseChoice(window="24h", categories=("roads",), group="open", sources=("walk_in",))
    assert choice.resolve(T0) == CaseFilter(
        since=T0 - timedelta(hours=24),
        categories=("roads",),
        statuses=OPEN_STATUSES,
        sources=("walk_in",),
    )
    assert CaseChoice().resolve(T0).statuses is None  # "all": any status


def test_a_stored_choice_drops_unknown_values() -> None:
    stored = {"window": "2y", "group": "bogus", "statuses": ["closed", "x"], "sources": ["y"]}
    assert CaseChoice.from_store(stored) == CaseChoice(statuses=("closed",))
    assert CaseChoice.from_store(CaseChoice(window="7d").to_store()) == CaseChoice(window="7d")


def test_filter_sql_args_are_lists_or_none() -> None:
    assert CaseFilter(statuses=[], categories=("a", "b")).sql_args() == {
        "since": None,
        "until": None,
        "categories": ["a", "b"],
        "statuses": None,
        "sources": None,
    }


def test_status_labels_come_from_i18n_and_old_spellings_still_read() -> None:
    assert [status_label(s, "zh-CN") for s in ("closed", "rejected")] == ["已结案", "不予受理"]
    assert status_label("in_progress", "en") == "In progress"
    assert {STATUS_BY_LABEL[status_label(s, "zh-CN")] for s in STATUSES} == set(STATUSES)
    assert (STATUS_BY_LABEL["已回访结案"], STATUS_BY_LABEL["已驳回"]) == ("closed", "rejected")


T1 = datetime(2026, 3, 11, tzinfo=TZ)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (CaseFilter(), True),
        (CaseFilter(since=T0, until=T1), True),
        (CaseFilter(since=T0 + timedelta(hours=1)), False),
        (CaseFilter(until=T0), False),  # the end is excluded
        (CaseFilter(categories=("sanitation", "traffic"), statuses=("reported",)), True),
        (CaseFilter(statuses=CLOSED_STATUSES), False),
        (CaseFilter(sources=("walk_in",)), False),
    ],
)
def test_the_sql_predicate_means_the_filter(
    world_url: str, flt: CaseFilter, expected: bool
) -> None:
    """gridmap_case_matches on a case reported at T0 (sanitation, reported, hotline)."""
    sql = text(
        "SELECT gridmap_case_matches(:at, 'sanitation', 'reported', 'hotline_12345', "
        f"{FILTER_PARAMS})"
    )
    with get_engine(world_url).connect() as conn:
        assert conn.execute(sql, {"at": T0} | flt.sql_args()).scalar_one() is expected


def test_the_sql_predicate_is_inlined_into_its_readers(world_url: str) -> None:
    """The readers' plans hold the predicates' expressions, not calls (indexes stay usable)."""
    flt = CaseFilter(since=T0, categories=("sanitation",), sources=("walk_in",))
    readers = (
        f"SELECT * FROM gridmap_layer_cases(NULL, NULL, NULL, NULL, {FILTER_PARAMS})",
        f"SELECT * FROM gridmap_case_tiles({FILTER_PARAMS}, now(), now())",
        f"SELECT * FROM gridmap_layer_case_hexes(NULL, NULL, NULL, NULL, {FILTER_PARAMS}, 14)",
        "SELECT * FROM gridmap_cases_select(since => :since, categories => :categories)",
        "SELECT * FROM gridmap_cases_kpis(since => :since)",
        "SELECT * FROM gridmap_ogc_case_days(NULL, NULL, NULL, NULL, :since, :until, 'UTC')",
        "SELECT * FROM gridmap_wall_hot_grids(:since, :since, 5)",
    )
    with get_engine(world_url).connect() as conn:
        for reader in readers:
            plan = "\n".join(
                conn.execute(text("EXPLAIN (VERBOSE) " + reader), flt.sql_args()).scalars()
            )
            for predicate in (
                "gridmap_case_matches",
                "gridmap_case_in_window",
                "gridmap_case_is_open",
            ):
                assert predicate not in plan, reader
            assert "reported_at >=" in plan
