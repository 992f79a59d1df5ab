"""Page services: what each page shows, read and computed, so that the page modules in
:mod:`gridmap.web.pages` hold only layout and thin callbacks.

- :mod:`.map` — the city map: the view, the overlays drawn for it, the figure;
- :mod:`.live` — live case data for open dashboards: the change probe and the refresh;
- :mod:`.dashboard` — the dashboard's case figures (KPI tiles, ticker, hot grids, the
  wall's heavier tiles) for a :class:`gridmap.cases.filters.CaseFilter`;
- :mod:`.lead` — the grid lead's workspace: the grid hierarchy, attribute and area filters,
  the detail panel's figures and the case table, every read scoped to the signed-in user;
- :mod:`.wall` — the wall screen's fast and slow ticks;
- :mod:`.planning` — planning: coverage figures, what-if, suggestions and their traces.
"""
