"""Running the graph from the command line: the home's configuration, registration, staleness, and
runs of the per-shard job ``curate_shard`` in the home's Dagster instance (the same runs a UI
backfill makes), up to ``jobs`` shards at once.

An asset partition is re-run when it was never materialised, when its code version (which carries
the hash of the configuration it reads) changed, or when a parent's data changed since it was read.
So a second ``vidgen curate`` over the same input materialises nothing, and a changed
``clips.min_seconds`` re-runs ``clips`` and below, never ``scenes``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.common.config import (
    HOME_CONFIG,
    changes,
    home_record,
    load_config,
    merge_overrides,
    read_overrides,
)
from .core.common.errors import ConfigError, StoreError
from .core.common.store import Store, resolve_home
from .core.ingest import shards as shardlib
from .instance import fail_dead_runs, prepare_instance, run_tags
from .staleness import asset_graph, plan_runs, record_runs

JOB = "curate_shard"
Echo = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


# -- the home's configuration of record ---------------------------------------------------------------
def home_config(home: str | None, overlay: str | None = None) -> dict:
    """The effective configuration for ``home`` (defaults + its record [+ a one-off overlay file])."""
    return load_config(overlay, home_record(Store(home)))


def apply_config(store: Store, config_path: str | None, echo: Echo = _print) -> tuple[dict, bool]:
    """Merge ``config_path`` into the home's record (validated first; nothing written when invalid).
    Returns the effective configuration and whether the record changed (the changes are echoed)."""
    import yaml

    record = home_record(store)
    if not config_path:
        return load_config(None, record), False
    updated = merge_overrides(record, read_overrides(config_path))
    config = load_config(None, updated)  # raises ConfigError naming the key: before anything is written
    try:
        before = load_config(None, record)
    except ConfigError:
        before = load_config(None, {})
    diff = changes(before, config)
    if updated != record:
        store.write_bytes(HOME_CONFIG, yaml.safe_dump(updated, sort_keys=True).encode())
    if diff:
        echo(f"configuration of {store.home} updated from {config_path}:")
        for key, old, new in diff:
            echo(f"  {key}: {old!r} -> {new!r}")
    return config, bool(diff)


def use_home(home: str | None) -> str:
    """Point this process (and Dagster) at ``home``; returns the resolved home."""
    resolved = resolve_home(home)
    os.environ["VIDGEN_HOME"] = resolved
    prepare_instance(resolved)
    return resolved


# -- staleness ----------------------------------------------------------------------------------------
@dataclass
class ShardRun:
    shard: str
    assets: list[str]
    success: bool = True
    error: str = ""
    seconds: float = 0.0
    run_id: str = ""


@dataclass
class CurateResult:
    new_shards: list[str] = field(default_factory=list)
    runs: list[ShardRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failed_checks: list = field(default_factory=list)  # status.FailedCheck of every registered shard, after the runs

    @property
    def ok(self) -> bool:
        return all(r.success for r in self.runs)


def shard_assets(defs) -> list:
    from .defs.resources import video_shards

    graph = asset_graph(defs)
    return [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def == video_shards]


def upstream_of(defs, until: str | None) -> list:
    import dagster as dg

    graph = asset_graph(defs)
    partitioned = shard_assets(defs)
    if not until:
        return partitioned
    target = dg.AssetKey(until)
    if target not in partitioned:
        names = ", ".join(sorted(k.to_user_string() for k in partitioned))
        raise ConfigError(f"--until {until!r} is not a per-shard asset; choose one of: {names}")
    keep, frontier = {target}, [target]
    while frontier:  # walk parents: the target and everything upstream of it
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in keep:
                keep.add(parent)
                frontier.append(parent)
    return [k for k in partitioned if k in keep]


# -- running shards -----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _worker_setup(home: str, log_level: str, threads: int) -> None:
    """Per process: the definitions and the instance, loaded once for every shard it runs."""
    import dagster as dg

    from .defs.graph import build_definitions

    if threads:
        os.environ["VIDGEN_THREADS"] = str(threads)  # OCR and decoder threads: a share of the cores
        # torch (and any OpenMP/BLAS user) sizes its pool from these when it is first imported; importing it
        # here only to set its threads cost every worker seconds, in runs that never use it.
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    os.environ["VIDGEN_HOME"] = home
    os.environ["DAGSTER_HOME"] = str(prepare_instance(home))
    _WORKER.update(defs=build_definitions(home), instance=dg.DagsterInstance.get(), log_level=log_level)


def _run_shard(shard: str, names: list[str]) -> ShardRun:
    import dagster as dg

    defs, instance = _WORKER["defs"], _WORKER["instance"]
    run = ShardRun(shard, names)
    t0 = time.monotonic()
    try:
        job = defs.resolve_job_def(JOB)
        res = job.execute_in_process(
            instance=instance, partition_key=shard, asset_selection=[dg.AssetKey(n) for n in names],
            raise_on_error=False, tags={"vidgen/source": "cli", **run_tags()},
            # Progress and warnings on the console; step events stay in the run log.
            run_config={"loggers": {"console": {"config": {"log_level": _WORKER["log_level"]}}}})
        run.success, run.run_id = res.success, res.run_id
        if not res.success:
            failures = [e for e in res.all_events if e.is_step_failure]
            run.error = "; ".join(str(e.step_key) + ": " + (e.step_failure_data.error.message.strip()
                                  if e.step_failure_data.error else "failed") for e in failures) or "run failed"
    except Exception as exc:  # a run that cannot even start: report it, keep going
        run.success, run.error = False, f"{type(exc).__name__}: {exc}"
    run.seconds = round(time.monotonic() - t0, 2)
    return run


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def curate(
    paths: Sequence[str],
    home: str | None = None,
    config_path: str | None = None,
    shard_size: int | None = None,
    until: str | None = None,
    jobs: int | None = None,
    echo: Echo = _print,
    log_level: str = "INFO",
) -> CurateResult:
    """Register ``paths`` into shards and materialise what is missing or stale for their shards.

    Everything the user typed is checked before anything is written: the configuration (merged into
    the home's record), ``shard_size``, ``jobs``, ``until`` and that the paths exist."""
    if shard_size is not None and shard_size < 1:
        raise ConfigError(f"--shard-size must be at least 1, got {shard_size}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    resolved = resolve_home(home)
    store = Store(resolved)
    if "://" not in resolved and Path(resolved).exists() and not Path(resolved).is_dir():
        raise StoreError(f"--home {resolved} is a file, not a folder")
    config = load_config(config_path, home_record(store))  # validate before writing anything
    from .defs.graph import build_definitions

    defs = build_definitions(resolved, config=config)
    selection = upstream_of(defs, until)
    found = shardlib.discover(paths, config["ingest"]["extensions"])
    if not found:
        raise ConfigError(f"no video files found under: {', '.join(map(str, paths))}")

    # -- from here on the home is written ------------------------------------------------------------
    config, _ = apply_config(store, config_path, echo)
    use_home(resolved)
    import dagster as dg

    from .defs.models import observe_models
    from .defs.resources import video_shards

    instance = dg.DagsterInstance.get()
    result = CurateResult()
    dead = fail_dead_runs(instance)
    if dead:
        echo(f"marked {len(dead)} run(s) failed whose process had died: {', '.join(dead)}")
    swept = store.sweep_temp_files()
    if swept:
        echo(f"removed {len(swept)} temporary file(s) left by killed writers")
    adopted = shardlib.adopt_legacy_roots(store)
    if adopted:
        echo(f"recorded {len(adopted)} input folder(s) this home's manifests already name")
    shardlib.add_input_roots(store, paths)

    manifests = shardlib.load_manifests(store, result.problems)
    for problem in result.problems:
        echo(f"SKIPPED manifest: {problem}")
    roots = [shardlib.root_of(p) for p in paths]
    touched = [m for m in manifests if any(shardlib.is_inside(f.path, r) for f in m.files for r in roots)]
    changed: set[str] = set()
    for m in touched:
        updated = shardlib.refresh(store, m)
        if updated:
            changed.add(m.shard)
            diff = [f.path for f, g in zip(m.files, updated.files, strict=True) if f.fingerprint() != g.fingerprint()]
            echo(f"{m.shard}: {len(diff)} source file(s) changed or gone since registration "
                 f"({', '.join(Path(p).name for p in diff[:3])}{', ...' if len(diff) > 3 else ''}): re-curating")
    entries = [shardlib.FileEntry.probe(p) for p in found]
    size = int(shard_size or config["ingest"]["shard_size"])
    new = shardlib.register(store, entries, size, manifests)
    result.new_shards = [m.shard for m in new]
    shards = sorted({m.shard for m in touched} | set(result.new_shards))

    existing = set(instance.get_dynamic_partitions(video_shards.name))
    missing = [s for s in shards if s not in existing]
    if missing:
        instance.add_dynamic_partitions(video_shards.name, missing)
    echo(f"{len(entries)} file(s) in {len(shards)} shard(s) ({len(new)} new) under {resolved}")

    observe_models(instance, config)  # a pulled or removed model: the assets that use it are stale
    force = [dg.AssetKey("shard_manifest"), dg.AssetKey("videos")]
    plan = plan_runs(defs, instance, shards, selection, {s: force for s in changed})
    work: list[tuple[str, list[str]]] = []
    for i, shard in enumerate(shards, 1):
        keys = plan.stale[shard]
        if not keys:
            echo(f"[{i}/{len(shards)}] {shard}: up to date")
            continue
        names = [k.to_user_string() for k in keys]
        echo(f"[{i}/{len(shards)}] {shard}: materializing {', '.join(names)}")
        work.append((shard, names))
    jobs = min(jobs or default_jobs(), max(1, len(work)))
    footage_bytes = {m.shard: sum(max(f.size_bytes, 0) for f in m.files) for m in [*manifests, *new]}
    result.runs = _execute(work, resolved, jobs, log_level, echo, footage_bytes)
    if work and result.ok:  # every stale asset and all below it ran: the shards are up to date now
        record_runs(instance, plan, selection, shards, [r.run_id for r in result.runs])
    if work or not (store.is_local and Path(store.catalog_path).exists()):
        try:
            store.refresh_catalog()
        except StoreError as exc:  # the runs are recorded; the catalog file is a convenience for other tools
            echo(f"WARNING: {exc}")
    from .status import failed_checks

    registered = {m.shard for m in shardlib.load_manifests(store)}
    result.failed_checks = failed_checks(instance, list(asset_graph(defs).asset_check_keys), registered)
    return result


def _execute(work: list[tuple[str, list[str]]], home: str, jobs: int, log_level: str, echo: Echo,
             size: dict[str, int] | None = None) -> list[ShardRun]:
    """Run each shard's stale assets as a run of the per-shard job: here when ``jobs`` is 1, else in
    ``jobs`` worker processes (each loads the code once and gets its share of the cores). On a terminal,
    progress bars: shards overall, and (in-process runs) the current step's videos or clips."""
    if not work:
        return []
    from .core.common import progress

    with progress.console(len(work)) as con:
        if con.bars:  # the bars replace Dagster's INFO progress lines; warnings still print
            echo, log_level = con.write, "WARNING"
        return _execute_runs(work, home, jobs, log_level, echo, con, size or {})


def _execute_runs(work: list[tuple[str, list[str]]], home: str, jobs: int, log_level: str, echo: Echo,
                  con, size: dict[str, int]) -> list[ShardRun]:
    runs: list[ShardRun] = []
    done = 0

    def finished(run: ShardRun) -> None:
        nonlocal done
        done += 1
        state = "ok" if run.success else f"FAILED: {run.error}"
        echo(f"  [{done}/{len(work)} shards] {run.shard}: {state} ({run.seconds:.1f} s)")
        runs.append(run)
        con.shard_done()

    if jobs == 1:
        _worker_setup(home, log_level, 0)
        for shard, names in work:
            con.shard(shard)
            finished(_run_shard(shard, names))
        return runs
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, default_jobs() // jobs)
    echo(f"running {len(work)} shard(s), {jobs} at a time ({threads} thread(s) each)")
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch/dagster threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_setup,
                             initargs=(home, "WARNING", threads)) as pool:
        # Largest shards first (bytes of footage: a rough measure of a run's cost), so the last runs to start
        # are short and no worker idles long while another finishes a big one.
        biggest_first = sorted(work, key=lambda w: -size.get(w[0], 0))
        futures = {pool.submit(_run_shard, shard, names): shard for shard, names in biggest_first}
        for fut in as_completed(futures):
            try:
                finished(fut.result())
            except Exception as exc:  # noqa: BLE001 - a worker that died: the shard failed, others go on
                finished(ShardRun(futures[fut], [], success=False, error=f"worker died: {exc}"))
    order = {shard: i for i, (shard, _) in enumerate(work)}
    return sorted(runs, key=lambda r: order[r.shard])
