"""Progress of the derived analyses on the terminal: one tqdm bar per step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from gridmap.derived import Progress

#: Each step's bar label and unit.
_BARS: dict[str, tuple[str, str]] = {
    "patrol_static": ("street pieces", "step"),
    "patrol_visits": ("matching pings", "ping"),
    "coverage": ("coverage", "kind"),
    "isochrones": ("isochrones", "point"),
}


@contextmanager
def step_bars() -> Iterator[Progress]:
    """A :data:`gridmap.derived.Progress` drawing one bar per step (closed on exit)."""
    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int) -> None:
        bar = bars.get(step)
        if bar is None:
            for other in bars.values():
                other.close()
            desc, unit = _BARS[step]
            bar = bars[step] = tqdm(total=total, desc=desc, unit=unit)
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
