"""Households at city scale (issue 15): overdue shares for every grid and for one grid, the
wall's visits tile, a worker's day plan of 40 stops, and visit posts per second over HTTP,
each beside its naive peer.

    .venv/bin/python benchmarks/bench_households.py [--keep]

Copies the shared city database (``benchmarks/citydb.py``; never changed itself) to
``gridmap_bench_households``: the city-scale demo holds the household register
(:mod:`gridmap.demo.household_fill`: about 1.2M households over every home, tags in the
demo's shares, ten-household units, 90 days of visits with gaps before the demo's anchor).
Shares, tile and day plan are asked for the anchor's local day (the demo's "today").

Peers: shares by the SQL functions vs pandas over all visits (the same numbers, checked);
the wall's visits tile (its query, p50/p95) vs the sum of the naive shares; the day plan
(nearest-neighbour + 2-opt + Or-opt, iterated) vs nearest-neighbour only, and the exact
order (Held-Karp, brute force on 8 stops) on subsets; visit posts over ``gridmap serve``
(gunicorn, 2 workers) by one client and by 8. Results go to
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
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402
from gridmap.households import dayplan  # noqa: E402
from gridmap.web.services.dashboard import VISITS_SQL  # noqa: E402

DB_NAME = "gridmap_bench_households"
TZ = "Asia/Shanghai"
OUT = ROOT / "benchmarks" / "results" / "households_city.json"


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median seconds of ``repeat`` runs (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def register(url: str) -> dict:
    """What the city's household register holds, and the demo's "today" (its anchor's day)."""
    with get_engine(url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM households), (SELECT count(*) FROM visits), "
                "(SELECT count(*) FROM ten_household_units), (SELECT count(*) FROM compounds), "
                "(SELECT count(DISTINCT grid_id) FROM households), "
                "(SELECT round(avg((cardinality(tags) > 0)::int), 4) FROM households), "
                "(SELECT value #>> '{}' FROM gridmap_meta WHERE key = 'demo_anchor')"
            )
        ).one()
    households, visits, units, compounds, grids, tagged, anchor = row
    if not households:
        raise SystemExit("the city database holds no households: run benchmarks/citydb.py")
    return {
        "households": households,
        "visits": visits,
        "ten_household_units": units,
        "compounds": compounds,
        "grids_with_households": grids,
        "tagged_share": float(tagged),
        "as_of": datetime.fromisoformat(anchor).astimezone(ZoneInfo(TZ)).date().isoformat(),
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
        vulnerable = set(
            conn.execute(text("SELECT slug FROM household_tags WHERE vulnerable")).scalars()
        )
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
    weak = np.array([bool(vulnerable.intersection(t)) for t in hh["tags"]], dtype=bool)
    hh["vulnerable_overdue"] = hh["overdue"] & weak
    out = hh.groupby("grid_id").agg(households=("id", "size"), visited=("visited", "sum"),
                                    overdue=("overdue", "sum"),
                                    vulnerable_overdue=("vulnerable_overdue", "sum"))  # fmt: skip
    return out.astype("int64").sort_index()


#: The shares' peer in SQL: every household's status row (its local dates), grouped.
STATUS_ROWS_SQL = (
    "SELECT grid_id, count(*), count(*) FILTER (WHERE visited), "
    "count(*) FILTER (WHERE days_overdue > 0), "
    "count(*) FILTER (WHERE days_overdue > 0 AND vulnerable) "
    "FROM gridmap_visit_status(:d, :tz) GROUP BY grid_id ORDER BY grid_id"
)


def runs(fn, repeat: int) -> tuple[list[float], object]:
    """Seconds of ``repeat`` runs (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def pct(times: list[float], q: float) -> float:
    return float(np.percentile(times, q))


def plan_of(url: str, sql: str, params: dict) -> dict:
    """Workers planned/launched of the query's EXPLAIN ANALYZE (a parallel plan or not)."""
    with get_engine(url).connect() as conn:
        plan = conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql), params).scalar_one()
    found: dict = {"workers_planned": 0, "workers_launched": 0}

    def walk(node: dict) -> None:
        for key, out in (("Workers Planned", "workers_planned"),
                         ("Workers Launched", "workers_launched")):  # fmt: skip
            found[out] = max(found[out], node.get(key, 0))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    found["execution_ms"] = round(plan[0]["Execution Time"], 1)
    return found


