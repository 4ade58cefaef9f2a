"""The production instance for real: a user-written ``<home>/dagster/dagster.yaml`` with Postgres storage
(a real PostgreSQL server on loopback, tests/pg_server.py), the real ``dagster-daemon`` with the queued run
coordinator, and a run worker killed mid-step.

Skipped only when the PostgreSQL server binaries are absent and ``VIDGEN_REQUIRE_POSTGRES`` is unset
(.ci/run installs Debian's ``postgresql`` and sets it). Every scenario runs the commands a user runs
(``vidgen curate``, ``dagster-daemon run``, ``dagster job backfill``) as subprocesses over the vidgen code
location (plus a light ``ingest_shard`` job, tests/ingest_location.py); the test process only registers
shards (what the footage sensor does) and reads Postgres and the home's Parquet files. Timings are printed (``pytest -s``), never asserted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pg_server import REQUIRE_ENV, PostgresServer, find_bindir

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHARD_FILES = ("hard_cuts.mp4", "fade.mp4", "static.mp4", "burned_text.mp4")
# The ingest half of the graph (registration, probe, scene detection, clip planning): what concurrency,
# queueing and crashes touch is the instance, not the models; the model half only adds minutes.
UNTIL = ("--until", "clips")
SELECTION = ("shard_manifest", "videos", "scenes", "clips")
# Columns that measure the run rather than describe the data: wall seconds, registration time.
VOLATILE = {"seconds", "registered_at"}
WAIT_S = 1800  # a hang guard for polling, not a speed limit
# The vidgen code location plus a light `ingest_shard` job (the four ingest assets) for job backfills.
LOCATION = ("-f", str(Path(__file__).with_name("ingest_location.py")))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg():
    if find_bindir() is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but initdb/pg_ctl are missing (scripts/install_postgres.sh)")
        pytest.skip("PostgreSQL server binaries not installed (scripts/install_postgres.sh)")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def footage(tmp_path_factory, demo_footage) -> Path:
    """Four one-video shards' worth of demo footage at fixed paths (shard ids follow the paths)."""
    folder = tmp_path_factory.mktemp("footage")
    for name in SHARD_FILES:
        shutil.copy2(demo_footage / name, folder / name)
    return folder


def environment(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIDGEN_HOME", "VIDGEN_CONFIG", "DAGSTER_HOME", "VIDGEN_EXECUTOR")}
    if home is not None:
        env.update(VIDGEN_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    env.update(extra)
    return env


def write_instance(home: Path, pg: PostgresServer, db: str, extra: str = "") -> Path:
    """The user's own dagster.yaml, written before vidgen ever runs on this home."""
    folder = home / "dagster"
    folder.mkdir(parents=True)
    path = folder / "dagster.yaml"
    path.write_text(pg.dagster_storage_yaml(db) + "telemetry:\n  enabled: false\n" + extra)
    return path


QUEUED = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
    dequeue_interval_seconds: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 1
  start_timeout_seconds: 1200  # a loaded CI machine can take minutes to start a run worker
code_servers:
  local_startup_timeout: 600
run_retries:
  enabled: true
  max_retries: 1
"""


def vidgen(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vidgen_dagster.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{out[-4000:]}"
    return out


def shard_tables(home: Path, shard: str) -> dict[str, list[dict]]:
    """Every per-shard table of ``shard``, rows sorted, run-measuring columns dropped."""
    out = {}
    for folder in sorted((home / "tables").iterdir()):
        path = folder / f"{shard}.parquet"
        if path.exists():
            table = pq.read_table(path)
            table = table.drop_columns([c for c in table.column_names if c in VOLATILE])
            out[folder.name] = sorted(table.to_pylist(), key=repr)
    return out


def shards_of(home: Path) -> set[str]:
    return {p.stem for p in (home / "manifests").glob("*.json")}


def wait_until(what: str, predicate, log: Path | None = None, poll: float = 0.5):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    tail = log.read_text()[-6000:] if log and log.exists() else ""
    raise AssertionError(f"gave up waiting for {what} after {WAIT_S} s\n{tail}")


@contextlib.contextmanager
def daemon(home: Path, log: Path, location: tuple[str, ...] = LOCATION, **extra_env: str):
    """``dagster-daemon run`` over the code location, in its own process group (it starts a code
    server, which starts run workers): stopped by that group's id, SIGTERM then SIGKILL."""
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *location],
                                cwd=ROOT, env=environment(home, **extra_env), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def instance_of(home: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home / "dagster"))


def daemon_ready(instance) -> bool:
    beats = instance.get_daemon_heartbeats()
    return {"QUEUED_RUN_COORDINATOR", "EVENT_LOG_CONSUMER", "MONITORING"} <= set(beats)


