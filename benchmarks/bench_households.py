"""Households at city scale (issue 15): overdue shares for every grid and for one grid, a
worker's day plan of 40 stops, and visit posts per second over HTTP, each beside its
naive peer.

    .venv/bin/python benchmarks/bench_households.py [--households 1200000] [--keep]

Copies the shared city database (``benchmarks/citydb.py``; never changed itself) to
``gridmap_bench_households``, then fills it by SQL (``generate_series``): about 1.2M
households over its homes (tags in the demo's shares: 独居老人 3 %, 残疾 1.2 %, 低保 2 %,
留守儿童 1.2 %, 重点关注 0.6 %), registered 120 days ago, and 90 days of visits at each
household's cadence stretched by its grid's diligence (0.8-1.6), with gaps: 8 % of the
households neglected, 10 % of visits finding nobody at home, 2 % of fixes far away.
Triggers are off during the fill (the households' grid and latest counted visit are
filled by the same SQL) and on again for the measurements.

Peers: shares by the SQL functions vs pandas over all visits (the same numbers, checked);
the day plan (nearest-neighbour + 2-opt + Or-opt, iterated) vs nearest-neighbour only, and the
exact order (Held-Karp, brute force on 8 stops) on subsets; visit posts over
``gridmap serve`` (gunicorn, 2 workers) by one client and by 8. Results go to
``benchmarks/results/households_city.json``; the copy is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402
from gridmap.households import dayplan  # noqa: E402

DB_NAME = "gridmap_bench_households"
TZ = "Asia/Shanghai"
OUT = ROOT / "benchmarks" / "results" / "households_city.json"

FILL_SQL = """
CREATE TEMP TABLE hh AS
WITH homes AS (
    SELECT b.id AS building_id, b.grid_id, b.households AS n
    FROM buildings b WHERE b.households > 0 AND b.grid_id IS NOT NULL
), scale AS (SELECT :target::float8 / sum(n) AS f FROM homes)
SELECT (SELECT coalesce(max(id), 0) FROM households) + row_number() OVER () AS id,
       h.building_id, h.grid_id, k AS door,
       CASE WHEN r < 0.030 THEN ARRAY['elderly_alone']
            WHEN r < 0.042 THEN ARRAY['disabled']
            WHEN r < 0.062 THEN ARRAY['low_income']
            WHEN r < 0.074 THEN ARRAY['left_behind_child']
            WHEN r < 0.080 THEN ARRAY['watch']
            ELSE '{}'::text[] END AS tags
FROM homes h, scale,
     generate_series(1, greatest(1, round(h.n * scale.f)::int)) k,
     LATERAL (SELECT random() + 0 * k AS r) rr;
ALTER TABLE hh ADD COLUMN days int;
UPDATE hh SET days = CASE tags[1] WHEN 'elderly_alone' THEN 7 WHEN 'watch' THEN 14
                                  WHEN 'disabled' THEN 30 WHEN 'low_income' THEN 30
                                  WHEN 'left_behind_child' THEN 30 ELSE 90 END;
CREATE TEMP TABLE diligence AS
    SELECT id AS grid_id, 0.8 + 0.8 * random() AS stretch FROM grids;
CREATE TEMP TABLE vv AS
SELECT hh.id AS household_id, hh.building_id, hh.grid_id,
       (current_date - 90 + (o.first + s * hh.days * d.stretch)::int)::timestamp
           AT TIME ZONE :tz + interval '9 hours' + random() * interval '9 hours' AS visited_at,
       CASE WHEN cardinality(hh.tags) > 0 THEN 'care' ELSE 'routine' END AS kind,
       CASE WHEN random() < 0.10 THEN 'not_home' ELSE 'met' END AS outcome,
       random() < 0.02 AS far_fix
FROM hh JOIN diligence d USING (grid_id)
CROSS JOIN LATERAL (SELECT random() * hh.days * d.stretch AS first) o
CROSS JOIN LATERAL generate_series(0, ceil(90.0 / (hh.days * 0.8))::int) s
WHERE hh.id % 100 >= 8  -- 8 % neglected
  AND o.first + s * hh.days * d.stretch < 90;
ALTER TABLE households DISABLE TRIGGER USER;
ALTER TABLE visits DISABLE TRIGGER USER;
INSERT INTO households (id, code, building_id, grid_id, unit, floor, room, head_name,
                        head_phone, members, tags, registered_on, last_visited_at)
