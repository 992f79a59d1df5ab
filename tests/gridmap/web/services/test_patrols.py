"""The patrols page's service: local clock labels, the replay slider's marks and range,
the replay speed and why the "where patrols are most needed" list is empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap.access import Role
from gridmap.db.engine import get_engine
from gridmap.patrols import coverage
from gridmap.web.services import patrols as service
from tests.conftest import make_test_database
from tests.gridmap.patrols.world import seed_patrol_world

TZ = "Asia/Shanghai"
#: 08:00Z is 16:00 in Shanghai.
START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def fixes(n: int, every_s: int = 10, start: datetime = START) -> list[str]:
    return [(start + timedelta(seconds=every_s * k)).isoformat() for k in range(n)]


@pytest.mark.parametrize(
    ("hours", "label"),
    [(8, "12-06 16:00–24:00"), (2, "12-06 16:00–18:00"), (20, "12-06 16:00–12-07 12:00")],
)
def test_span_label_is_local(hours: int, label: str) -> None:
    assert service.span_label(START, START + timedelta(hours=hours), TZ) == label


def test_shift_label_of_an_open_shift() -> None:
    row = {"device_id": "D1", "team": None, "kind": "grid_patrol", "started_at": START,
           "ended_at": None}  # fmt: skip
    assert service.shift_label(row, TZ) == "D1 · grid_patrol · 12-06 16:00–…"


def test_an_eight_hour_shift_has_hourly_clock_marks() -> None:
    seconds = service.day_seconds(fixes(2881), TZ)
    assert (seconds[0], seconds[-1]) == (16 * 3600, 24 * 3600)
    marks = service.slider_marks(seconds)
    assert list(marks.values()) == [f"{h:02d}:00" for h in range(16, 25)]
    assert list(marks) == [h * 3600 for h in range(16, 25)]


def test_a_short_track_has_minute_marks_and_past_midnight_wraps() -> None:
    late = datetime(2026, 12, 6, 15, 58, 30, tzinfo=UTC)  # 23:58:30 local
    seconds = service.day_seconds(fixes(25, start=late), TZ)
    assert service.slider_marks(seconds) == {86340: "23:59", 86400: "24:00", 86460: "00:01",
                                             86520: "00:02"}  # fmt: skip


def test_index_span_maps_the_slider_range_to_fixes() -> None:
    seconds = service.day_seconds(fixes(10), TZ)
    assert service.index_span(seconds, None) == (0, 9)
    assert service.index_span(seconds, [seconds[2] + 3, seconds[6]]) == (3, 6)
    assert service.index_span(seconds, [seconds[4] + 3, seconds[4] + 3]) == (4, 4)
    assert service.index_span([], [0, 1]) == (0, 0)


def test_replay_length_sets_the_step() -> None:
    eight_hours = 8 * 3600
    # 30 s at 2 ticks a second: 60 ticks of 8 min each
    assert service.replay_step(eight_hours, 30) == 480
    assert service.replay_step(eight_hours, 120) == 120
    assert service.replay_step(230, 15) == 8
    assert service.replay_step(5, 30) == 1


def test_gaps_empty_reason(_created: list[str]) -> None:
    url = make_test_database("patrols_service")
    _created.append(url)
    engine = get_engine(url)
    since, until = START, START + timedelta(hours=8)
    reason = service.gaps_empty_reason
    assert reason(engine, since, until, TZ, "en", Role.ADMIN) == (
        "Patrol coverage has not been computed yet: run gridmap patrols refresh."
    )
    assert reason(engine, since, until, TZ, "zh-CN", Role.GRID_LEAD) == (
        "巡查覆盖尚未计算，暂无法列出需要巡查的网格，请联系系统管理员。"
    )
    seed_patrol_world(url)
    coverage.refresh_static(engine)
    assert reason(engine, since, until, TZ, "zh-CN", Role.ADMIN) == (
        "12-06 16:00–24:00 期间没有上报事件，暂无需要优先巡查的网格。"
    )
