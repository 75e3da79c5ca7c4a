"""A real PostgreSQL for tests: initdb and pg_ctl in a temp folder, on a free loopback port.

PostgreSQL refuses to run as root, so under root the server runs as user `postgres`
(the Debian package creates it) in a folder that user owns. Each test gets its own
database from `new_database()`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support.broker import free_port


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PgServer:
    def __init__(self, durable: bool = False) -> None:
        self.durable = durable      # fsync as in production; tests skip it for speed
        self.bin = pg_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cp-pg-"))
        self.data = self.folder / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self) -> None:
        self._run("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "-D", str(self.data))
        self.resume()

    def halt(self) -> None:
        """Stop the server at once, as a crash or a failover looks to its clients (every
        connection drops, nothing is shut down cleanly); its data stays for resume()."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the server on its data folder and port (after start()'s initdb)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "start")

    def new_database(self) -> str:
        """A fresh, empty database; its postgresql:// URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def _started() -> PgServer:
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install.sh installs it)")
    server = PgServer()
    server.start()
    return server


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL per test session (import this fixture into a test module)."""
    server = _started()
    yield server
    server.stop()


@pytest.fixture
def own_pg_server():
    """A PostgreSQL of the test's own, for a test that stops and starts it."""
    server = _started()
    yield server
    server.stop()


@pytest.fixture(params=("sqlite", "postgresql"))
def district_store_url(request, tmp_path):
    """A district store URL on each backend in turn: a SQLite file, a fresh PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/district.db"
    return request.getfixturevalue("pg_server").new_database()
