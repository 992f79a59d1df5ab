"""The embedded cluster's lifecycle: create, start, reuse, stop, and running as root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from gridmap.db.cluster import FALLBACK_ROOT, Cluster, ClusterError, reachable_by

pytestmark = pytest.mark.slow
AS_ROOT = os.geteuid() == 0


def server_uid(cluster: Cluster) -> int:
    """The uid the running postmaster process has."""
    pid = (cluster.data_dir / "postmaster.pid").read_text().splitlines()[0]
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "home" / ".gridmap")
    yield c
    c.remove()


def test_lifecycle_start_reuse_stop(cluster: Cluster) -> None:
    assert not cluster.status().initialized
    port = cluster.start()
    assert cluster.status().running
    assert cluster.start() == port, "a running cluster is reused, not started twice"
    with psycopg2.connect(cluster.url("postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, inet_server_port()")
        assert cur.fetchone() == ("gridmap", port)
    assert cluster.stop() is True
    assert cluster.stop() is False
    st = cluster.status()
    assert st.initialized and not st.running and st.port is None
    assert cluster.start() > 0, "a stopped cluster starts again"
    assert cluster.status().running


def test_password_is_required_over_tcp(cluster: Cluster) -> None:
    port = cluster.start()
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(f"postgresql://gridmap:wrong@127.0.0.1:{port}/postgres")


def test_state_file_is_private(cluster: Cluster) -> None:
    cluster.start()
    assert cluster.state_file.stat().st_mode & 0o077 == 0


@pytest.mark.skipif(not AS_ROOT, reason="needs root")
def test_as_root_runs_server_as_postgres_outside_unreachable_home(cluster: Cluster) -> None:
    # pytest's tmp_path lies under a mode-700 folder the postgres user cannot enter.
    postgres = pwd.getpwnam("postgres")
    assert not reachable_by(cluster.home, postgres.pw_uid, {postgres.pw_gid})
    cluster.start()
    assert server_uid(cluster) == postgres.pw_uid
    assert cluster.link.is_symlink()
    assert cluster.root.parent == FALLBACK_ROOT
    cluster.remove()
    assert not cluster.link.exists()
    assert not cluster.root.exists() or cluster.root == cluster.link


@pytest.mark.skipif(not AS_ROOT, reason="needs root")
def test_as_root_keeps_data_in_place_when_reachable() -> None:
    home = Path(f"/tmp/gridmap-test-cluster-{os.getpid()}")
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    c = Cluster(home / ".gridmap")
    try:
        c.start()
        assert not c.link.is_symlink()
        assert c.root == c.link
        assert server_uid(c) == pwd.getpwnam("postgres").pw_uid
    finally:
        c.remove()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(not AS_ROOT, reason="needs root to switch user")
def test_as_ordinary_user() -> None:
    """An ordinary user runs the server as themself (here: the postgres user)."""
    user = pwd.getpwnam("postgres")
    checkout = Path(__file__).resolve().parents[3]
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    # The venv's interpreter may live under /root (mode 700): use the system one, same version.
    python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    ids = (user.pw_uid, {user.pw_gid})
    if not (python.exists() and reachable_by(checkout, *ids) and reachable_by(Path(site), *ids)):
        pytest.skip("no system python of this version, or the checkout is not reachable")
    home = Path(f"/tmp/gridmap-test-user-{os.getpid()}")
    home.mkdir(mode=0o700)
    os.chown(home, user.pw_uid, user.pw_gid)
    script = (
        "from pathlib import Path; from gridmap.db.cluster import Cluster;"
        f"c = Cluster(Path('{home}/.gridmap')); p = c.start(); assert c.start() == p;"
        "print(c.os_user, p); c.remove()"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", script],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            cwd=str(home),
            env={"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": f"{checkout}:{site}"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0] == "postgres"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_missing_server_user_is_a_clear_error(tmp_path: Path) -> None:
    if not AS_ROOT:
        pytest.skip("the server user only matters as root")
    c = Cluster(tmp_path / ".gridmap", os_user="no-such-user-gridmap")
    with pytest.raises(ClusterError, match="does not exist"):
        c.start()


def test_reachable_by(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o700)
    nobody = pwd.getpwnam("nobody")
    assert not reachable_by(inner, nobody.pw_uid, {nobody.pw_gid})
    (tmp_path / "a").chmod(0o711)
    assert reachable_by(inner, nobody.pw_uid, {nobody.pw_gid}) == reachable_by(
        tmp_path, nobody.pw_uid, {nobody.pw_gid}
    )
