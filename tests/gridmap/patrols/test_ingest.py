"""Ping ingest: idempotency, out-of-order batches, refused fixes with their reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from gridmap.db.copy import copy_arrays
from gridmap.errors import InvalidInput
from gridmap.patrols.ingest import _judge, _store, ingest_pings, parse_pings, to_us
from gridmap.settings import get_settings
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

NOW = T0 + timedelta(hours=1)


def state(engine: Engine) -> dict[str, list]:
    queries = {
        "pings": "SELECT device_id, at, accuracy_m, ST_AsText(geom) FROM gps_pings ORDER BY 1, 2",
        "rejected": "SELECT device_id, at, reason, detail, received_at FROM gps_pings_rejected "
        "ORDER BY 1, 2",
        "visits": "SELECT * FROM edge_visits ORDER BY 1, 2",
        "last": "SELECT * FROM edge_last_visit ORDER BY 1",
    }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(text(q))] for k, q in queries.items()}


def send(engine: Engine, pings: list[dict]) -> dict:
    return ingest_pings(engine, parse_pings({"pings": pings}), now=NOW).as_dict()


def test_same_batch_twice_changes_nothing(world: Engine) -> None:
    pings = [*walk(), walk(start=120.05, n=1, t0=T0 + timedelta(seconds=105))[0]]
    first = send(world, pings)
    assert (first["accepted"], first["duplicates"], first["rejected_count"]) == (11, 0, 1)
    assert first["edges_touched"] == 2
    before = state(world)
    assert len(before["pings"]) == 11 and len(before["rejected"]) == 1
    assert [(r[0], r[1]) for r in before["visits"]] == [
        (1, T0),
        (2, T0),
    ]
    second = send(world, pings)
    assert (second["accepted"], second["duplicates"], second["rejected_count"]) == (0, 12, 0)
    assert state(world) == before


def test_duplicates_inside_one_batch(world: Engine) -> None:
    pings = walk(n=3)
    result = send(world, pings + pings[:2])
    assert (result["received"], result["accepted"], result["duplicates"]) == (5, 3, 2)


def test_out_of_order_batches_give_the_same_state(world: Engine) -> None:
    pings = walk(n=40, step=0.0002)  # 400 s along edges 1-4
    send(world, pings[20:][::-1])
    send(world, pings[:20][::-1])
    shuffled = state(world)
    with world.begin() as conn:
        conn.execute(text("TRUNCATE gps_pings, edge_visits, edge_last_visit"))
    result = send(world, pings)
    assert result["accepted"] == 40 and result["rejected_count"] == 0
    assert state(world) == shuffled
    visits = {(r[0], r[1]): (r[2], r[3]) for r in shuffled["visits"]}
    # edge 1 holds pings 0..12 (lon 120.0005 .. 120.0029 is past 120.0025 from ping 10)
    assert visits[(1, T0)] == (T0, T0 + timedelta(seconds=90))
    assert sorted({k[0] for k in visits}) == [1, 2, 3, 4]


def test_a_late_ping_between_stored_ones_is_judged_against_both(world: Engine) -> None:
    pings = walk(n=5)
    send(world, [pings[0], pings[1], pings[3], pings[4]])
    glitch = dict(pings[2], lon=120.02)  # ~1.4 km off, 10 s after and before stored fixes
    result = send(world, [glitch, pings[2]])  # same instant: the first one wins
    assert result["accepted"] == 0 and result["duplicates"] == 1
    assert result["rejected"][0]["reason"] == "speed"
    assert result["rejected"][0]["index"] == 0
    assert result["rejected"][0]["detail"] == (
        "183.9 m/s from the fix at 2026-11-20T08:00:10+00:00 (max 8 m/s)"
    )


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        ({"accuracy_m": 51.0}, "accuracy", "accuracy 51 m is worse than 50 m"),
        ({"lon": 181.0}, "coordinates", "lon/lat outside -180..180 / -90..90"),
        (
            {"at": (NOW + timedelta(minutes=6)).isoformat()},
            "future",
            "dated after the server's clock",
        ),
    ],
)
def test_bad_fixes_are_kept_with_their_reason(
    world: Engine, change: dict, reason: str, detail: str
) -> None:
    ping = walk(n=1)[0] | change
    result = send(world, [ping])
    assert result["accepted"] == 0
    assert [(r["index"], r["reason"], r["detail"]) for r in result["rejected"]] == [
        (0, reason, detail)
    ]
    with world.connect() as conn:
        rows = conn.execute(text("SELECT reason, detail FROM gps_pings_rejected")).all()
    assert [tuple(r) for r in rows] == [(reason, detail)]


def test_accuracy_at_the_limit_is_accepted(world: Engine) -> None:
    assert send(world, [walk(n=1)[0] | {"accuracy_m": 50.0}])["accepted"] == 1


def test_speed_jump_is_refused_with_the_speed(world: Engine) -> None:
    pings = walk(n=3)
    pings[1] = pings[1] | {"lon": 120.0105}  # ~960 m in 10 s
    result = send(world, pings)
    assert result["accepted"] == 2
    (bad,) = result["rejected"]
    assert bad["index"] == 1 and bad["reason"] == "speed"
    assert bad["detail"] == ("96.3 m/s from the fix at 2026-11-20T08:00:00+00:00 (max 8 m/s)")


def test_malformed_batches_name_every_problem() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_pings({"pings": [{"device_id": "", "at": "yesterday", "lon": "x", "lat": 1}]})
    fields = [p.field for p in err.value.problems]
    assert fields == ["pings[0].device_id", "pings[0].at", "pings[0].lon"]
    with pytest.raises(InvalidInput):
        parse_pings({"pings": []})


def test_incremental_visits_equal_a_full_rebuild(world: Engine) -> None:
    from gridmap.patrols.matching import matcher_for
    from gridmap.patrols.visits import rebuild_visits

    pings = walk(n=60, step=0.0003) + walk(device="D2", start=120.011, n=30, step=0.0003)
    for chunk in (pings[50:], pings[:20], pings[20:50]):  # three batches, out of order
        send(world, chunk)
    incremental = state(world)
    raw = world.raw_connection()
    try:
        stats = rebuild_visits(raw, matcher_for(world), max_accuracy_m=50.0, match_m=25.0)
        raw.commit()
    finally:
        raw.close()
    assert stats["pings"] == 90
    assert state(world) == incremental


def test_rebuild_keeps_the_visits_of_pings_gone_by_retention(world: Engine) -> None:
    """Retention drops old raw pings (gridmap db partitions); a rebuild then recomputes the
    buckets from the oldest stored ping on and keeps the older ones."""
    from gridmap.patrols.matching import matcher_for
    from gridmap.patrols.visits import rebuild_visits

    send(world, walk(n=20, step=0.0003, t0=T0 - timedelta(days=2)))
    send(world, walk(device="D2", n=20, step=0.0003))
    kept = state(world)
    with world.begin() as conn:  # what retention leaves: the older day's pings are gone
        conn.execute(text("DELETE FROM gps_pings WHERE at < :t"), {"t": T0 - timedelta(days=1)})
    raw = world.raw_connection()
    try:
        stats = rebuild_visits(raw, matcher_for(world), max_accuracy_m=50.0, match_m=25.0)
        raw.commit()
    finally:
        raw.close()
    assert stats["pings"] == 20
    after = state(world)
    assert len(kept["visits"]) > len([v for v in kept["visits"] if v[1] >= T0]) > 0
    assert (after["visits"], after["last"]) == (kept["visits"], kept["last"])


def test_fixes_stored_meanwhile_by_another_batch_are_skipped(world: Engine) -> None:
    """Between the judge and the insert a concurrent batch stores one of the fixes: the
    insert skips it instead of failing, and counts the rest."""
    batch = parse_pings({"pings": walk(n=4)})
    raw = world.raw_connection()
    try:
        with raw.cursor() as cur:
            verdict = _judge(batch, cur, get_settings(), to_us(NOW))
            assert verdict.keep.tolist() == [0, 1, 2, 3]
            cur.execute(
                "INSERT INTO gps_pings (device_id, at, accuracy_m, geom) VALUES "
                "('D1', %s, 5, ST_SetSRID(ST_MakePoint(120.0009, 30.0051), 4326))",
                (T0 + timedelta(seconds=10),),
            )
            copy_arrays(cur, "patrol_keep_stage", {"i": verdict.keep.astype("int32")})
            assert _store(cur) == 3
            cur.execute("SELECT count(*), count(DISTINCT at) FROM gps_pings")
            assert cur.fetchone() == (4, 4)
    finally:
        raw.rollback()
        raw.close()
