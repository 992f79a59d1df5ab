"""The one reader of the environment: every setting, with the ``GRIDMAP_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The ``gridmap`` package folder.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The project checkout (holds ``sql/`` and ``assets/``); site-packages when installed.
PROJECT_ROOT = PACKAGE_DIR.parent


def shipped_dir(name: str) -> Path:
    """The top-level folder ``name`` (``sql``, ``assets``) of the checkout, or, in an installed
    wheel, its copy shipped as package data ``gridmap/<name>`` (see pyproject.toml)."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


#: Folder of the SQL migrations and functions.
SQL_DIR = shipped_dir("sql")
#: Folder of the Dash assets (CSS, JS, the basemap style).
ASSETS_DIR = shipped_dir("assets")


class Settings(BaseSettings):
    """gridmap settings; each field can be set as ``GRIDMAP_<NAME>`` or in ``.env``."""

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL/PostGIS URL. Unset: gridmap runs its own embedded cluster.",
    )
    home: Path = Field(
        default=Path(".gridmap"),
        description="Folder of the embedded cluster and other local state.",
    )
    pg_bindir: Path | None = Field(
        default=None,
        description="Folder of initdb/pg_ctl; found via pg_config or /usr/lib/postgresql if unset.",
    )
    db_os_user: str = Field(
        default="postgres",
        description="Unprivileged OS user that runs the embedded server when gridmap runs as root.",
    )
    db_name: str = Field(default="gridmap", description="Database name in the embedded cluster.")

    host: str = Field(default="127.0.0.1", description="Address `gridmap serve` binds.")
    port: int = Field(default=8050, description="Port `gridmap serve` binds.")
    workers: int = Field(default=2, description="WSGI worker processes for `gridmap serve`.")
    compress: bool = Field(
        default=True,
        description="Compress JS, CSS, JSON and tiles (brotli, else gzip) for clients taking it.",
    )
    cache_assets: bool = Field(
        default=True,
        description="Mark fingerprinted assets (Dash bundles, plotly.js, assets/?m=) immutable "
        "for a year, so a repeat visit fetches none of them.",
    )
    plan_warmup: bool = Field(
        default=True,
        description="Each `gridmap serve` worker builds the planning model (walking network, "
        "buildings, the default view's walks) in the background when it starts, so the first "
        "planner does not wait for it (seconds at city scale).",
    )
    tile_cache_mb: int = Field(
        default=64,
        ge=0,
        le=4096,
        description="Memory (MB) per server process for made vector tiles, reused until their "
        "layer's data changes (0: every tile is made anew).",
    )

    language: str = Field(default="zh-CN", description="Default UI language: zh-CN or en.")
    basemap_tiles: str | None = Field(
        default=None,
        description="Optional raster tile URL template ({z}/{x}/{y}); unset keeps the map offline.",
    )
    map_center: tuple[float, float] | None = Field(
        default=None, description="Initial map centre (lon, lat); the data extent when unset."
    )

    sql_dir: Path = Field(default=SQL_DIR, description="Folder of SQL migrations.")
    ping_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days of raw GPS pings kept: `gridmap db partitions` drops whole day "
        "partitions (UTC) older than this at once; patrol visit aggregates stay. Unset: "
        "pings are kept for ever.",
    )

    cases_taxonomy: Path = Field(
        default=PACKAGE_DIR / "cases" / "taxonomy.toml",
        description="TOML file of case categories, priorities, time limits and handling types.",
    )
    cases_timezone: str = Field(
        default="Asia/Shanghai",
        description="Time zone of date-times given without an offset (imports, API).",
    )
    cases_escalation_hours: tuple[float, float, float] = Field(
        default=(0.0, 24.0, 72.0),
        description="Hours past due_at at which an open case escalates to community, street, "
        "district (JSON list, non-decreasing).",
    )
    cases_camera_radius_m: float = Field(
        default=300.0, gt=0, le=5000, description="Radius (m) of a case's nearest cameras."
    )
    cases_camera_limit: int = Field(
        default=5, ge=1, le=50, description="How many nearest online cameras a case shows."
    )
    cases_page_max: int = Field(
        default=500, ge=1, le=10000, description="Largest page of cases one API call returns."
    )
    api_max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body the JSON/Open311 APIs accept."
    )
    open311_jurisdiction_id: str | None = Field(
        default=None, description="Open311 jurisdiction_id; unset accepts any (one jurisdiction)."
    )
    open311_contact: str = Field(
        default="gridmap command centre", description="Contact line of the Open311 discovery."
    )
    ogc_default_limit: int = Field(
        default=100, ge=1, description="Features per page of OGC API items when no limit is asked."
    )
    ogc_max_limit: int = Field(
        default=10_000, ge=1, description="Largest limit one OGC API items request may ask for."
    )

    circles_speed_kmh: float = Field(
        default=4.5, gt=0, le=30, description="Walking speed (km/h) of the service circles."
    )
    circles_minutes: tuple[float, ...] = Field(
        default=(5.0, 10.0, 15.0),
        description="Minutes of the service circles (JSON list), e.g. [5, 10, 15].",
    )
    circles_max_snap_m: float = Field(
        default=200.0,
        ge=0,
        le=5000,
        description="Farthest (m) a building or service point may lie from a street node and "
        "still count as on the walking network (farther: reported as off the network).",
    )
    circles_buffer_m: float = Field(
        default=40.0, gt=0, le=500, description="Half-width (m) of the street band of isochrones."
    )
    circles_max_candidates: int = Field(
        default=4000,
        ge=10,
        description="Most candidate sites a new-site suggestion evaluates (evenly sampled).",
    )

    visit_far_fix_m: float = Field(
        default=200.0,
        gt=0,
        le=100_000,
        description="A visit's GPS fix farther than this (m) from the building is kept but "
        "flagged (far_fix) and does not count as seeing the household.",
    )

    patrol_max_accuracy_m: float = Field(
        default=50.0, gt=0, description="GPS fixes less accurate than this (m) are rejected."
    )
    patrol_max_speed_mps: float = Field(
        default=8.0,
        gt=0,
        description="Fastest plausible patrol speed (m/s); jumps faster than it are rejected.",
    )
    patrol_match_m: float = Field(
        default=25.0, gt=0, le=500, description="Farthest a ping is matched to a street (m)."
    )
    patrol_max_batch: int = Field(
        default=10_000, ge=1, description="Most GPS pings one ingest request may carry."
    )
    patrol_future_s: float = Field(
        default=300.0, ge=0, description="Pings dated further ahead of now (s) are rejected."
    )
    import_max_upload_mb: int = Field(
        default=200, ge=1, le=4096, description="Largest file (MB) the /plan import upload takes."
    )

    export_dir: Path | None = Field(
        default=None,
        description="Folder of finished export files (background jobs); <home>/exports if unset.",
    )
    export_keep_hours: float = Field(
        default=24.0, gt=0, description="Hours a finished export file stays downloadable."
    )
    export_workers: int = Field(
        default=1, ge=1, le=8, description="Export jobs one server process runs at a time."
    )

    lead_patrol_window: str = Field(
        default="24h",
        pattern=r"^\d{1,4}\s*[mhd]$",
        description="Patrol coverage window of the grid-lead page's detail panel (2h, 24h, 7d…).",
    )
    lead_service_kind: str = Field(
        default="party_service_center",
        description="Service point kind whose walking circle the grid detail panel reports.",
    )
    lead_service_minutes: float = Field(
        default=15.0, gt=0, le=120, description="Minutes' walk of the grid panel's service figure."
    )
    lead_page_size: int = Field(
        default=100, ge=10, le=1000, description="Case table rows per page on the lead page."
    )
    lead_map_max_cases: int = Field(
        default=1000, ge=1, description="Most case points the lead page's map draws (newest)."
    )
    lead_map_max_grids: int = Field(
        default=1000, ge=1, description="Most grid polygons the lead page's map draws."
    )

    secret_key: str | None = Field(
        default=None,
        description="Key signing session cookies and CSRF tokens; unset: the database's "
        "(gridmap_meta), made once from the first server's <home>/secret_key (random, mode "
        "600), so every app server of the database accepts the others' sessions.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="Hours a signed-in session lasts."
    )
    display_session_days: float = Field(
        default=30.0,
        gt=0,
        le=366,
        description="Days a wall screen's session (signed in by a display token) lasts.",
    )
    cookie_secure: bool = Field(
        default=False, description="Send session cookies over HTTPS only (set behind TLS)."
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per account within login_window_s."
    )
    login_max_failures_ip: int = Field(
        default=20, ge=1, description="Failed logins per client address within login_window_s."
    )
    login_window_s: int = Field(
        default=300, ge=1, description="Window (s) of the login rate limits."
    )

    wall_window: str = Field(
        default="30d",
        pattern=r"^(1h|24h|7d|30d)$",
        description="Case window of the wall screen (heatmap, tiles, hottest grids): 1h, 24h, "
        "7d or 30d.",
    )
    wall_slow_refresh_s: float = Field(
        default=30.0,
        ge=2,
        le=3600,
        description="Seconds between the wall's refreshes of its heavier tiles (patrol "
        "coverage, cameras online, people inside service circles); new cases show every second.",
    )
    wall_patrol_hours: float = Field(
        default=8.0, gt=0, le=168, description="Hours back the wall's patrol coverage now counts."
    )
    wall_circle_minutes: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="Walking minutes of the wall's people-inside-service-circles tile.",
    )
    wall_circle_kinds: tuple[str, ...] = Field(
        default=("convenience_station",),
        description="Service point kinds of the wall's people-inside-circles tile (JSON list; "
        "a person counts when within the minutes of any of them; empty: every kind).",
    )
    wall_hot_grids: int = Field(
        default=5, ge=1, le=20, description="How many hottest grids the wall lists."
    )

    # --- issue 16: connection pooling (pgbouncer) ---
    pgbouncer_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the pgbouncer `gridmap db start --pgbouncer` runs in front of the "
        "embedded cluster (127.0.0.1); unset: a free port, kept across restarts.",
    )
    pgbouncer_pool_size: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Server connections pgbouncer keeps per database and login (transaction "
        "mode: each is lent to a client for one transaction).",
    )

    # --- issue 16: several app servers ---
    proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Proxies in front of `gridmap serve` (HAProxy: 1) whose X-Forwarded-For "
        "and X-Forwarded-Proto it trusts: the client's address (audit log, sign-in limits "
        "per address) is the one they forwarded. 0: the connection's own address. Set it "
        "only behind a proxy that sets these headers, else a client could forge its address.",
    )
    upload_dir: Path | None = Field(
        default=None,
        description="Folder of files uploaded to /plan's import until they are imported; "
        "<home>/uploads if unset. Behind a load balancer, a folder every app server shares "
        "(the upload and the import may reach different servers), like export_dir.",
    )

    # --- issue 16: read replicas ---
    replica_urls: tuple[str, ...] = Field(
        default=(),
        description="PostgreSQL URLs of streaming read replicas (JSON list). Read-only work "
        "(tiles, OGC, layer reads, exports, dashboards) goes to a healthy one; empty: the "
        "embedded cluster's own standbys (`gridmap db start --replicas N`) when it runs any, "
        "else every read goes to the primary.",
    )
    replica_max_lag_s: float = Field(
        default=5.0,
        ge=0,
        description="A replica lagging behind the primary by more than this (s) is skipped "
        "until it catches up.",
    )
    replica_check_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Seconds a server process trusts its last health check of the primary "
        "and the replicas (0: check on every read).",
    )

    # --- issue 16: distributed analytics (Dask) ---
    dask_scheduler: str = Field(
        default="",
        description="Address of a Dask scheduler (e.g. tcp://10.0.0.5:8786) the batch jobs "
        "(patrol visit rebuild, coverage, isochrones) run on with --dask; empty: a local "
        "cluster started for the job.",
    )
    dask_workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Worker processes of the local Dask cluster (0: one per CPU).",
    )
    dask_tiles: int = Field(
        default=0,
        ge=0,
        le=4096,
        description="Area tiles a Dask job is cut into (0: two per worker, at least 4).",
    )

    @field_validator("cases_escalation_hours")
    @classmethod
    def _escalation_steps(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(h < 0 for h in v) or list(v) != sorted(v):
            raise ValueError("escalation hours must be non-negative and non-decreasing")
        return v

    @property
    def home_dir(self) -> Path:
        """Absolute path of the state folder."""
        return self.home.expanduser().resolve()

    @property
    def upload_folder(self) -> Path:
        """Absolute path of the uploads' folder."""
        return (self.upload_dir or self.home / "uploads").expanduser().resolve()

    @property
    def export_folder(self) -> Path:
        """Absolute path of the export files' folder."""
        return (self.export_dir or self.home / "exports").expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
