"""The vectorised speed check gives the one-fix-at-a-time outcome (kept, refused with the
same detail, already stored), on random tracks full of jumps, re-sends and late fixes."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.patrols.ingest import PingBatch, _judge_device, _metres, _speed_check

MAX_SPEED = 8.0


def sequential(
    batch: PingBatch, dev: np.ndarray, idx: np.ndarray, stored: list[tuple], max_speed=MAX_SPEED
):
    """Every device judged one fix at a time (the reference)."""
    keep, refused, dups = [], [], 0
    for d in np.unique(dev):
        known = sorted((r[2], r[3], r[4]) for r in stored if r[0] == d)
        k, r, n = _judge_device(batch, known, idx[dev == d], max_speed)
        keep += k
        refused += r
        dups += n
    return sorted(keep), sorted(refused), dups


def random_case(seed: int) -> tuple[PingBatch, np.ndarray, np.ndarray, list[tuple]]:
    """Devices walking ~5 m/s with jumps; some fixes stored already (some at the batch's
    instants), the batch's fixes are the rest, sorted by device and time as _judge hands
    them over."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(1, 41):
        n = int(rng.integers(1, 40))
        at = np.sort(rng.choice(np.arange(0, 1200), size=n, replace=False)) * 1_000_000
        step = rng.normal(0, 5e-5, size=(n, 2))
        jump = rng.random(n) < 0.08
        step[jump] *= rng.choice([20, 200], size=(jump.sum(), 1))
        lonlat = np.array([120.1, 30.2]) + np.cumsum(step, axis=0)
        for t, (x, y) in zip(at, lonlat, strict=True):
            rows.append((d, int(t), float(x), float(y)))
    stored, batch_rows = [], []
    for row in rows:
        u = rng.random()
        if u < 0.25:
            stored.append((row[0], None, row[1], row[2], row[3]))
        elif u < 0.3:  # stored, and re-sent (maybe from elsewhere)
            stored.append((row[0], None, row[1], row[2], row[3]))
            batch_rows.append((row[0], row[1], row[2] + rng.normal(0, 1e-3), row[3]))
        else:
            batch_rows.append(row)
    batch_rows.sort()
    batch = PingBatch(
        np.array([f"D{r[0]:03d}" for r in batch_rows], dtype=object),
        np.array([r[1] for r in batch_rows], dtype=np.int64),
        np.array([r[2] for r in batch_rows]),
        np.array([r[3] for r in batch_rows]),
        np.full(len(batch_rows), 5.0),
    )
    dev = np.array([r[0] for r in batch_rows], dtype=np.int64)
    return batch, dev, np.arange(len(batch_rows)), stored


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_check_equals_one_at_a_time(seed: int) -> None:
    batch, dev, idx, stored = random_case(seed)
    keep, refused, dups = _speed_check(batch, dev, idx, stored, MAX_SPEED)
    want_keep, want_refused, want_dups = sequential(batch, dev, idx, stored)
    assert want_refused, "the case should hold speed jumps"
    assert (keep.tolist(), sorted(refused), dups) == (want_keep, want_refused, want_dups)


def test_a_fix_right_at_the_limit_is_judged_exactly() -> None:
    """Near the limit the vectorised pass defers to the exact one: a fix moving exactly
    the limit's speed is kept, a hair faster is refused."""
    lon = np.array([120.0, 120.0009])
    lat = np.array([30.0, 30.0])
    speed = _metres(lon[0], lat[0], lon[1], lat[1]) / 10
    batch = PingBatch(
        np.array(["A", "A"], dtype=object),
        np.array([0, 10_000_000], dtype=np.int64),
        lon,
        lat,
        np.full(2, 5.0),
    )
    dev, idx = np.ones(2, np.int64), np.arange(2)
    for limit, kept in ((speed, [0, 1]), (speed * (1 - 1e-12), [0]), (speed * 1.001, [0, 1])):
        got = _speed_check(batch, dev, idx, [], limit)
        assert got[0].tolist() == kept
        assert (got[0].tolist(), sorted(got[1]), got[2]) == sequential(batch, dev, idx, [], limit)


def test_no_stored_fixes_and_no_jumps_keeps_everything() -> None:
    n = 50
    batch = PingBatch(
        np.array(["A"] * n, dtype=object),
        np.arange(n, dtype=np.int64) * 10_000_000,
        120 + np.arange(n) * 1e-4,
        np.full(n, 30.0),
        np.full(n, 5.0),
    )
    keep, refused, dups = _speed_check(batch, np.ones(n, np.int64), np.arange(n), [], 8.0)
    assert (keep.tolist(), refused, dups) == (list(range(n)), [], 0)
