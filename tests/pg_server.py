"""A real PostgreSQL server for tests: Debian's ``postgresql`` binaries, a throw-away cluster.

:class:`PostgresServer` runs ``initdb`` into a temporary data directory, starts the server with
``pg_ctl`` on a free ``127.0.0.1`` port (its Unix socket inside the data directory, so nothing under
``/var/run/postgresql`` is needed), creates a password-protected role and database, and on exit stops
the postmaster by the pid in ``postmaster.pid`` (SIGINT: PostgreSQL's "fast" shutdown) and removes
the directory. As root, every server command runs as the ``postgres`` user (PostgreSQL refuses to
run as root); otherwise as the current user.

    with PostgresServer() as pg:
        pg.dagster_storage_yaml()   # the `storage:` section of a dagster.yaml pointing at it
        pg.query("SELECT count(*) FROM runs")
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REQUIRE_ENV = "VIDGEN_REQUIRE_POSTGRES"


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folder
    (``/usr/lib/postgresql/<major>/bin``, which the package does not put on PATH), newest first."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, user: str = "vidgen", database: str = "dagster"):
        self.bindir = find_bindir()
        if self.bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.user, self.database = user, database
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root: Path | None = None
        self.pid: int | None = None
        as_root = os.geteuid() == 0
        self._owner = pwd.getpwnam("postgres") if as_root else None

    # -- commands as the server's owner ---------------------------------------------------------
    def _as_owner(self, argv: list[str]) -> list[str]:
        if self._owner is None:
            return argv
        # runuser (util-linux) switches user without PAM prompts; su is the fallback.
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--", *argv]
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, argv))]

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        res = subprocess.run(self._as_owner(argv), capture_output=True, text=True, cwd=self.root, **kw)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
                               + self._log_tail())
        return res

    def _log_tail(self) -> str:
        log = self.root / "server.log" if self.root else None
        return "\n--- server.log ---\n" + log.read_text()[-3000:] if log and log.exists() else ""

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        # Not under pytest's tmp_path: that lives in a root-only (0700) folder the postgres user
        # cannot enter. mkdtemp under /tmp, then hand the folder to the server's owner.
        self.root = Path(tempfile.mkdtemp(prefix="vidgen-pg-"))
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        data = self.root / "data"
        pwfile = self.root / "superuser.pw"
        pwfile.write_text(self.password + "\n")
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run([str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile),
                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        pwfile.unlink()
        self.port = free_port()
        # Durability off: a test cluster is thrown away, and fsyncs on a shared CI disk cost seconds.
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"),
                   "-o", opts, "-w", "-t", "60", "start"])
        self.pid = int((data / "postmaster.pid").read_text().split()[0])
        self.psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'", db="postgres")
        self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}", db="postgres")
        return self

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)  # fast shutdown: roll back open sessions, exit
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.1)
            if _alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGQUIT)  # immediate shutdown
            self.pid = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- use --------------------------------------------------------------------------------------
    def create_database(self, name: str) -> str:
        """A fresh database owned by the test role (one per test: instances never share history)."""
        self.psql(f"CREATE DATABASE {name} OWNER {self.user}", db="postgres")
        return name

    def psql(self, sql: str, db: str | None = None) -> str:
        """Run ``sql`` as the superuser over the Unix socket; tab-separated rows, no header."""
        psql = self.bindir / "psql"
        exe = str(psql) if psql.exists() else "psql"
        return self._run([exe, "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
                          "-d", db or self.database, "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t",
                          "-c", sql]).stdout

    def query(self, sql: str, db: str | None = None) -> list[tuple[str, ...]]:
        return [tuple(line.split("\t")) for line in self.psql(sql, db).splitlines() if line]

    def dagster_storage_yaml(self, db: str | None = None) -> str:
        """The ``storage:`` section of a ``dagster.yaml``: runs, events and schedules in this database,
        over TCP with the password, as a user's instance would reach a real server."""
        return (
            "storage:\n"
            "  postgres:\n"
            "    postgres_db:\n"
            f"      username: {self.user}\n"
            f"      password: {self.password}\n"
            "      hostname: 127.0.0.1\n"
            f"      db_name: {db or self.database}\n"
            f"      port: {self.port}\n"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
