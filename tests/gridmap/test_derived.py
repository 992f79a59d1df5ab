"""One recipe for the derived analyses: the steps run in order, report progress, and skip
what is stored when asked (the worlds of the grid-lead and wall tests are built by it)."""

from __future__ import annotations

import pytest

from gridmap.derived import STEPS, Derived, compute_all, missing_steps
from tests.gridmap.web.services.lead.world import make_lead_city


@pytest.fixture(scope="module")
def lead_url(_created: list[str]) -> str:
    url = make_lead_city("leadcity")  # the grid-lead tests' city (made once per session)
    _created.append(url)
    return url


def test_an_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown derived step\\(s\\): heat"):
        compute_all("postgresql://nowhere/none", steps=("coverage", "heat"))


def test_steps_run_in_order_with_progress(fresh_url: str) -> None:
    assert missing_steps(fresh_url) == STEPS
    calls: list[tuple[str, int, int]] = []
    done = compute_all(
        fresh_url,
        steps=("patrol_visits", "patrol_static"),
        progress=lambda step, n, total: calls.append((step, n, total)),
    )
    assert calls == [("patrol_static", 0, 1), ("patrol_static", 1, 1), ("patrol_visits", 0, 1)]
    assert done.static == {"pieces": 0, "sectors": 0, "seen_pieces": 0}
    assert done.visits is not None and done.visits["pings"] == 0
    assert (done.model, done.isochrones) == (None, None)
    assert set(done.seconds) == {"patrol_static", "patrol_visits"}


def test_missing_only_skips_what_is_stored(lead_url: str) -> None:
    assert missing_steps(lead_url) == ("isochrones",)
    calls: list[tuple[str, int, int]] = []
    done = compute_all(
        lead_url,
        steps=("patrol_static", "patrol_visits", "coverage"),
        missing_only=True,
        progress=lambda step, n, total: calls.append((step, n, total)),
    )
    assert calls == []
    assert done == Derived()