def register(home: Path, instance, files: list[Path]) -> list[str]:
    """What the footage sensor does: one shard per file, and the shards as dynamic partitions."""
    from vidgen_dagster.core.common.store import Store
    from vidgen_dagster.core.ingest import shards as shardlib
    from vidgen_dagster.defs.resources import video_shards

    manifests = shardlib.register(Store(str(home)), [shardlib.FileEntry.of(f) for f in files], 1)
    names = sorted(m.shard for m in manifests)
    instance.add_dynamic_partitions(video_shards.name, names)
    return names


def job_backfill(home: Path, job: str, partitions: list[str], **extra_env: str) -> str:
    """``dagster job backfill``: one queued run per shard, created at once (the daemon's queued run
    coordinator launches them; the backfill itself is complete when the runs are submitted)."""
    res = subprocess.run([str(BIN / "dagster"), "job", "backfill", "-j", job, "--partitions",
                          ",".join(partitions), *LOCATION, "--noprompt"], cwd=ROOT,
                         env=environment(home, **extra_env), capture_output=True, text=True, timeout=WAIT_S)
    assert res.returncode == 0, res.stdout + res.stderr
    return re.search(r"Launched backfill job `([^`]+)`", res.stdout).group(1)


def asset_backfill(instance, partitions: list[str]) -> str:
    """A backfill of the ingest assets over ``partitions`` as the UI's "Materialize" on a partition
    selection submits it: the daemon's backfill loop turns it into one run per shard, queued."""
    import dagster as dg
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from vidgen_dagster.definitions import defs

    backfill_id = make_new_backfill_id()
    instance.add_backfill(PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(), partition_names=partitions,
        asset_selection=[dg.AssetKey(k) for k in SELECTION], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None))
    return backfill_id


def finished_runs(instance, count: int):
    runs = instance.get_runs()
    done = [r for r in runs if r.is_finished]
    return runs if len(runs) >= count and len(done) == len(runs) else None


def curate_reference(pg: PostgresServer, home: Path, files: list[Path], db: str) -> float:
    """``vidgen curate`` (two shards at once) on a fresh Postgres home: reference tables; wall seconds."""
    write_instance(home, pg, pg.create_database(db))
    start = time.monotonic()
    finish(vidgen("curate", *map(str, files), *UNTIL, "--home", str(home), "--shard-size", "1",
                  "--jobs", "2", env=environment()))
    return time.monotonic() - start


def test_two_curates_at_once_on_one_postgres_home(pg, footage, tmp_path):
    home = tmp_path / "home"
    db = pg.create_database("concurrent")
    yaml_file = write_instance(home, pg, db)
    written = yaml_file.read_text()
    env = environment()
    # Different inputs at once, on a fresh database (both processes create the schema's first runs).
    a = vidgen("curate", str(footage / "static.mp4"), *UNTIL, "--home", str(home), env=env)
    b = vidgen("curate", str(footage / "fade.mp4"), *UNTIL, "--home", str(home), env=env)
    finish(a), finish(b)
    # The same input at once: both register the same shard and run it; both must succeed.
    c = vidgen("curate", str(footage / "burned_text.mp4"), *UNTIL, "--home", str(home), env=env)
    d = vidgen("curate", str(footage / "burned_text.mp4"), *UNTIL, "--home", str(home), env=env)
    finish(c), finish(d)

    shards = shards_of(home)
    assert len(shards) == 3
    runs = pg.query("SELECT partition, status FROM runs", db)
    assert {p for p, _ in runs} == shards  # every shard's run is in Postgres ...
    assert {s for _, s in runs} == {"SUCCESS"}, runs
    assert not (home / "dagster" / "history").exists()  # ... and nothing went to SQLite
    assert yaml_file.read_text() == written  # the user's instance file is used as written

    third = finish(vidgen("curate", str(footage / "static.mp4"), str(footage / "fade.mp4"),
                          str(footage / "burned_text.mp4"), *UNTIL, "--home", str(home), env=env))
    assert all(f"{shard}: up to date" in third for shard in shards) and "materializing" not in third, third
    assert len(pg.query("SELECT run_id FROM runs", db)) == len(runs)  # nothing ran
    for shard in shards:
        assert shard_tables(home, shard)["clips"], shard



