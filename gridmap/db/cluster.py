"""The embedded PostgreSQL/PostGIS cluster gridmap runs when no database URL is given.

The cluster lives under the state folder (``.gridmap/`` by default): it is created with
initdb once, listens on 127.0.0.1 on a free port (and on a Unix socket in its own folder),
starts on demand, is reused while it runs and stops on ``gridmap db stop``.

PostgreSQL refuses to run as root, so when gridmap runs as root the server runs as an
unprivileged OS user (``postgres`` by default). That user must be able to reach the data
folder; when the checkout sits under a folder it cannot enter (``/root`` is mode 700), the
data goes to ``/var/lib/gridmap/clusters/<hash>`` and ``.gridmap/pg`` links to it.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridmap.errors import GridmapError
from gridmap.settings import Settings

SUPERUSER = "gridmap"
FALLBACK_ROOT = Path("/var/lib/gridmap/clusters")
DEBIAN_PACKAGES = "postgresql-15 postgresql-15-postgis-3"
#: Longest Unix socket path the kernel accepts (sun_path is 108 bytes with the NUL).
MAX_SOCKET_PATH = 107

TUNING = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "random_page_cost": "1.1",
    "jit": "off",
    "logging_collector": "off",
    "timezone": "'Asia/Shanghai'",
}


#: Libraries each server process loads at its start (every start, existing clusters too):
#: a new connection's first PostGIS call then does not load PostGIS (9-13 ms) in it.
PRELOAD = "postgis-3"


class ClusterError(GridmapError):
    """The embedded cluster cannot be set up, started or reached."""


@dataclass(frozen=True)
class ClusterStatus:
    """What ``gridmap db status`` reports."""

    initialized: bool
    running: bool
    port: int | None
    data_dir: Path
    os_user: str


def find_bindir(configured: Path | None = None) -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (PostgreSQL 15 preferred)."""
    candidates = [configured] if configured else []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    candidates += [p for p in versions if p.parent.name == "15"] + versions
    for path in candidates:
        if path and (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise ClusterError(
        "PostgreSQL server programs (initdb, pg_ctl) were not found.",
        hint=f"install the Debian packages: sudo apt-get install {DEBIAN_PACKAGES}",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def reachable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a user can traverse every folder from / down to ``path``."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            break
        st = folder.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class Cluster:
    """A private PostgreSQL cluster under a state folder."""

    def __init__(self, home: Path, *, bindir: Path | None = None, os_user: str = "postgres"):
        self.home = home.expanduser().resolve()
        self._bindir = bindir
        self.as_root = os.geteuid() == 0
        self.os_user = os_user if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.state_file = self.home / "cluster.json"
        self.link = self.home / "pg"
        self.lock_file = self.home / "cluster.lock"

    @classmethod
    def from_settings(cls, settings: Settings) -> Cluster:
        """The cluster the settings describe."""
        return cls(settings.home_dir, bindir=settings.pg_bindir, os_user=settings.db_os_user)

    # -- layout ---------------------------------------------------------------------------

    @property
    def bindir(self) -> Path:
        """Folder of the PostgreSQL server programs."""
        if self._bindir is None or not (self._bindir / "pg_ctl").exists():
            self._bindir = find_bindir(self._bindir)
        return self._bindir

    @property
    def root(self) -> Path:
        """Folder holding the data, socket and log (``.gridmap/pg`` or where it links)."""
        return self.link.resolve()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def _save_state(self, **values: object) -> None:
        state = self._state() | values
        self.state_file.write_text(json.dumps(state, indent=2))
        self.state_file.chmod(0o600)

    def _server_ids(self) -> tuple[int, int, set[int]]:
        try:
            user = pwd.getpwnam(self.os_user)
        except KeyError:
            raise ClusterError(
                f"The OS user {self.os_user!r} that should run the database does not exist.",
                hint=f"install {DEBIAN_PACKAGES} (it creates 'postgres') or set GRIDMAP_DB_OS_USER",
            ) from None
        gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if self.os_user in g.gr_mem}
        return user.pw_uid, user.pw_gid, gids

    def _prepare_root(self) -> None:
        """Create the data root where the server user can reach it."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.link.is_symlink() or self.link.exists():
            return
        target = self.link
        if self.as_root:
            uid, _, gids = self._server_ids()
            if not reachable_by(self.home, uid, gids):
                where = str(self.home) + ("" if self.link.name == "pg" else f"/{self.link.name}")
                digest = hashlib.sha1(where.encode()).hexdigest()[:12]
                target = FALLBACK_ROOT / digest
                FALLBACK_ROOT.mkdir(parents=True, exist_ok=True)
                FALLBACK_ROOT.parent.chmod(0o755)
                FALLBACK_ROOT.chmod(0o755)
                if target.exists():  # left by an earlier checkout at this path
                    if (target / "data" / "postmaster.pid").exists():
                        self._run("pg_ctl", "stop", "-D", str(target / "data"), "-m", "immediate",
                                  check=False)  # fmt: skip
                    shutil.rmtree(target)
        target.mkdir(parents=True, exist_ok=True)
        if target != self.link:
            self.link.symlink_to(target)
        self._own(target)

    def _own(self, path: Path) -> None:
        if self.as_root:
            uid, gid, _ = self._server_ids()
            os.chown(path, uid, gid)
            path.chmod(0o700)

    # -- running programs -----------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server program, as the unprivileged user when we are root."""
        kwargs: dict = {"capture_output": True, "text": True, "cwd": "/"}
        if self.as_root:
            uid, gid, _ = self._server_ids()
            kwargs |= {"user": uid, "group": gid, "extra_groups": []}
        proc = subprocess.run([str(self.bindir / args[0]), *args[1:]], **kwargs)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise ClusterError(f"{args[0]} failed: " + " | ".join(detail))
        return proc

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise set-up and start across processes (tests, CLI, server)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.link.exists()) and (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb once: a superuser with a random password, tuned settings."""
        if self.initialized:
            return
        self._prepare_root()
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        self._own(pwfile)
        pwfile.chmod(0o600)
        try:
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--pwfile", str(pwfile),
                "--auth-host=scram-sha-256", "--auth-local=peer",
                "--encoding=UTF8", "--locale=C.UTF-8",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        conf = "\n".join(f"{k} = {v}" for k, v in TUNING.items())
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write(f"\n# gridmap embedded cluster\n{conf}\n")
        self._save_state(password=password, port=free_port(), superuser=SUPERUSER)

    def running_port(self) -> int | None:
        """The port of the running server, or None when it is not running."""
        if not self.initialized:
            return None
        if self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode != 0:
            return None
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 else None

    def start(self) -> int:
        """Start the server unless it runs already; return its port."""
        with self._locked():
            self.init()
            port = self.running_port()
            if port:
                self._save_state(port=port)
                return port
            port = self._state().get("port") or free_port()
            if port_in_use(port):
                port = free_port()
            sock = self.socket_dir
            sock.mkdir(exist_ok=True)
            self._own(sock)
            use_socket = len(str(sock / f".s.PGSQL.{port}")) <= MAX_SOCKET_PATH
            options = f"-p {port} -c shared_preload_libraries={PRELOAD} -k " + (
                str(sock) if use_socket else "''"
            )
            self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", "120", "-o", options,
            )  # fmt: skip
            self._save_state(port=port)
            return port

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._locked():
            if not self.running_port():
                return False
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
            return True

    def remove(self) -> None:
        """Stop the server and delete the cluster's files (its data is gone), standbys too."""
        for standby in self.standbys():
            standby.remove()
        self.stop()
        with self._locked():
            if self.link.exists() or self.link.is_symlink():
                shutil.rmtree(self.root, ignore_errors=True)
                if self.link.is_symlink():
                    self.link.unlink()
            self.state_file.unlink(missing_ok=True)

    def status(self) -> ClusterStatus:
        """Whether the cluster exists and runs, and where."""
        port = self.running_port()
        return ClusterStatus(self.initialized, port is not None, port, self.data_dir, self.os_user)

    def url(self, dbname: str) -> str:
        """A SQLAlchemy/libpq URL for a database of the running cluster."""
        state = self._state()
        port = self.running_port() or state.get("port")
        if not state or not port:
            raise ClusterError("The embedded database is not set up.", hint="run: gridmap db start")
        return f"postgresql://{SUPERUSER}:{state['password']}@127.0.0.1:{port}/{dbname}"

    # -- streaming standbys (issue 16: read replicas) -------------------------------------

    def standbys(self) -> list[Standby]:
        """The standbys made for this cluster (``gridmap db start --replicas N``)."""
        found = sorted(self.home.glob("replica*.json")) if self.home.is_dir() else []
        numbers = [p.stem.removeprefix("replica") for p in found]
        return [Standby(self, int(n)) for n in numbers if n.isdigit()]

    def replica_urls(self, dbname: str) -> list[str]:
        """URLs of the running standbys of this cluster."""
        return [s.url(dbname) for s in self.standbys() if s.running_port()]


class Standby(Cluster):
    """A streaming standby of an embedded cluster: ``pg_basebackup -R`` of the running
    primary into ``<home>/replica<N>`` (its own port, socket and log), read-only, replaying
    the primary's WAL as it streams in."""

    def __init__(self, primary: Cluster, number: int) -> None:
        super().__init__(primary.home, bindir=primary._bindir, os_user=primary.os_user)
        self.primary = primary
        self.number = number
        name = f"replica{number}"
        self.state_file = self.home / f"{name}.json"
        self.link = self.home / name
        self.lock_file = self.home / f"{name}.lock"

    def init(self) -> None:
        """Clone the running primary (``pg_basebackup -R -X stream``) once."""
        if self.initialized:
            return
        port = self.primary.running_port()
        if not port:
            raise ClusterError(
                "The primary must run to make a standby of it.", hint="run: gridmap db start"
            )
        password = self.primary._state()["password"]
        self._prepare_root()
        conninfo = (
            f"host=127.0.0.1 port={port} user={SUPERUSER} password={password} "
            f"application_name=gridmap_replica{self.number}"
        )
        try:
            self._run(
                "pg_basebackup", "-D", str(self.data_dir), "-R", "-X", "stream",
                "-c", "fast", "-d", conninfo,
            )  # fmt: skip
        except ClusterError:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        with open(self.data_dir / "postgresql.conf", "a") as f:
            # reconnect within a second after the primary restarts (default: 5 s)
            f.write("\n# gridmap standby\nwal_retrieve_retry_interval = '1s'\n")
        self._save_state(password=password, port=free_port(), superuser=SUPERUSER)

    def standbys(self) -> list[Standby]:
        return []
