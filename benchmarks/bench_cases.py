"""Case intake at city scale: bulk import cases/s with grid assignment, against naive
row-by-row ORM inserts and the server's raw COPY limit; and single-case API posts/s.

    .venv/bin/python benchmarks/bench_cases.py [--cases 200000] [--city demo|tiling]
        [--template gridmap_bench_city] [--grid-index gist|spgist] [--posts 1000]
        [--out FILE] [--keep]

Creates the scratch database ``gridmap_bench_cases`` on the configured server (the embedded
cluster by default) and migrates it. Its grids are the demo city's (``--city demo``: the
hierarchy and the 10,004 grids of the city-scale generator, seed 7) or a regular tiling of
``--grids`` squares of about 300 m (``--city tiling``). With ``--template`` it is instead a
copy of that database (e.g. the city database of ``benchmarks/citydb.py``: 10,004 grids and
2 M cases already there, so the import writes into full tables and indexes), migrated.
``--grid-index spgist`` replaces the grids' GiST index by an SP-GiST one in the scratch
database (an experiment). Then:

- ours: :func:`gridmap.cases.importer.import_cases` on a generated 12345-style CSV (points
  uniform over the grids' extent, a little beyond it): read, validate every row, look up
  each chunk's grids on a second session, COPY into the staging table, INSERT … SELECT into
  ``cases`` naming the logged run, chunk by chunk in one transaction;
- the same file again (idempotent no-op on external_id);
- naive: SQLAlchemy ORM, one case naming the same kind of logged run added and committed
  per row (a sample; the grid from the trigger), into the same table and indexes;
- the limit: COPY of the same staged rows, already rendered as CSV, into an UNLOGGED table
  with no indexes, constraints or triggers;
- API: single-case ``POST /api/v1/cases`` (with Idempotency-Key) over HTTP to a server in
  another process (werkzeug, threaded), from one client and from 4 concurrent clients.

Results go to ``benchmarks/results/cases.json`` (or ``--out``). The database is dropped at
the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import platform
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city  # noqa: E402
from gridmap.cases.importer import import_cases, parse_mapping, stage_values  # noqa: E402
from gridmap.cases.intake import validate_case  # noqa: E402
from gridmap.cases.taxonomy import get_taxonomy  # noqa: E402
from gridmap.db import models  # noqa: E402
from gridmap.db.engine import database_url, drop_database, ensure_database, get_engine  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.io.tabular import read_rows  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

DB_NAME = "gridmap_bench_cases"
X0, Y0 = 120.0, 30.0
HEADER = ["工单号", "标题", "类别", "小类", "经度", "纬度", "受理时间", "状态", "来电人"]
MAPPING = (
    "external_id=工单号,title=标题,category=类别,subcategory=小类,lon=经度,lat=纬度,"
    "reported_at=受理时间,status=状态,reporter_name=来电人"
)


def tile_city(url: str, side: int, cell: float) -> int:
    """side × side square grids of `cell` degrees; returns the number of grids."""
    per_community = 10  # 10 × 10 grids per community
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO districts (id, code, name, geom)
                SELECT d, 'D' || d, '区' || d, ST_Multi(ST_MakeEnvelope(
                    :x0 + (d - 1) * :side * :cell / 2, :y0,
                    :x0 + d * :side * :cell / 2, :y0 + :side * :cell, 4326))
                FROM generate_series(1, 2) d;
                INSERT INTO streets (id, code, name, district_id, geom)
                SELECT s, 'S' || s, '街道' || s, 1 + (s - 1) / 5, ST_Multi(ST_MakeEnvelope(
                    :x0 + (s - 1) * :side * :cell / 10, :y0,
                    :x0 + s * :side * :cell / 10, :y0 + :side * :cell, 4326))
                FROM generate_series(1, 10) s;
                INSERT INTO communities (id, code, name, street_id, geom)
                SELECT 1 + cx * (:side / :pc) + cy, 'C' || cx || '_' || cy, '社区' || cx || cy,
                       1 + cx * 10 / (:side / :pc), ST_Multi(ST_MakeEnvelope(
                    :x0 + cx * :pc * :cell, :y0 + cy * :pc * :cell,
                    :x0 + (cx + 1) * :pc * :cell, :y0 + (cy + 1) * :pc * :cell, 4326))
                FROM generate_series(0, :side / :pc - 1) cx,
                     generate_series(0, :side / :pc - 1) cy;
                INSERT INTO grids (id, code, name, community_id, geom)
                SELECT 1 + gx * :side + gy, 'G' || gx || '_' || gy, '网格' || gx || '_' || gy,
                       1 + (gx / :pc) * (:side / :pc) + gy / :pc, ST_Multi(ST_MakeEnvelope(
                    :x0 + gx * :cell, :y0 + gy * :cell,
                    :x0 + (gx + 1) * :cell, :y0 + (gy + 1) * :cell, 4326))
                FROM generate_series(0, :side - 1) gx, generate_series(0, :side - 1) gy;
                ANALYZE grids;
                """
            ),
            {"x0": X0, "y0": Y0, "side": side, "cell": cell, "pc": per_community},
        )
        return conn.execute(text("SELECT count(*) FROM grids")).scalar_one()


