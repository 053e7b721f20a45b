"""A throwaway PostgreSQL server on loopback: initdb into a directory, pg_ctl start/stop.

Why: the federated demo, the benchmark and the tests need a real PostgreSQL (the shared store of
the four centres) without touching any system-wide cluster or configuration. The server binaries
come from Debian's ``postgresql`` package (``initdb``/``pg_ctl`` on PATH or under
``/usr/lib/postgresql/<version>/bin``). It listens on 127.0.0.1 only, on a free port, with its
unix socket in its own directory, trusts loopback connections (a private, temporary cluster), and
is stopped and deleted by :meth:`PgCluster.stop`.

PostgreSQL refuses to run as root: when we are root the cluster runs as an unprivileged system
user (``postgres`` when it exists, else ``nobody``) through ``runuser``, in a directory that user owns.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SUPERUSER = "borderwatch"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here, or the throwaway cluster could not start (reason given)."""


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    for d in candidates:
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(os.path.realpath(initdb)).parent
    return None


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], int | None, int | None]:
    """Command prefix, uid, gid to run the server binaries unprivileged."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", name, "--"], pw.pw_uid, pw.pw_gid
        su = shutil.which("su")
        if su:
            return [su, name, "-s", "/bin/sh", "-c"], pw.pw_uid, pw.pw_gid
    raise PostgresUnavailableError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL")


@dataclass
class PgCluster:
    """A running throwaway cluster; :attr:`url` for the ``postgres`` database, :meth:`create_database`."""

    root: Path
    port: int
    bin_dir: Path
    _prefix: tuple[str, ...] = ()
    running: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def command(self, *args: str) -> list[str]:
        """``args`` as run by the cluster's owner (through the su/sudo prefix when root must drop privileges)."""
        if self._prefix and self._prefix[0].endswith("su"):  # su ... -c "one string"
            return [*self._prefix, " ".join(args)]
        return [*self._prefix, *args]

    def create_database(self, name: str) -> str:
        """Create database ``name`` (plain identifier); return its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: use letters, digits and _")
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, *, remove: bool = True) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        if self.running:
            subprocess.run(self.command(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                                     "stop"), capture_output=True, timeout=60, check=False)
            self.running = False
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(root: Path | None = None, *, port: int | None = None, durable: bool = False,
                  max_connections: int = 200) -> PgCluster:
    """initdb + pg_ctl start on 127.0.0.1:``port`` (free port when None); raise PostgresUnavailableError.

    ``durable=False`` (tests, demo, benchmark) turns fsync off: a throwaway cluster need not survive
    a power cut, and it keeps the tests fast. ``root`` must be empty or absent; a fresh temporary
    directory is made when None.
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailableError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                                       "Debian: apt-get install postgresql")
    prefix, uid, gid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="bw-pg-")) if root is None else Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        os.chown(root, uid, gid if gid is not None else -1)
    cluster = PgCluster(root, port or free_port(), bin_dir, tuple(prefix))
    initdb = cluster.command(str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", SUPERUSER, "--auth=trust",
                             "-E", "UTF8", "--locale=C", *(() if durable else ("--no-sync",)))
    done = subprocess.run(initdb, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailableError(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
    opts = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
            + ("" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"))
    start = cluster.command(str(bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-l", str(root / "server.log"),
                            "-o", opts if not prefix or not prefix[0].endswith("su") else f"'{opts}'", "-w", "-t", "60",
                            "start")
    done = subprocess.run(start, capture_output=True, text=True, timeout=90, check=False)
    if done.returncode != 0:
        tail = ""
        try:
            tail = (root / "server.log").read_text(errors="replace")[-800:]
        except OSError:
            pass
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailableError(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-300:]} {tail}")
    cluster.running = True
    log.info("PostgreSQL %s started on 127.0.0.1:%d (%s)", bin_dir.parent.name, cluster.port, root)
    return cluster