def bench_shares(url: str, as_of: date) -> dict:
    engine = get_engine(url)
    params = {"d": as_of, "tz": TZ}
    shares_sql = "SELECT * FROM gridmap_visit_shares(:d, :tz)"

    def query(sql: str):
        def run():
            with engine.connect() as conn:
                return conn.execute(text(sql), params).all()

        return run

    all_times, rows = runs(query(shares_sql), 9)
    status_times, status_rows = runs(query(STATUS_ROWS_SQL), 3)
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
    columns = ["grid_id", "households", "visited", "overdue", "vulnerable_overdue"]
    sql = pd.DataFrame([tuple(r[:5]) for r in rows], columns=columns)
    sql = sql.set_index("grid_id").astype("int64")
    visited = int(sql["visited"].sum())
    all_s = statistics.median(all_times)
    return {
        "as_of": as_of.isoformat(),
        "grids": len(rows),
        "share_visited_city": round(visited / int(sql["households"].sum()), 4),
        "all_grids_sql_s": round(all_s, 3),
        "all_grids_sql_s_p95": round(pct(all_times, 95), 3),
        "all_grids_sql_s_min": round(min(all_times), 3),
        "all_grids_plan": plan_of(url, shares_sql, params),
        "all_grids_status_rows_grouped_s": round(statistics.median(status_times), 3),
        "status_rows_equal": [tuple(r) for r in status_rows] == [tuple(r[:5]) for r in rows],
        "naive_pandas_over_sql": round(naive_all_s / all_s, 1),
        "one_grid_sql_ms_median": round(statistics.median(one_times) * 1000, 1),
        "one_grid_sql_ms_max": round(max(one_times) * 1000, 1),
        "all_grids_naive_pandas_s": round(naive_all_s, 2),
        "one_grid_naive_pandas_s": round(naive_one_s, 2),
        "naive_equals_sql": bool(naive.equals(sql)),
        "city_totals": {
            "households": int(sql["households"].sum()),
            "visited": visited,
            "vulnerable_overdue": int(sql["vulnerable_overdue"].sum()),
        },
    }


def bench_wall_tile(url: str, as_of: date, totals: dict) -> dict:
    """The wall's visits tile: its query (gridmap.web.services.dashboard.VISITS_SQL), and
    the way it was read before (the sum of every grid's shares)."""
    engine = get_engine(url)
    params = {"as_of": as_of, "tz": TZ}
    summed = (
        "SELECT sum(households), sum(visited), sum(vulnerable_overdue) "
        "FROM gridmap_visit_shares(:as_of, :tz)"
    )

    def query(sql: str):
        def run():
            with engine.connect() as conn:
                return conn.execute(text(sql), params).one()

        return run

    tile_times, row = runs(query(VISITS_SQL), 20)
    sum_times, _ = runs(query(summed), 5)
    return {
        "query": "gridmap_visit_totals (dashboard.VISITS_SQL)",
        "tile_ms_p50": round(pct(tile_times, 50) * 1000, 1),
        "tile_ms_p95": round(pct(tile_times, 95) * 1000, 1),
        "plan": plan_of(url, VISITS_SQL, params),
        "sum_of_grid_shares_ms_p50": round(pct(sum_times, 50) * 1000, 1),
        "equals_the_naive_totals": (row.households, row.visited, row.vulnerable_overdue)
        == (totals["households"], totals["visited"], totals["vulnerable_overdue"]),
    }


def bench_day_plan(url: str, as_of: date) -> dict:
    engine = get_engine(url)
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
        result["register"] = register(url)
        as_of = date.fromisoformat(result["register"]["as_of"])
        print(json.dumps(result, ensure_ascii=False), flush=True)
        result["shares"] = bench_shares(url, as_of)
        print(json.dumps(result["shares"], ensure_ascii=False), flush=True)
        result["wall_visits_tile"] = bench_wall_tile(url, as_of, result["shares"]["city_totals"])
        print(json.dumps(result["wall_visits_tile"], ensure_ascii=False), flush=True)
        result["day_plan"] = bench_day_plan(url, as_of)
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
