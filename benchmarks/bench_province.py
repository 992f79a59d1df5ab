"""Province-scale projection (issue 16): which part of gridmap saturates first at 10× and
50× the reference city, projected from the figures the other benchmarks measured here.

    .venv/bin/python benchmarks/bench_province.py [--scale 10 --scale 50] [--walls 30]
        [--out FILE]

It measures nothing itself: it reads ``benchmarks/results/*.json`` (each figure names the
file and field it comes from), multiplies the city's demand (DESIGN.md's reference scale:
2,233 grid workers pinging every 10 s over 8-hour shifts, 2M cases a year, 10,004 grids)
by the scale, and divides by what one core (or one disk) of this 2-core machine did in
those benchmarks. Assumptions that are not measurements are options, printed into the
results: the dashboards open per city (walls, leads, planners), the share of the day's
cases reported in its busiest hour, and the ping retention.

Per part, the result is the cores (or GB) the load needs: the part needing the most of the
machine saturates first. Server CPU per request is taken as the wall time of a request on
an otherwise idle 2-core machine (server and database share the cores), so the cores are an
upper bound; ratios between parts are what to read.

Results go to ``benchmarks/results/province.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "province.json"

#: DESIGN.md's reference city.
CITY = {
    "grid_workers": 2233,
    "ping_interval_s": 10.0,
    "shift_hours": 8.0,
    "cases_per_year": 2_000_000,
    "grids": 10_004,
    "households": 1_220_000,
}
#: The wall's live tick and slow tick (gridmap/web/pages/wall.py, settings' default).
LIVE_TICK_S = 1.0
SLOW_TICK_S = 30.0


def read(name: str) -> dict:
    """A results file, or an empty dict when that benchmark has not run here."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def measured() -> dict:
    """The per-unit costs this projection needs, each with where it came from."""
    ingest = read("patrol_ingest_city")["after"]
    pings = read("patrol_ingest_city")["scenario"]["pings"]
    posts = read("cases")["api_single_case_posts"]
    callbacks = {r["name"]: r for r in read("callbacks_city")["results"]}
    parts = read("partitions")
    patrols = read("patrols_city")["full"]
    visits = read("households_city")["visit_posts"]
    reads = max(r["api_reads_per_s"] for r in read("server_load")["results"])
    return {
        "ping_cpu_s": {
            "value": ingest["median_cpu_s"] / pings,
            "from": "patrol_ingest_city.json after.median_cpu_s / scenario.pings "
            "(client + server CPU of a 1-minute batch of the whole city)",
        },
        "case_post_s": {
            "value": 2 / posts["concurrent_posts_per_s"],
            "from": "cases.json api_single_case_posts: 2 cores / concurrent posts per s",
        },
        "wall_tick_changed_s": {
            "value": callbacks["wall refresh: cases changed"]["p50_ms"] / 1000,
            "from": "callbacks_city.json 'wall refresh: cases changed' p50 (whole city)",
        },
        "wall_tick_idle_s": {
            "value": callbacks["wall refresh: nothing changed"]["p50_ms"] / 1000,
            "from": "callbacks_city.json 'wall refresh: nothing changed' p50",
        },
        "wall_slow_tick_s": {
            "value": callbacks["wall slow tick (shares patch)"]["p50_ms"] / 1000,
            "from": "callbacks_city.json 'wall slow tick (shares patch)' p50",
        },
        "api_read_s": {
            "value": 2 / reads,
            "from": "server_load.json: 2 cores / best api_reads_per_s",
        },
        "visit_post_s": {
            "value": 2 / visits["8_clients_posts_per_s"],
            "from": "households_city.json visit_posts: 2 cores / 8-client posts per s",
        },
        "ping_bytes": {
            "value": parts["unpartitioned_bytes"] / parts["rows"]["unpartitioned"],
            "from": "partitions.json unpartitioned_bytes / rows (table + indexes)",
        },
        "patrol_rebuild_s_per_ping": {
            "value": patrols["total_s"] / patrols["pings"],
            "from": "patrols_city.json full.total_s / full.pings (one process)",
        },
    }