def demo_city_grids(url: str, seed: int = 7) -> tuple[int, tuple[float, float, float, float]]:
    """Load only the demo city's hierarchy and grids (city scale, seed 7); returns the
    number of grids and their extent."""
    from gridmap.db.copy import copy_frame
    from gridmap.demo.city import CityGenerator, default_anchor

    raw = get_engine(url).raw_connection()
    try:
        cur = raw.cursor()
        for table, frame in CityGenerator("city", seed, default_anchor()).tables():
            copy_frame(cur, table, frame)
            if table == "grids":
                break
        cur.execute("ANALYZE grids")
        raw.commit()
        cur.execute(
            "SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), "
            "ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM grids"
        )
        n, *extent = cur.fetchone()
    finally:
        raw.close()
    return n, tuple(extent)


def grid_extent(url: str) -> tuple[int, tuple[float, float, float, float]]:
    """The number of grids and their extent."""
    with get_engine(url).connect() as conn:
        n, *extent = conn.execute(
            text(
                "SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), "
                "ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM grids"
            )
        ).one()
    return n, tuple(extent)


def use_spgist(url: str) -> None:
    """Replace the grids' GiST index by an SP-GiST one (scratch database only)."""
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP INDEX grids_geom_gist"))
        conn.execute(text("CREATE INDEX grids_geom_spgist ON grids USING spgist (geom)"))
        conn.execute(text("ANALYZE grids"))


def write_cases_csv(
    path: Path, n: int, extent: tuple[float, float, float, float], seed: int = 7
) -> None:
    """A 12345-style export of n cases, about 5 % outside the city's extent."""
    rng = np.random.default_rng(seed)
    tax = get_taxonomy()
    subs = list(tax.subcategories.values())
    pick = rng.integers(0, len(subs), n)
    x0, y0, x1, y1 = extent
    lon = x0 + rng.uniform(-0.025, 1.025, n) * (x1 - x0)
    lat = y0 + rng.uniform(-0.025, 1.025, n) * (y1 - y0)
    start = datetime(2024, 1, 1)
    minutes = np.sort(rng.integers(0, 365 * 24 * 60, n))
    statuses = np.array(["已回访结案", "已办结", "处置中", "已派单", "reported"])
    status = statuses[rng.choice(5, n, p=[0.6, 0.15, 0.1, 0.1, 0.05])]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            s = subs[pick[i]]
            when = start + timedelta(minutes=int(minutes[i]))
            w.writerow(
                [
                    f"12345-{i:08d}",
                    f"{s.zh}：群众反映第{i}号",
                    tax.by_slug[s.category].zh,
                    s.slug,
                    f"{lon[i]:.6f}",
                    f"{lat[i]:.6f}",
                    when.strftime("%Y-%m-%d %H:%M:%S"),
                    status[i],
                    "市民",
                ]
            )


