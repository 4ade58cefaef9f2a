"""The Dagster instance a home runs in: located, created once under a lock, and swept of dead runs.

For a local home the instance lives in ``<home>/dagster`` (SQLite unless the user wrote their own
``dagster.yaml`` there, e.g. Postgres: a file the user wrote is used as written, never rewritten). For an
object-store home there is no local folder to hold it, so ``$DAGSTER_HOME`` must name one.

Two ``vidgen curate`` processes starting on a fresh home at once used to race on creating the SQLite
schema (two alembic heads, every later run failing): creation happens under an exclusive file lock.
A CLI run's process may be killed mid-step; its run would stay STARTED forever. Runs carry their
process id and host, and every start marks runs whose process is gone as failed.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .core.common.errors import ConfigError
from .core.common.store import pid_alive

INSTANCE_YAML = """\
# Dagster instance for vidgen CLI runs and `vidgen ui` (same history in both). vidgen writes this file only
# when it is missing: edit it freely (Postgres storage, a run coordinator, ...); it is used as written.
telemetry:
  enabled: false
run_retries:
  enabled: true
  max_retries: 1
# Under the daemon (`vidgen ui`, a deployment): runs whose worker died are failed (and retried above).
run_monitoring:
  enabled: true
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
  # A run worker imports torch and the whole graph: on a loaded machine that alone can take minutes.
  start_timeout_seconds: 900
"""

PID_TAG, HOST_TAG = "vidgen/pid", "vidgen/host"
HOST = socket.gethostname()


def dagster_home_for(home: str) -> Path:
    """The instance folder for ``home`` (not created)."""
    if "://" in home:
        env = os.environ.get("DAGSTER_HOME")
        if not env:
            raise ConfigError(f"home {home} is on an object store: set $DAGSTER_HOME to a folder (or a "
                              "dagster.yaml with Postgres storage) for the Dagster instance")
        return Path(env)
    return Path(home) / "dagster"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".vidgen-init.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_instance(home: str) -> Path:
    """Create the instance folder and its storage once (under a lock); point this process at it."""
    folder = dagster_home_for(home)
    with _locked(folder):
        yaml_file = folder / "dagster.yaml"
        if not yaml_file.exists():
            tmp = folder / f".dagster.yaml.{os.getpid()}.tmp"
            tmp.write_text(INSTANCE_YAML)
            os.replace(tmp, yaml_file)
        os.environ["DAGSTER_HOME"] = str(folder)
        # Opening the instance creates (or migrates) its storage: do it while holding the lock, once per
        # Dagster version and instance configuration (a marker says it was done; later commands skip the open).
        import hashlib
        from importlib.metadata import version

        conf = hashlib.sha256(yaml_file.read_bytes()).hexdigest()[:12]
        ready = folder / f".storage-ready-{version('dagster')}-{conf}"
        if not ready.exists():
            import dagster as dg

            instance = dg.DagsterInstance.from_config(str(folder))
            try:
                instance.get_runs(limit=1)
            finally:
                instance.dispose()
            ready.touch()
    return folder


def run_tags() -> dict[str, str]:
    """Tags that let a later start tell whether this process still runs the run."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: HOST}


def fail_dead_runs(instance) -> list[str]:
    """Mark runs started by a vidgen process on this host that no longer exists as failed."""
    import dagster as dg

    dead = []
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=active, tags={HOST_TAG: HOST})):
        try:
            pid = int(run.tags.get(PID_TAG, ""))
        except ValueError:
            continue
        if not pid_alive(pid):
            instance.report_run_failed(run, f"the process running it (pid {pid}) is gone: killed or crashed")
            dead.append(run.run_id)
    return dead
