"""The wall page's callbacks without a browser: no tile moves under a stale banner."""

from __future__ import annotations

import pytest
from dash import no_update

from gridmap.web.pages import wall as wall_page
from gridmap.web.services.live import LiveState
from gridmap.web.services.map import MapView


def test_slow_tick_changes_nothing_while_the_banner_says_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The banner reads "data as of …": the patrol tile, the map's coverage and its key stay
    as they were, and nothing is read."""

    def never(*_args, **_kwargs):
        raise AssertionError("read while the banner says the data is stale")

    monkeypatch.setattr(wall_page, "read_engine", never)
    monkeypatch.setattr(wall_page.wall, "slow_tick", never)
    view = MapView.around((120.0, 30.0), 12.0).to_store()
    stale = LiveState(stale=True).to_store()
    assert wall_page.slow_update(3, view, "key", "zh-CN", stale) == (no_update,) * 3
    # The browser's own stale notice (the server stopped answering the probe) counts too.
    live = LiveState().to_store()
    shown = "wall-notice stale"
    assert wall_page.slow_update(3, view, "key", "zh-CN", live, shown) == (no_update,) * 3
    with pytest.raises(AssertionError):  # live: the slow tick reads
        wall_page.slow_update(3, view, "key", "zh-CN", LiveState().to_store())