def bench_import(url: str, path: Path) -> dict:
    eng = get_engine(url)
    tax = get_taxonomy()
    mapping = parse_mapping(MAPPING)
    t = time.perf_counter()
    report = import_cases(eng, path, mapping, tax, source="hotline_12345")
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = import_cases(eng, path, mapping, tax, source="hotline_12345")
    second = time.perf_counter() - t
    # Where the time goes: reading + validating in Python alone.
    header, rows, _ = read_rows(path)
    pos = {f: header.index(c) for f, c in mapping.items()}
    t = time.perf_counter()
    staged = []
    for row_no, values in rows:
        data = {f: values[i] for f, i in pos.items()}
        data["status"] = {
            "已回访结案": "closed",
            "已办结": "resolved",
            "处置中": "in_progress",
            "已派单": "dispatched",
        }.get(data["status"], data["status"])
        case = validate_case(
            data, tax, source="hotline_12345", history=True, strict=False, row=row_no
        )
        staged.append(stage_values(row_no, case))
    validate_s = time.perf_counter() - t
    return {
        "rows": report.rows,
        "inserted": report.inserted,
        "unassigned": report.unassigned,
        "seconds": round(first, 3),
        "cases_per_s": round(report.inserted / first),
        "python_read_validate_seconds": round(validate_s, 3),
        "reimport_seconds": round(second, 3),
        "reimport_inserted": again.inserted,
        "_staged_rows": staged,
    }


def _render_csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def bench_naive(url: str, path: Path, sample: int) -> dict:
    eng = get_engine(url)
    tax = get_taxonomy()
    header, rows, _ = read_rows(path)
    mapping = parse_mapping(MAPPING)
    pos = {f: header.index(c) for f, c in mapping.items()}
    cases = []
    for _row_no, values in rows:
        data = {f: values[i] for f, i in pos.items()} | {"status": "reported"}
        data["external_id"] = "naive-" + data["external_id"]
        cases.append(validate_case(data, tax, source="walk_in", history=True, strict=False))
        if len(cases) == sample:
            break
    t = time.perf_counter()
    with Session(eng) as s:  # the run, logged once as ours does
        run = models.CaseImport(actor="naive", source="walk_in", file_name=path.name)
        s.add(run)
        s.commit()
        run_id = run.id
    for n, c in enumerate(cases):
        with Session(eng) as s:
            row = models.Case(
                code=f"NV{n:09d}",
                title=c.title,
                description=c.description,
                category=c.category,
                subcategory=c.subcategory,
                source=c.source,
                priority=c.priority,
                handling_type=c.handling_type,
                external_id=c.external_id,
                reported_at=c.reported_at,
                due_at=c.due_at,
                status=c.status,
                reporter_name=c.reporter_name,
                geom=f"SRID=4326;POINT({c.lon} {c.lat})" if c.lon is not None else None,
                import_id=run_id,
            )
            s.add(row)
            s.commit()
    seconds = time.perf_counter() - t
    return {"sample": sample, "seconds": round(seconds, 3), "cases_per_s": round(sample / seconds)}


def bench_limit(url: str, staged_csv: str) -> dict:
    raw = get_engine(url).raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "CREATE UNLOGGED TABLE bench_bare (row_no integer, title text, description text, "
            "category text, subcategory text, source text, priority smallint, "
            "handling_type text, lon double precision, lat double precision, address text, "
            "reporter_name text, reporter_phone text, external_id text, "
            "reported_at timestamptz, due_at timestamptz, status text, department text, "
            "dispatched_at timestamptz, resolved_at timestamptz, closed_at timestamptz, "
            "satisfaction smallint)"
        )
        raw.commit()
        t = time.perf_counter()
        cur.copy_expert("COPY bench_bare FROM STDIN WITH (FORMAT csv)", io.StringIO(staged_csv))
        raw.commit()
        seconds = time.perf_counter() - t
        cur.execute("SELECT count(*) FROM bench_bare")
        n = cur.fetchone()[0]
    finally:
        raw.close()
    return {"rows": n, "seconds": round(seconds, 3), "rows_per_s": round(n / seconds)}


def _serve(url: str, port: int) -> None:
    import logging

    import flask
    from werkzeug.serving import make_server

    from gridmap.api import register_api

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = flask.Flask("bench")
    app.config["GRIDMAP_DATABASE_URL"] = url
    register_api(app)
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


def _intake_token(url: str) -> str:
    """A bearer token of an intake client (api_client role), as a reporting app has."""
    from gridmap.access.accounts import add_user, issue_token

    engine = get_engine(url)
    with engine.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM users WHERE username = 'bench_intake'")).first()
    if not known:
        add_user(engine, "bench_intake", "api_client", None)
    return issue_token(engine, "bench_intake", "api", "bench_cases")