SELECT hh.id, 'BH' || hh.id, hh.building_id, hh.grid_id, '1', (1 + hh.door / 2)::smallint,
       ((1 + hh.door / 2) * 100 + 1 + hh.door % 2)::text, '住户' || hh.id,
       '139' || lpad((hh.id % 100000000)::text, 8, '0'), 1 + (hh.id % 4)::smallint, hh.tags,
       current_date - 120, m.seen
FROM hh LEFT JOIN (SELECT household_id, max(visited_at) AS seen FROM vv
                    WHERE outcome <> 'not_home' AND NOT far_fix GROUP BY 1) m
       ON m.household_id = hh.id;
INSERT INTO visits (household_id, building_id, grid_id, worker_name, visited_at, kind,
                    outcome, far_fix, distance_m)
SELECT household_id, building_id, grid_id, '网格员', visited_at, kind, outcome, far_fix,
       CASE WHEN far_fix THEN 600 ELSE 20 END FROM vv;
ALTER TABLE households ENABLE TRIGGER USER;
ALTER TABLE visits ENABLE TRIGGER USER;
SELECT setval(pg_get_serial_sequence('households', 'id'), (SELECT max(id) FROM households));
"""


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median seconds of ``repeat`` runs (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def fill(url: str, target: int) -> dict:
    t = time.perf_counter()
    raw = get_engine(url).raw_connection()
    try:
        cur = raw.cursor()
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                cur.execute(statement.replace(":target", str(target)).replace(":tz", f"'{TZ}'"))
        raw.commit()
        cur.execute("ANALYZE households")
        cur.execute("ANALYZE visits")
        raw.commit()
        cur.execute(
            "SELECT (SELECT count(*) FROM households), (SELECT count(*) FROM visits), "
            "(SELECT count(DISTINCT grid_id) FROM households), "
            "(SELECT round(avg((cardinality(tags) > 0)::int), 4) FROM households)"
        )
        households, visits, grids, tagged = cur.fetchone()
    finally:
        raw.close()
    return {
        "households": households,
        "visits": visits,
        "grids_with_households": grids,
        "tagged_share": float(tagged),
        "seconds": round(time.perf_counter() - t, 1),
    }


def naive_shares(url: str, as_of: date, grid_id: int | None = None) -> pd.DataFrame:
    """The shares the naive way: every household and visit read into pandas, the cadence
    rule applied there (as sql/functions/households.sql states it)."""
    engine = get_engine(url)
    with engine.connect() as conn:
        hh = pd.read_sql(text("SELECT id, grid_id, tags, registered_on FROM households"), conn)
        visits = pd.read_sql(
            text("SELECT household_id, visited_at, outcome, far_fix FROM visits"), conn
        )
        cad = dict(conn.execute(text("SELECT coalesce(tag, ''), days FROM visit_cadences")).all())
    if grid_id is not None:
        hh = hh[hh["grid_id"] == grid_id]
    every = cad[""]
    hh["days"] = [min([every, *(cad.get(t, every) for t in tags)]) for tags in hh["tags"]]
    local = pd.to_datetime(visits["visited_at"], utc=True).dt.tz_convert(TZ).dt.date
    counted = visits[(visits["outcome"] != "not_home") & ~visits["far_fix"] & (local <= as_of)]
    last = counted.assign(on=local[counted.index]).groupby("household_id")["on"].max()
    hh = hh[hh["registered_on"] <= as_of]
    hh["last_on"] = hh["id"].map(last)
    base = hh["last_on"].where(hh["last_on"].notna(), hh["registered_on"])
    due = pd.to_datetime(base) + pd.to_timedelta(hh["days"], unit="D")
    hh["visited"] = hh["last_on"].notna() & (pd.Timestamp(as_of) <= due)
    hh["overdue"] = pd.Timestamp(as_of) > due
    out = hh.groupby("grid_id").agg(households=("id", "size"), visited=("visited", "sum"),
                                    overdue=("overdue", "sum"))  # fmt: skip
    return out.astype("int64").sort_index()


def bench_shares(url: str) -> dict:
    engine = get_engine(url)
    as_of = datetime.now(UTC).date()

    def all_grids():
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT * FROM gridmap_visit_shares(:d, :tz)"), {"d": as_of, "tz": TZ}
            ).all()

    all_s, rows = timed(all_grids, 3)
    grids = [r[0] for r in rows]
    sample = [grids[i] for i in np.linspace(0, len(grids) - 1, 20).astype(int)]
    one_times = []
    with engine.connect() as conn:
        for g in sample:
            t = time.perf_counter()
            conn.execute(
                text("SELECT * FROM gridmap_visit_shares(:d, :tz, false, ARRAY[:g])"),
                {"d": as_of, "tz": TZ, "g": g},
            ).all()
            one_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    naive = naive_shares(url, as_of)
    naive_all_s = time.perf_counter() - t
    t = time.perf_counter()
    naive_shares(url, as_of, sample[0])
    naive_one_s = time.perf_counter() - t
    columns = ["grid_id", "households", "visited", "overdue"]
    sql = pd.DataFrame([tuple(r[:4]) for r in rows], columns=columns)
    sql = sql.set_index("grid_id").astype("int64")
    visited = int(sql["visited"].sum())
    return {
        "as_of": as_of.isoformat(),
        "grids": len(rows),
        "share_visited_city": round(visited / int(sql["households"].sum()), 4),
        "all_grids_sql_s": round(all_s, 3),
        "one_grid_sql_ms_median": round(statistics.median(one_times) * 1000, 1),
        "one_grid_sql_ms_max": round(max(one_times) * 1000, 1),
        "all_grids_naive_pandas_s": round(naive_all_s, 2),
        "one_grid_naive_pandas_s": round(naive_one_s, 2),
        "naive_equals_sql": bool(naive.equals(sql)),
    }


def bench_day_plan(url: str) -> dict:
    engine = get_engine(url)
    as_of = datetime.now(UTC).date()
    t = time.perf_counter()
    graph = dayplan.walk_graph(url)
    load_s = time.perf_counter() - t
    with engine.connect() as conn:
        grid = conn.execute(
            text("SELECT grid_id FROM gridmap_day_plan_households(:d, :tz, NULL, 200000) "
                 "GROUP BY 1 ORDER BY count(DISTINCT building_id) DESC LIMIT 1"),
            {"d": as_of, "tz": TZ},
        ).scalar_one()  # fmt: skip

    def plan():
        with engine.connect() as conn:
            return dayplan.day_plan(conn, graph, as_of, TZ, [grid], max_stops=40)

    plan_s, result = timed(plan, 5)
    with engine.connect() as conn:
        rows = dayplan.due_households(conn, as_of, TZ, [grid])
    stops = list(dict.fromkeys((r["building_id"], r["lon"], r["lat"]) for r in rows))[:40]
    lonlat = np.array([(s[1], s[2]) for s in stops], float)
    dist_s, legs = timed(lambda: dayplan.stop_distances(graph, lonlat), 5)
    order_s, ordering = timed(lambda: dayplan.order_stops(legs.dist), 5)
    nn_s, nn = timed(lambda: min((dayplan.nearest_neighbour(legs.dist, k) for k in range(len(
        legs.dist))), key=lambda o: dayplan.path_length(o, legs.dist)), 5)  # fmt: skip
    # the heuristic against the exact order on subsets (Held-Karp at 10, brute force at 8)
    rng = np.random.default_rng(15)
    gaps, nn_gaps, brute_s, exact_s = [], [], [], []
    saved = dayplan.EXACT_UP_TO
    for size in (8, 10):
        for _ in range(10):
            pick = rng.choice(len(stops), size=size, replace=False)
            sub = legs.dist[np.ix_(pick, pick)]
            dayplan.EXACT_UP_TO = 0
            heuristic = dayplan.order_stops(sub)
            dayplan.EXACT_UP_TO = saved
            t = time.perf_counter()
            exact = dayplan.order_stops(sub)
            exact_s.append(time.perf_counter() - t)
            if size == 8:
                t = time.perf_counter()
                best = dayplan.path_length(dayplan.brute_force(sub, False), sub)
                brute_s.append(time.perf_counter() - t)
                assert abs(best - exact.length_m) < 1e-6
            gaps.append(heuristic.length_m / exact.length_m - 1)
            nn_gaps.append(exact.nearest_neighbour_m / exact.length_m - 1)
    dayplan.EXACT_UP_TO = saved
    return {
        "grid_id": grid,
        "graph_nodes": graph.n_nodes,
        "graph_load_s_once_per_process": round(load_s, 2),
        "stops": len(result.stops),
        "households": result.households,
        "method": result.method,
        "day_plan_ms_median": round(plan_s * 1000, 1),
        "network_distances_ms": round(dist_s * 1000, 1),
        "ordering_ms": round(order_s * 1000, 1),
        "route_m": round(ordering.length_m, 1),
        "nearest_neighbour_only_ms": round(nn_s * 1000, 1),
        "nearest_neighbour_route_m": round(dayplan.path_length(nn, legs.dist), 1),
        "subsets_8_and_10_stops": {
            "heuristic_gap_to_exact_max": round(max(gaps), 4),
            "heuristic_gap_to_exact_mean": round(float(np.mean(gaps)), 4),
            "nearest_neighbour_gap_to_exact_max": round(max(nn_gaps), 4),
            "nearest_neighbour_gap_to_exact_mean": round(float(np.mean(nn_gaps)), 4),
            "held_karp_ms_median": round(statistics.median(exact_s) * 1000, 1),
            "brute_force_8_stops_ms_median": round(statistics.median(brute_s) * 1000, 1),
        },
    }


def serve(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    gridmap = str(Path(sys.executable).parent / "gridmap")
    proc = subprocess.Popen(
        [gridmap, "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                return proc, base
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"gridmap serve did not start: {log.read_text()[-2000:]}")


def bench_posts(url: str, posts: int, clients: int, grid: int) -> dict:
    from gridmap.access.accounts import add_user, issue_token

    engine = get_engine(url)
    add_user(engine, "bench_visits", "admin", None)
    token = issue_token(engine, "bench_visits", "api", "bench_households")
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM households ORDER BY random() "
                                               "LIMIT :n"), {"n": 2 * posts}).all()]  # fmt: skip
    proc, base = serve(url, ROOT / "test-artifacts" / "bench_households_serve.log")
    try:
        headers = {"Authorization": f"Bearer {token}"}

        def run(chunk: list[int], tag: str, codes: list[int]) -> None:
            with requests.Session() as s:
                for i, h in enumerate(chunk):
                    r = s.post(base + "/api/v1/visits", json={"household_id": h, "kind":
                               "routine", "outcome": "met"}, headers=headers | {
                               "Idempotency-Key": f"{tag}-{i}"}, timeout=30)  # fmt: skip
                    codes.append(r.status_code)

        seq: list[int] = []
        t = time.perf_counter()
        run(ids[:posts], "seq", seq)
        seq_s = time.perf_counter() - t
        par: list[int] = []
        per = posts // clients
        threads = [threading.Thread(target=run, args=(ids[posts + k * per: posts + (k + 1) * per],
                   f"par{k}", par)) for k in range(clients)]  # fmt: skip
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        par_s = time.perf_counter() - t
        plan_ms = []
        with requests.Session() as s:
            for _ in range(6):
                t = time.perf_counter()
                r = s.get(base + "/api/v1/day-plan", params={"grid_id": grid, "max_stops": 40},
                          headers=headers, timeout=60)  # fmt: skip
                plan_ms.append((time.perf_counter() - t) * 1000)
                assert r.ok, r.text
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "server": "gridmap serve, gunicorn, 2 workers",
        "one_client_posts_per_s": round(posts / seq_s, 1),
        f"{clients}_clients_posts_per_s": round(per * clients / par_s, 1),
        "statuses": sorted(set(seq + par)),
        "day_plan_http_ms_median_warm": round(statistics.median(plan_ms[1:]), 1),
        "day_plan_http_ms_first": round(plan_ms[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=1_200_000)
    parser.add_argument("--posts", type=int, default=800)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = [round(v, 2) for v in os.getloadavg()]
    url = copy_city(DB_NAME, replace=True)
    try:
        result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "load_average_before": load_before}}  # fmt: skip
        result["copy_s"] = round(time.perf_counter() - started, 1)
        result["fill"] = fill(url, args.households)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        result["shares"] = bench_shares(url)
        print(json.dumps(result["shares"], ensure_ascii=False), flush=True)
        result["day_plan"] = bench_day_plan(url)
        print(json.dumps(result["day_plan"], ensure_ascii=False), flush=True)
        result["visit_posts"] = bench_posts(
            url, args.posts, args.clients, result["day_plan"]["grid_id"]
        )
        result["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        result["total_s"] = round(time.perf_counter() - started, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if not args.keep:
            drop_database(DB_NAME)


if __name__ == "__main__":
    main()
