"""pgbouncer in transaction mode in front of a PostgreSQL server (issue 16: pooled connections).

Many app processes (several ``gridmap serve`` instances, each with its own SQLAlchemy pool)
share a few server connections: pgbouncer lends a server connection to a client for one
transaction only. gridmap keeps no session state on a server connection that outlives a
transaction (row-level security role and user id are ``LOCAL``, locks are transaction
advisory locks, temp tables are ``ON COMMIT DROP``, nothing LISTENs: the live change probe
polls ``gridmap_data_version``), so it runs through pgbouncer unchanged.

:class:`Bouncer` writes the configuration (``pool_mode = transaction``, listening on
127.0.0.1, a ``*`` wildcard database entry pointing at the server, SCRAM authentication
against an auth file holding the server login's password, which pgbouncer also uses to
log in to the server), starts pgbouncer as a daemon (pidfile and logfile in its folder)
and stops it. ``gridmap db start --pgbouncer`` runs one in front of the embedded cluster in
``.gridmap/pg/pgbouncer``. pgbouncer refuses to run as root: when gridmap runs as root it
runs as the cluster's unprivileged OS user, like the server.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from gridmap.db.cluster import ClusterError, free_port, port_in_use
from gridmap.errors import GridmapError

DEBIAN_PACKAGE = "pgbouncer"
#: Seconds to wait for pgbouncer to listen after starting, and to exit after stopping.
WAIT_S = 10.0


class PgbouncerError(GridmapError):
    """pgbouncer is missing, cannot start, or is misconfigured."""


def find_pgbouncer() -> Path:
    """The pgbouncer program (Debian installs it in /usr/sbin)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if not found:
        raise PgbouncerError(
            "pgbouncer was not found.",
            hint=f"install the Debian package: sudo apt-get install {DEBIAN_PACKAGE}",
        )
    return Path(found)


def _quote(value: str) -> str:
    """A value in pgbouncer's auth file (double quotes doubled)."""
    return '"' + value.replace('"', '""') + '"'