def bench_api(
    url: str, posts: int, clients: int, extent: tuple[float, float, float, float]
) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = _intake_token(url)
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, port))
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/api/v1/taxonomy", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        rng = np.random.default_rng(1)

        def body(i: int) -> dict:
            return {
                "title": f"路灯不亮 {i}",
                "subcategory": "street_light",
                "lon": float(X0 + rng.uniform(0, 0.3)),
                "lat": float(Y0 + rng.uniform(0, 0.3)),
            }

        def run(count: int, offset: int, codes: list[int]) -> None:
            with requests.Session() as session:
                for i in range(count):
                    r = session.post(
                        base + "/api/v1/cases",
                        json=body(offset + i),
                        headers={
                            "Idempotency-Key": f"bench-{offset + i}",
                            "Authorization": f"Bearer {token}",
                        },
                        timeout=30,
                    )
                    codes.append(r.status_code)

        codes: list[int] = []
        t = time.perf_counter()
        run(posts, 0, codes)
        sequential = time.perf_counter() - t
        codes2: list[int] = []
        per = posts // clients
        threads = [
            threading.Thread(target=run, args=(per, posts + k * per, codes2))
            for k in range(clients)
        ]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        concurrent = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.join(5)
    assert set(codes) == {201} and set(codes2) == {201}, (set(codes), set(codes2))
    return {
        "posts": posts,
        "sequential_posts_per_s": round(posts / sequential, 1),
        "sequential_ms_per_post": round(sequential / posts * 1000, 2),
        "concurrent_clients": clients,
        "concurrent_posts_per_s": round(per * clients / concurrent, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument(
        "--city",
        choices=["demo", "tiling"],
        default="demo",
        help="grids of the demo city (seed 7), or a regular square tiling",
    )
    parser.add_argument("--grids", type=int, default=10_000, help="tiling: a square number")
    parser.add_argument(
        "--template",
        help="copy this database (e.g. gridmap_bench_city) instead of generating grids",
    )
    parser.add_argument(
        "--grid-index",
        choices=["gist", "spgist"],
        default="gist",
        help="index of grids.geom (spgist: an experiment on the scratch db)",
    )
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--posts", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cases.json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    side = round(args.grids**0.5)
    cell = 0.003
    url = make_url(database_url()).set(database=DB_NAME).render_as_string(hide_password=False)
    drop_database(url)
    if args.template:
        copy_city(DB_NAME, replace=True, template=args.template)
    else:
        ensure_database(url)
        upgrade(url, get_settings().sql_dir / "migrations")
    try:
        with get_engine(url).connect() as conn:
            cases_before = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        if args.template:
            grids, extent = grid_extent(url)
        elif args.city == "demo":
            grids, extent = demo_city_grids(url)
        else:
            grids = tile_city(url, side, cell)
            extent = (X0, Y0, X0 + side * cell, Y0 + side * cell)
        if args.grid_index == "spgist":
            use_spgist(url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hotline_export.csv"
            write_cases_csv(path, args.cases, extent)
            print(f"{grids:,} grids; importing {args.cases:,} cases …", flush=True)
            ours = bench_import(url, path)
            staged = _render_csv(ours.pop("_staged_rows"))
            print(f"ours: {ours}", flush=True)
            naive = bench_naive(url, path, args.naive_sample)
            print(f"naive: {naive}", flush=True)
            limit = bench_limit(url, staged)
            print(f"limit: {limit}", flush=True)
        api = bench_api(url, args.posts, args.clients, extent)
        print(f"api: {api}", flush=True)
        result = {
            "benchmark": "cases",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            "city": f"copy of {args.template}" if args.template else args.city,
            "grids": grids,
            "cases_before_import": cases_before,
            "grid_index": args.grid_index,
            "bulk_import": ours,
            "naive_orm_row_by_row": naive,
            "limit_copy_unlogged_bare": limit,
            "ratios": {
                "ours_vs_naive": round(ours["cases_per_s"] / naive["cases_per_s"], 1),
                "ours_share_of_limit": round(ours["cases_per_s"] / limit["rows_per_s"], 3),
            },
            "api_single_case_posts": api,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.out.is_file():  # keep the earlier runs, newest first
            previous = json.loads(args.out.read_text(encoding="utf-8"))
            result["history"] = [previous, *previous.pop("history", [])]
        args.out.write_text(
            json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        get_engine(url).dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