def project(scale: float, m: dict, args: argparse.Namespace) -> dict:
    """Cores (and disk) each part needs at ``scale`` × the city, busiest hour."""
    v = {k: x["value"] for k, x in m.items()}
    workers = CITY["grid_workers"] * scale
    pings_per_s = workers / CITY["ping_interval_s"]
    cases_per_day = CITY["cases_per_year"] * scale / 365
    cases_per_s = cases_per_day * args.busiest_hour_share / 3600
    walls = args.walls * scale
    # A wall sees a change on a tick when a case arrived in its area during the tick; a
    # city-wide wall (the projection's worst case) sees every case.
    city_cases_per_s = cases_per_s / scale * args.wall_area_scale
    changed = 1 - math.exp(-city_cases_per_s * LIVE_TICK_S)
    wall_s_per_s = (
        changed * v["wall_tick_changed_s"] * args.wall_area_scale
        + (1 - changed) * v["wall_tick_idle_s"]
    ) / LIVE_TICK_S + v["wall_slow_tick_s"] * args.wall_area_scale / SLOW_TICK_S
    leads = args.leads * scale
    visit_posts_per_s = CITY["households"] * scale / 30 / (8 * 3600)
    parts = {
        # Each device uploads its fixes in batches: one authenticated POST per upload (its
        # overhead taken as a case post's) plus the per-fix work of the batch ingest.
        "GPS ping uploads (app + primary)": workers / args.upload_every_s * v["case_post_s"]
        + pings_per_s * v["ping_cpu_s"],
        "case intake (primary)": cases_per_s * v["case_post_s"],
        "household visits (primary)": visit_posts_per_s * v["visit_post_s"],
        "open walls (app + replicas)": walls * wall_s_per_s,
        "leads' and planners' pages (app + replicas)": leads
        * v["api_read_s"]
        / args.lead_request_every_s,
        "patrol rebuild, nightly (batch)": (
            pings_per_s * CITY["shift_hours"] * 3600 * v["patrol_rebuild_s_per_ping"]
        )
        / args.batch_window_s,
    }
    pings_per_day = pings_per_s * CITY["shift_hours"] * 3600
    disk_gb = pings_per_day * v["ping_bytes"] * args.retention_days / 1e9
    ranked = sorted(parts.items(), key=lambda kv: -kv[1])
    return {
        "scale": scale,
        "demand": {
            "grid_workers": round(workers),
            "pings_per_s_in_shift": round(pings_per_s, 1),
            "pings_per_day": round(pings_per_day),
            "cases_per_s_busiest_hour": round(cases_per_s, 3),
            "open_walls": round(walls),
            "open_lead_pages": round(leads),
            "household_visits_per_s": round(visit_posts_per_s, 2),
        },
        "cores_needed": {k: round(c, 3) for k, c in parts.items()},
        # The writes one primary must take whatever the app tier's size: the batch ingest
        # of the fixes, case intake and visits (their HTTP overhead runs on app servers).
        "primary_write_cores": round(
            pings_per_s * v["ping_cpu_s"]
            + sum(c for k, c in parts.items() if k.endswith("(primary)")),
            3,
        ),
        "raw_pings_disk_gb": round(disk_gb, 1),
        "saturates_first": ranked[0][0],
        "machines_of_this_size_for_the_first": math.ceil(ranked[0][1] / 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append", help="× the city (10, 50)")
    parser.add_argument("--walls", type=float, default=30, help="walls open per city")
    parser.add_argument("--leads", type=float, default=200, help="lead pages open per city")
    parser.add_argument(
        "--lead-request-every-s", type=float, default=10, help="a lead's page: one read per N s"
    )
    parser.add_argument(
        "--wall-area-scale",
        type=float,
        default=1.0,
        help="a wall's area in cities (1: each wall watches a whole city)",
    )
    parser.add_argument(
        "--busiest-hour-share", type=float, default=0.12, help="share of a day's cases"
    )
    parser.add_argument(
        "--upload-every-s", type=float, default=60, help="a device uploads its fixes every N s"
    )
    parser.add_argument("--retention-days", type=float, default=30, help="raw pings kept")
    parser.add_argument(
        "--batch-window-s", type=float, default=3600, help="the nightly batch's window"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    scales = args.scale or [1.0, 10.0, 50.0]
    m = measured()
    result = {
        "benchmark": "province-scale projection from the measured figures",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
        "city": CITY,
        "assumptions": {
            k: getattr(args, k)
            for k in (
                "walls",
                "leads",
                "lead_request_every_s",
                "wall_area_scale",
                "busiest_hour_share",
                "upload_every_s",
                "retention_days",
                "batch_window_s",
            )
        },
        "measured": {k: {"value": round(x["value"], 9), "from": x["from"]} for k, x in m.items()},
        "projections": [project(s, m, args) for s in scales],
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for p in result["projections"]:
        print(f"× {p['scale']:g}: saturates first: {p['saturates_first']}")
        for k, c in sorted(p["cores_needed"].items(), key=lambda kv: -kv[1]):
            print(f"    {c:9.3f} cores  {k}")
        print(f"    raw pings on disk: {p['raw_pings_disk_gb']} GB")


if __name__ == "__main__":
    main()