def test_daemon_backfills_four_shards_two_at_a_time(pg, footage, tmp_path):
    from dagster._core.events import DagsterEventType

    files = [footage / f for f in SHARD_FILES]
    clean = tmp_path / "clean"
    baseline = curate_reference(pg, clean, files, "clean4")
    home = tmp_path / "home"
    db = pg.create_database("daemon")
    write_instance(home, pg, db, QUEUED)
    instance = instance_of(home)
    shards = register(home, instance, files)
    assert set(shards) == shards_of(clean)
    log = tmp_path / "daemon.log"
    with daemon(home, log, VIDGEN_EXECUTOR="multiprocess"):
        wait_until("the daemon's heartbeats", lambda: daemon_ready(instance), log)
        start = time.monotonic()
        backfill_id = job_backfill(home, "ingest_shard", shards, VIDGEN_EXECUTOR="multiprocess")
        runs = wait_until("four finished runs", lambda: finished_runs(instance, 4), log)
        elapsed = time.monotonic() - start

    assert {r.tags["dagster/partition"] for r in runs} == set(shards)
    assert {r.tags["dagster/backfill"] for r in runs} == {backfill_id}
    assert {r.status.value for r in runs} == {"SUCCESS"}, [(r.run_id, r.status) for r in runs]
    assert {p for (p,) in pg.query("SELECT partition FROM runs WHERE status = 'SUCCESS'", db)} == set(shards)
    # The coordinator's limit held and was used: at most two runs at once, and two did overlap.
    spans = [(r.start_time, r.end_time) for r in instance.get_run_records()]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2, spans
    for run in runs:  # steps ran in the multiprocess executor's child processes
        assert instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_WORKER_STARTED), run.run_id
    for shard in shards:
        assert shard_tables(home, shard) == shard_tables(clean, shard), shard
    print(f"\n4 shards ({', '.join(SELECTION)}): backfill under dagster-daemon (queued, 2 runs at once, "
          f"multiprocess executor, forkserver) {elapsed:.1f} s; `vidgen curate --jobs 2` {baseline:.1f} s; "
          f"daemon/curate ratio {elapsed / baseline:.2f}")


def test_killed_run_worker_is_failed_retried_and_matches_a_clean_run(pg, media, tmp_path):
    from dagster._core.events import DagsterEventType

    # A 139 s video: its scene detection decodes for seconds, so the kill lands inside that step.
    video = tmp_path / "long.mp4"
    shutil.copy2(media / "static_long__intel_one-by-one-person-detection.mp4", video)
    victim_step = "scenes"
    clean = tmp_path / "clean"
    curate_reference(pg, clean, [video], "clean1")
    home = tmp_path / "home"
    db = pg.create_database("crash")
    write_instance(home, pg, db, QUEUED)
    instance = instance_of(home)
    (shard,) = register(home, instance, [video])
    log = tmp_path / "daemon.log"
    # In-process executor: the run worker itself executes the steps. The vidgen code location as deployed.
    with daemon(home, log, ("-m", "vidgen_dagster.definitions")):
        wait_until("the daemon's heartbeats", lambda: daemon_ready(instance), log)
        asset_backfill(instance, [shard])
        (first,) = wait_until("the run", lambda: instance.get_runs(), log)

        def step_started():
            starts = instance.all_logs(first.run_id, of_type=DagsterEventType.STEP_START)
            return any(e.step_key == victim_step for e in starts)

        wait_until(f"{victim_step} to start", step_started, log, poll=0.05)
        engine = instance.all_logs(first.run_id, of_type=DagsterEventType.ENGINE_EVENT)
        pid = next(int(m.group(1)) for e in engine
                   if (m := re.search(r"Started process for run \(pid: (\d+)\)", e.message or "")))
        os.kill(pid, signal.SIGKILL)

        def retried():
            retries = [r for r in instance.get_runs() if r.tags.get("dagster/parent_run_id") == first.run_id]
            return retries if retries and all(r.is_finished for r in retries) else None

        (retry,) = wait_until("the retry run", retried, log)

    assert instance.get_run_by_id(first.run_id).status.value == "FAILURE"
    # The kill was mid-step: the step started in the first run and never ended there.
    ends = instance.all_logs(first.run_id, of_type={DagsterEventType.STEP_SUCCESS,
                                                    DagsterEventType.STEP_FAILURE})
    assert victim_step not in {e.step_key for e in ends}
    crash = [e.message for e in instance.all_logs(first.run_id, of_type=DagsterEventType.ENGINE_EVENT)
             if "signal" in (e.message or "").lower() or "unexpectedly" in (e.message or "")]
    assert crash, "no engine event records the dead run worker"
    assert retry.status.value == "SUCCESS", retry
    assert retry.tags.get("dagster/retry_number") == "1"
    redone = {e.step_key for e in instance.all_logs(retry.run_id, of_type=DagsterEventType.STEP_SUCCESS)}
    assert victim_step in redone
    assert pg.query(f"SELECT status FROM runs WHERE run_id = '{retry.run_id}'", db) == [("SUCCESS",)]
    assert shard_tables(home, shard) == shard_tables(clean, shard)
    print(f"\nkilled run worker (pid {pid}) in {victim_step}: {crash[0]!r}; retried as {retry.run_id}")
