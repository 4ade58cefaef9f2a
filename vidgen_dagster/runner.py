"""Running the graph from the command line: the Dagster instance under ``<home>``, registration,
staleness, and one in-process run per shard.

An asset partition is re-run when it was never materialised, when its code version (which carries
the hash of the configuration it reads) changed, or when something upstream of it is re-run or was
materialised after it. So a second ``vidgen curate`` over the same input materialises nothing, and
a changed ``clips.min_seconds`` re-runs ``clips`` alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster import AssetRecordsFilter

from .core import progress
from .core import shards as shardlib
from .core.config import load_config
from .core.store import Store, resolve_home
from .defs.common import CONSUMED
from .defs.resources import video_shards

CODE_VERSION_TAG = "dagster/code_version"

_INSTANCE_YAML = """\
# Dagster instance for vidgen CLI runs and `vidgen ui` (same history in both).
telemetry:
  enabled: false
run_retries:
  enabled: true
  max_retries: 1
"""


def dagster_home(home: str) -> Path:
    path = Path(home) / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    yaml_file = path / "dagster.yaml"
    if not yaml_file.exists():
        yaml_file.write_text(_INSTANCE_YAML)
    return path


def use_home(home: str | None, config_path: str | None = None) -> str:
    """Point this process (and Dagster) at ``home``; returns the resolved home."""
    resolved = resolve_home(home)
    os.environ["VIDGEN_HOME"] = resolved
    os.environ["DAGSTER_HOME"] = str(dagster_home(resolved))
    if config_path:
        os.environ["VIDGEN_CONFIG"] = str(Path(config_path).resolve())
    return resolved


@dataclass
class ShardRun:
    shard: str
    assets: list[str]
    success: bool = True
    error: str = ""


@dataclass
class CurateResult:
    new_shards: list[str] = field(default_factory=list)
    runs: list[ShardRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.success for r in self.runs)


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


DATA_VERSION_TAG = "dagster/data_version"


def stale_assets(defs: dg.Definitions, instance: dg.DagsterInstance, partition: str,
                 keys: Sequence[dg.AssetKey]) -> list[dg.AssetKey]:
    """The subset of ``keys`` (any order) that must run for ``partition``, in topological order.

    Dagster's staleness rules: never materialised; code version changed; or a parent's current data
    version differs from the one this asset consumed (assets publish content-hash data versions and
    record the parents' versions they read under the ``consumed_versions`` metadata key, so a parent
    re-run that wrote the same rows does not make its children stale). A parent that is itself about
    to run makes its children run too.
    """
    graph = defs.resolve_asset_graph()
    wanted = set(keys)
    order = [k for level in graph.toposorted_asset_keys_by_level
             for k in sorted(level, key=lambda a: a.to_user_string()) if k in wanted]
    to_run: list[dg.AssetKey] = []
    latest: dict[dg.AssetKey, object] = {}
    for key in order:
        node = graph.get(key)
        record = _latest(instance, key, partition)
        parents = [p for p in node.parent_keys if p in wanted]
        if record is None:
            to_run.append(key)
            continue
        latest[key] = record
        tags = (record.asset_materialization.tags or {}) if record.asset_materialization else {}
        if tags.get(CODE_VERSION_TAG) != node.code_version or any(p in to_run for p in parents):
            to_run.append(key)
            continue
        meta = record.asset_materialization.metadata or {}
        try:
            consumed_map = json.loads(meta[CONSUMED].value) if CONSUMED in meta else {}
        except (TypeError, ValueError):
            consumed_map = {}
        for p in parents:
            parent = latest.get(p)
            consumed = consumed_map.get(p.to_user_string())
            current = (parent.asset_materialization.tags or {}).get(DATA_VERSION_TAG) if parent else None
            if consumed is None or current is None:  # no versions recorded: fall back to recency
                stale = parent is not None and parent.storage_id > record.storage_id
            else:
                stale = consumed != current
            if stale:
                to_run.append(key)
                break
    return to_run


def upstream_of(defs: dg.Definitions, until: str | None) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    partitioned = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def == video_shards]
    if not until:
        return partitioned
    target = dg.AssetKey(until)
    if target not in partitioned:
        names = ", ".join(sorted(k.to_user_string() for k in partitioned))
        raise ValueError(f"--until {until!r} is not a per-shard asset; choose one of: {names}")
    keep, frontier = {target}, [target]
    while frontier:  # walk parents: the target and everything upstream of it
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in keep:
                keep.add(parent)
                frontier.append(parent)
    return [k for k in partitioned if k in keep]


def curate(
    paths: Sequence[str],
    home: str | None = None,
    config_path: str | None = None,
    shard_size: int | None = None,
    until: str | None = None,
    echo: Callable[[str], None] = lambda msg: print(msg, flush=True),
    log_level: str = "INFO",
) -> CurateResult:
    """Register ``paths`` into shards and materialise what is missing or stale for their shards."""
    home = use_home(home, config_path)
    config = load_config(config_path)
    store = Store(home)
    entries = [shardlib.FileEntry.of(p) for p in shardlib.discover(paths, config["ingest"]["extensions"])]
    if not entries:
        raise ValueError(f"no video files found under: {', '.join(map(str, paths))}")
    size = int(shard_size or config["ingest"]["shard_size"])
    from .definitions import build_definitions

    defs = build_definitions(home, config_path)
    selection = upstream_of(defs, until)  # a bad --until is refused before any file is registered
    new = shardlib.register(store, entries, size)
    wanted = {e.path for e in entries}
    shards = sorted({m.shard for m in shardlib.load_manifests(store) if wanted & {f.path for f in m.files}})

    instance = dg.DagsterInstance.get()
    existing = set(instance.get_dynamic_partitions(video_shards.name))
    missing = [s for s in shards if s not in existing]
    if missing:
        instance.add_dynamic_partitions(video_shards.name, missing)
    result = CurateResult(new_shards=[m.shard for m in new])
    echo(f"{len(entries)} file(s) in {len(shards)} shard(s) ({len(new)} new) under {home}")
    all_assets = [*(defs.assets or []), *(defs.asset_checks or [])]
    resources = dict(defs.resources or {})
    with progress.console(len(shards)) as con:
        if con.bars:  # the bars replace Dagster's INFO progress lines; warnings still print
            echo, log_level = con.write, "WARNING"
        for i, shard in enumerate(shards, 1):
            con.shard(shard)
            _curate_shard(defs, instance, shard, selection, all_assets, resources, result,
                          f"[{i}/{len(shards)}]", echo, log_level)
            con.shard_done()
    Store(home).refresh_catalog()
    return result


def _curate_shard(defs, instance, shard: str, selection, all_assets, resources, result: CurateResult,
                  prefix: str, echo: Callable[[str], None], log_level: str) -> None:
    """One shard: materialise what is stale for it and record the outcome in ``result``."""
    keys = stale_assets(defs, instance, shard, selection)
    if not keys:
        echo(f"{prefix} {shard}: up to date")
        return
    names = [k.to_user_string() for k in keys]
    echo(f"{prefix} {shard}: materializing {', '.join(names)}")
    run = ShardRun(shard, names)
    try:
        res = dg.materialize(all_assets, selection=keys, partition_key=shard, instance=instance,
                             resources=resources, raise_on_error=False,
                             tags={"vidgen/source": "cli"},
                             # Progress and warnings on the console; step events stay in the run log.
                             run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})
        run.success = res.success
        if not res.success:
            failures = [e for e in res.all_events if e.is_step_failure]
            run.error = "; ".join(str(e.step_key) + ": " + (e.step_failure_data.error.message.strip()
                                  if e.step_failure_data.error else "failed") for e in failures)
    except Exception as exc:  # a run that cannot even start: report it, keep going
        run.success, run.error = False, f"{type(exc).__name__}: {exc}"
    if not run.success:
        echo(f"    FAILED: {run.error}")
    result.runs.append(run)
