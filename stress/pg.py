#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for the stress scripts (SPEC-2 §16, `--database-url`).

The Python twin of tests/common/pg.rs: a real server from the machine's Debian packages
(/usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/*/bin, or the folder in
AGENDAMENTO_TEST_PG_BIN), `initdb` in a temporary folder (as the `postgres` user when run as
root: initdb and pg_ctl refuse root), a free port on 127.0.0.1, `fsync=on`,
`max_connections=200`, a database `agendamento`. Leaving the context stops the server
(immediate mode) and removes the folder; a watchdog process does the same if this process dies
without getting there (SIGKILL).

    from pg import cluster
    with cluster() as pg:
        run_server("--database-url", pg.url)   # str(pg) is the URL too
        pg.stop()            # clean stop (pg_ctl stop -m fast)
        pg.start()           # the same port, the same data
        pg.stop_immediate()  # crash-like stop (pg_ctl stop -m immediate)
        pg.restart()

`python3 stress/pg.py` runs a self-check (start, psql 'select 1', stop, start, stop) and prints
`pg.py self-check: ok`. Python 3.11 standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

DATABASE = "agendamento"
BIN_ENV = "AGENDAMENTO_TEST_PG_BIN"
PORT_ATTEMPTS = 5

# Waits for end of file on stdin (only this process holds the write end), then stops the
# server if its data folder is still there and removes the folder.
# Arguments: the folder, the data folder, then the pg_ctl command (with runuser as root).
WATCHDOG = r"""
root=$1; data=$2; shift 2
cat >/dev/null
if [ -d "$data" ]; then
  "$@" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
  rm -rf "$root"
fi
"""


def bin_dir() -> Path:
    """The folder of initdb/pg_ctl; raises SystemExit with what to install when missing."""
    override = os.environ.get(BIN_ENV)
    if override:
        if not (Path(override) / "initdb").is_file():
            raise SystemExit(f"{BIN_ENV}={override} has no initdb")
        return Path(override)
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").is_file():
        return preferred
    found = []
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        for entry in base.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "initdb").is_file():
                found.append((int(entry.name), entry / "bin"))
    if not found:
        raise SystemExit(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb "
            f"(apt-get install -y postgresql, or set {BIN_ENV})"
        )
    return max(found)[1]


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """A running (or stopped) PostgreSQL server in its own temporary folder."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="agendamento-pg-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = 0
        self._watchdog: subprocess.Popen | None = None
        try:
            if self.as_postgres:
                self._run(["chown", "postgres:", str(self.dir)], "chown to postgres")
            self._watchdog = subprocess.Popen(
                ["sh", "-c", WATCHDOG, "pg-watchdog", str(self.dir), str(self.data)]
                + self._pg("pg_ctl"),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            # --no-sync: initdb skips its final sync of the fresh files (halves the start-up);
            # the server itself runs with fsync=on.
            self._run(
                self._pg("initdb")
                + ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                   "--no-sync", "-D", str(self.data)],
                "initdb",
            )
            self._first_start()
            self._run(
                [str(self.bin / "createdb"), "-h", str(self.dir), "-p", str(self.port),
                 "-U", "postgres", DATABASE],
                "createdb",
            )
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """postgres://postgres@127.0.0.1:PORT/agendamento (trust authentication)."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def __str__(self) -> str:
        return self.url

    def log(self) -> str:
        """Everything the server logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Clean stop (pg_ctl stop -m fast), waiting until the server is gone."""
        self._stop("fast")

    def stop_immediate(self) -> None:
        """Crash-like stop (pg_ctl stop -m immediate: no checkpoint, WAL replay on start)."""
        self._stop("immediate")

    def start(self) -> None:
        """Starts the stopped server again: the same port, the same data."""
        result = self._pg_ctl_start()
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{self.log()}")

    def restart(self) -> None:
        """Clean stop, then start."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stops the server (immediate) and removes the folder; safe to call twice."""
        if self.data.is_dir():
            subprocess.run(
                self._pg("pg_ctl") + ["-D", str(self.data), "-m", "immediate", "-w", "stop"],
                stdin=subprocess.DEVNULL, capture_output=True, check=False,
            )
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._watchdog is not None:
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.close()
            self._watchdog.wait()
            self._watchdog = None

    def _pg(self, program: str) -> list[str]:
        path = str(self.bin / program)
        return ["runuser", "-u", "postgres", "--", path] if self.as_postgres else [path]

    def _run(self, command: list[str], what: str) -> None:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{what} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k '{self.dir}' "
                   "-c fsync=on -c max_connections=200")
        return subprocess.run(
            self._pg("pg_ctl") + ["-D", str(self.data), "-l", str(self.log_path), "-o", options,
                                  "-w", "-t", "60", "start"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
        )

    def _first_start(self) -> None:
        failures = []
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            result = self._pg_ctl_start()
            if result.returncode == 0:
                return
            log = self.log()
            failures.append(f"port {self.port}: {result.stdout}{result.stderr}\n{log}")
            if "could not bind" not in log and "already in use" not in log:
                break
            self.log_path.unlink(missing_ok=True)
        raise RuntimeError("PostgreSQL did not start:\n" + "\n".join(failures))

    def _stop(self, mode: str) -> None:
        result = subprocess.run(
            self._pg("pg_ctl") + ["-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop -m {mode} failed: {result.stdout}{result.stderr}")


@contextlib.contextmanager
def cluster() -> Iterator[PgCluster]:
    """A fresh cluster for the `with` block; stopped and removed afterwards."""
    pg = PgCluster()
    try:
        yield pg
    finally:
        pg.close()


def _psql(pg: PgCluster, sql: str) -> str:
    psql = pg.bin / "psql"
    binary = str(psql) if psql.is_file() else "/usr/bin/psql"
    result = subprocess.run(
        [binary, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", pg.url, "-c", sql],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    with cluster() as pg:
        folder, port = pg.dir, pg.port
        assert _psql(pg, "select 1") == "1"
        assert _psql(pg, "show fsync") == "on", "fsync is not on"
        _psql(pg, "create table t (v int); insert into t values (1)")
        pg.stop()
        assert not _port_accepts(port), "the port is still open after stop"
        pg.start()
        assert _psql(pg, "select v from t") == "1", "the data did not survive stop/start"
        pg.stop()
    assert not folder.exists(), f"{folder} was not removed"
    assert not _port_accepts(port), "the port is still open after the context"
    print(f"pg.py self-check: ok ({pg.url}, {pg.bin})")
    return 0


def run_with_cluster(command: list[str]) -> int:
    """`pg.py run -- CMD…`: runs CMD with a fresh cluster, its server's URL (database
    `postgres`, where a test may CREATE DATABASE) in AGENDAMENTO_TESTE_PG."""
    import os
    with cluster() as pg:
        env = dict(os.environ)
        env["AGENDAMENTO_TESTE_PG"] = f"postgres://postgres@127.0.0.1:{pg.port}/postgres"
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "run" and sys.argv[2] == "--":
        sys.exit(run_with_cluster(sys.argv[3:]))
    sys.exit(main())