class Bouncer:
    """A pgbouncer whose configuration, pidfile and log live in ``folder``."""

    def __init__(self, folder: Path, *, os_user: str = "postgres"):
        self.folder = folder.expanduser().resolve()
        self.as_root = os.geteuid() == 0
        self.os_user = os_user if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.ini = self.folder / "pgbouncer.ini"
        self.auth_file = self.folder / "userlist.txt"
        self.pid_file = self.folder / "pgbouncer.pid"
        self.log_file = self.folder / "pgbouncer.log"
        self.state_file = self.folder / "pgbouncer.json"

    # -- configuration --------------------------------------------------------------------

    def configure(
        self,
        upstream: str,
        *,
        port: int | None = None,
        pool_size: int = 20,
        max_server: int = 80,
        max_clients: int = 1000,
        wait_s: int = 30,
    ) -> int:
        """Write the configuration for the server of ``upstream`` (a URL whose login and
        password pgbouncer checks clients against and logs in with); return the port.

        ``port`` None keeps the port of an earlier configuration, else takes a free one.
        ``pool_size`` is the server connections per database and user, ``max_server`` those
        of all databases together (below the server's ``max_connections``, 100 by default:
        with many databases, as a test run makes, the pools would otherwise exceed it); an
        idle server connection closes after 10 s, so a waiting pool of another database gets
        its place; a client waits at most ``wait_s`` seconds for one."""
        url = make_url(upstream)
        if not url.username or url.password is None:
            raise PgbouncerError("pgbouncer needs the server's login and password in the URL.")
        port = port or self._state().get("port") or free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self.auth_file.write_text(f"{_quote(url.username)} {_quote(str(url.password))}\n")
        self.auth_file.chmod(0o600)
        host, server_port = url.host or "127.0.0.1", url.port or 5432
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": port,
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": self.auth_file,
            "pool_mode": "transaction",
            "default_pool_size": pool_size,
            "min_pool_size": 0,
            "reserve_pool_size": 0,
            "max_user_connections": max_server,
            "server_idle_timeout": 10,
            "max_client_conn": max_clients,
            "query_wait_timeout": wait_s,
            "server_reset_query": "DISCARD ALL",
            "ignore_startup_parameters": "extra_float_digits",
            "admin_users": url.username,
            "stats_users": url.username,
            "logfile": self.log_file,
            "pidfile": self.pid_file,
        }
        lines = [
            "; written by gridmap (gridmap/db/pgbouncer.py); rewritten on every start",
            "[databases]",
            f"* = host={host} port={server_port}",
            "",
            "[pgbouncer]",
            *(f"{key} = {value}" for key, value in settings.items()),
        ]
        self.ini.write_text("\n".join(lines) + "\n")
        self.state_file.write_text(json.dumps({"port": port, "upstream_port": server_port}))
        self._own()
        return port

    def _ids(self) -> tuple[int, int]:
        try:
            user = pwd.getpwnam(self.os_user)
        except KeyError:
            raise PgbouncerError(
                f"The OS user {self.os_user!r} that should run pgbouncer does not exist.",
                hint="set GRIDMAP_DB_OS_USER to an unprivileged user",
            ) from None
        return user.pw_uid, user.pw_gid

    def _own(self) -> None:
        """Hand the folder and its files to the unprivileged user when we are root."""
        if not self.as_root:
            return
        uid, gid = self._ids()
        for path in [self.folder, *self.folder.iterdir()]:
            os.chown(path, uid, gid)

    # -- lifecycle ------------------------------------------------------------------------

    def _state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    @property
    def port(self) -> int | None:
        """The configured port (None before :meth:`configure`)."""
        return self._state().get("port")

    @property
    def upstream_port(self) -> int | None:
        """The configured server's port (None before :meth:`configure`)."""
        return self._state().get("upstream_port")

    def pid(self) -> int | None:
        """The running pgbouncer's process id, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        except PermissionError:
            pass
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> int:
        """Start pgbouncer (configured before) unless it runs; return its port."""
        port = self.port
        if port is None:
            raise PgbouncerError("pgbouncer is not configured.", hint="run: gridmap db start")
        if self.running():
            return port
        if port_in_use(port):
            raise PgbouncerError(
                f"Port {port} is taken by another program.",
                hint="set GRIDMAP_PGBOUNCER_PORT to a free port",
            )
        self.pid_file.unlink(missing_ok=True)
        kwargs: dict = {"capture_output": True, "text": True, "cwd": str(self.folder)}
        if self.as_root:
            uid, gid = self._ids()
            kwargs |= {"user": uid, "group": gid, "extra_groups": []}
        proc = subprocess.run([str(find_pgbouncer()), "-d", "-q", str(self.ini)], **kwargs)
        deadline = time.monotonic() + WAIT_S
        while proc.returncode == 0 and time.monotonic() < deadline:
            if port_in_use(port) and self.running():
                return port
            time.sleep(0.05)
        raise PgbouncerError(f"pgbouncer did not start: {self._last_lines(proc)}")

    def _last_lines(self, proc: subprocess.CompletedProcess[str]) -> str:
        text = (proc.stderr or proc.stdout or "").strip()
        if self.log_file.exists():
            text += "\n" + self.log_file.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.strip()][-3:]
        return " | ".join(lines) or "no message"

    def stop(self) -> bool:
        """Stop pgbouncer at once (open client connections are closed); False when it was
        not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise PgbouncerError(f"pgbouncer (pid {pid}) did not stop within {WAIT_S:g} s.")
        self.pid_file.unlink(missing_ok=True)
        return True

    def url(self, upstream: str, dbname: str | None = None) -> str:
        """``upstream`` (same login, password and database unless ``dbname``) through
        pgbouncer."""
        port = self.port
        if port is None:
            raise ClusterError("pgbouncer is not configured.", hint="run: gridmap db start")
        url: URL = make_url(upstream).set(host="127.0.0.1", port=port)
        if dbname:
            url = url.set(database=dbname)
        return url.render_as_string(hide_password=False)
