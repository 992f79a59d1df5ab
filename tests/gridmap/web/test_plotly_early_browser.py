"""plotly.js loaded while the page's first callbacks are answered (``assets/plotly-early.js``)
in headless Chromium on the demo city: asked for before the first answer came, run once."""

from __future__ import annotations

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.gridmap.web.conftest import LiveServer
from tests.gridmap.web.test_browser import wait_for

pytestmark = pytest.mark.browser

#: The page's requests for plotly.js and its Dash callbacks: [name, start, end] (page ms).
TIMES_JS = """
return performance.getEntriesByType('resource')
  .filter(e => e.name.includes('plotly-map') || e.name.includes('_dash-update-component'))
  .map(e => [e.name.includes('plotly-map') ? 'plotly' : 'callback', e.startTime, e.responseEnd]);
"""
#: Whether the page's map has drawn its overlays (plotly trace layers in MapLibre).
DRAWN_JS = """
const gd = document.querySelector('.js-plotly-plot');
const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot
  && gd._fullLayout.map._subplot.map;
return !!map && map.getLayersOrder().some(id => id.startsWith('plotly-trace-layer-'));
"""
#: How many times plotly.js ran: its scripts on the page and the registered map modules.
COPIES_JS = """
return [document.querySelectorAll('script[src*="plotly-map"]').length,
        typeof window.Plotly.newPlot, Boolean(window.Plotly.__gridmapPlotlyEarly)];
"""


@pytest.mark.parametrize("path", ["/", "/wall"])
def test_plotly_comes_while_the_first_callbacks_are_answered(
    browser: WebDriver, demo_server: LiveServer, path: str
) -> None:
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})
    demo_server.open(browser, path, role="command")
    wait_for(browser, lambda d: d.execute_script(DRAWN_JS), message="no overlay drawn")
    times = browser.execute_script(TIMES_JS)
    plotly = [t for t in times if t[0] == "plotly"]
    first_answer = min(end for name, _, end in times if name == "callback")
    assert len(plotly) == 1, times
    assert plotly[0][1] < first_answer, times  # asked for before the first answer came
    # one copy of plotly.js, which replaced the stand-in dcc.Graph waited on
    assert browser.execute_script(COPIES_JS) == [1, "function", False]
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
