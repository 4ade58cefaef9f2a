"""Where each shard stands, read from the Dagster instance under ``<home>/dagster``: what is
materialised, stale, failed, and which asset checks failed (``vidgen status``, and the failed-check
list at the end of ``vidgen curate``).

Staleness is the same rule ``vidgen curate`` applies (:func:`staleness.plan_runs`), so "stale" here is
exactly what the next ``curate`` would re-run. Our asset checks are not partitioned, so the latest
evaluation *per shard* is found through the shard each result names in its metadata (older results:
the partition tag of the run that produced them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from .core.coarse.scoring.registry import STAGES


@dataclass
class FailedCheck:
    shard: str
    asset: str
    check: str
    severity: str          # WARN or ERROR
    description: str

    def line(self) -> str:
        return f"{self.asset}.{self.check} [{self.severity}]: {self.description or 'failed'}"


@dataclass
class ShardStatus:
    shard: str
    name: str                       # "<common folder> (<first file> …)": what a person recognises
    files: int
    materialized: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # never materialised
    stale: list[str] = field(default_factory=list)     # materialised, but the next curate re-runs it
    failed: list[str] = field(default_factory=list)    # latest attempt failed, no materialisation since
    failed_checks: list[FailedCheck] = field(default_factory=list)


def readable_name(paths: list[str]) -> str:
    """The common folder of a shard's files and its first file, e.g. ``/data/cams (a.mp4 + 11 more)``."""
    if not paths:
        return "(no files)"
    paths = sorted(paths)
    folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    first = os.path.relpath(paths[0], folder)
    more = f" + {len(paths) - 1} more" if len(paths) > 1 else ""
    return f"{folder} ({first}{more})"


def failed_checks(instance: dg.DagsterInstance, check_keys, shards: set[str] | None = None,
                  history: int = 1000) -> list[FailedCheck]:
    """The failed latest evaluation of each check for each shard (``shards``: only these)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    run_partition: dict[str, str | None] = {}

    def partition_of(run_id: str) -> str | None:
        if run_id not in run_partition:
            run = instance.get_run_by_id(run_id)
            run_partition[run_id] = run.tags.get("dagster/partition") if run else None
        return run_partition[run_id]

    out: list[FailedCheck] = []
    for key in sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        seen: set[str] = set()
        for rec in instance.event_log_storage.get_asset_check_execution_history(key, limit=history):
            if rec.status not in (AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED):
                continue  # planned, still running, or its run died: not a result
            ev = rec.event.dagster_event.asset_check_evaluation_data if rec.event and rec.event.dagster_event \
                else None
            if ev is None:
                continue
            meta = ev.metadata or {}
            shard = meta["shard"].value if "shard" in meta else partition_of(rec.run_id)
            if shard is None or shard in seen or (shards is not None and shard not in shards):
                continue
            seen.add(shard)  # history is newest first: the first record per shard is its latest
            if not ev.passed:
                out.append(FailedCheck(shard, key.asset_key.to_user_string(), key.name, ev.severity.value,
                                       ev.description or ""))
    return out


def _failed_assets(instance: dg.DagsterInstance, keys, shard: str) -> list[str]:
    """Assets whose latest attempt for ``shard`` ended in a failed run with no materialisation after it."""
    failed = []
    for key in keys:
        attempts = instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
            key)
        attempt = attempts.get(shard)
        if attempt is None:
            continue
        run = instance.get_run_by_id(attempt[0])
        if run is not None and run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            failed.append(key.to_user_string())
    return failed


def shard_statuses(home: str, config_path: str | None = None) -> list[ShardStatus]:
    """Every registered shard of ``home``, in registration order."""
    from .core.common.store import Store
    from .core.ingest import shards as shardlib
    from .defs.graph import build_definitions
    from .defs.models import observe_models
    from .runner import home_config, upstream_of, use_home
    from .staleness import plan_runs

    home = use_home(home)
    store = Store(home)
    manifests = sorted(shardlib.load_manifests(store), key=lambda m: (m.registered_at, m.shard))
    defs = build_definitions(home, config_path)
    graph = defs.resolve_asset_graph()
    wanted = set(upstream_of(defs, None))
    keys = [k for k in graph.toposorted_asset_keys if k in wanted]  # listed in graph order
    check_keys = list(graph.asset_check_keys)
    instance = dg.DagsterInstance.get()
    observe_models(instance, home_config(home, config_path))
    try:
        checks = failed_checks(instance, check_keys, {m.shard for m in manifests})
        out = []
        plan = plan_runs(defs, instance, [m.shard for m in manifests], keys)
        for m in manifests:
            st = ShardStatus(m.shard, readable_name([f.path for f in m.files]), len(m.files))
            rerun = {k.to_user_string() for k in plan.stale[m.shard]}
            for key in keys:
                name = key.to_user_string()
                done = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key, asset_partitions=[m.shard]), limit=1).records
                if not done:
                    st.missing.append(name)
                    continue
                st.materialized.append(name)
                if name in rerun:
                    st.stale.append(name)
            st.failed = _failed_assets(instance, keys, m.shard)
            st.failed_checks = [c for c in checks if c.shard == m.shard]
            out.append(st)
        return out
    finally:
        instance.dispose()


def home_failed_checks(home: str, config_path: str | None = None) -> list[FailedCheck]:
    """Failed checks of every registered shard (for the end of ``vidgen curate``)."""
    from .core.common.store import Store
    from .core.ingest import shards as shardlib
    from .definitions import build_definitions
    from .runner import use_home

    home = use_home(home)
    shards = {m.shard for m in shardlib.load_manifests(Store(home))}
    defs = build_definitions(home, config_path)
    instance = dg.DagsterInstance.get()
    try:
        return failed_checks(instance, list(defs.resolve_asset_graph().asset_check_keys), shards)
    finally:
        instance.dispose()


# -- which stages ran with which models --------------------------------------------------------------
# (step, SQL giving model, status, error, n): what each step actually did, from its table. The scoring stages'
# lines come from the stage registry; the others read their own tables.
def _stage_sql(stage) -> tuple[str, str]:
    model = ("backend || ' ' || coalesce(model_id, '')" if "backend" in stage.schema.names
             else f"coalesce(model_id, '{stage.step}')")
    return stage.step, (f"SELECT {model} AS model, status, any_value(error) AS error, count(*) AS n "
                        f"FROM {stage.name} GROUP BY 1, 2")


_STEPS = [
    ("scenes", "SELECT 'shot detection (scenes.*)' AS model, status, any_value(error) AS error, count(*) AS n "
               "FROM scene_runs GROUP BY 1, 2"),
    *(_stage_sql(stage) for stage in STAGES),
    ("captions", "SELECT coalesce(model_id, '') AS model, status, any_value(error) AS error, count(*) AS n "
                 "FROM captions WHERE status <> 'skipped' GROUP BY 1, 2"),
    ("alignment", "SELECT coalesce(alignment_model, 'CLIP') AS model, "
                  "CASE WHEN alignment IS NULL THEN 'unavailable' ELSE 'ok' END AS status, NULL AS error, "
                  "count(*) AS n FROM caption_checks WHERE status = 'ok' GROUP BY 1, 2"),
    ("rules", "SELECT 'caption rule detectors' AS model, status, NULL AS error, count(*) AS n "
              "FROM caption_checks WHERE status = 'ok' GROUP BY 1, 2"),
    ("judge", "SELECT coalesce(judge_model, '') AS model, judge_status AS status, any_value(judge_error) AS error, "
              "count(*) AS n FROM caption_checks WHERE status = 'ok' GROUP BY 1, 2"),
]
_VERDICT = {"ok": "ran", "partial": "PARTLY", "unavailable": "NOT RUN", "failed": "FAILED"}
_WHAT_THEN = {  # what a step that did not run means for the dataset
    "visual": "quality measures only; aesthetic/consistency filters and category sampling not applied",
    "captions": "clips kept uncaptioned (curation.require_caption: auto)",
    "judge": "only the rule detectors checked the captions",
    "alignment": "caption-video alignment filter not applied",
}


def stage_report(store) -> list[str]:
    """One line per model-bound step and outcome: which model ran on how many clips, or why it did not."""
    import duckdb

    lines = []
    for step, sql in _STEPS:
        try:
            rows = store.query(sql).to_pylist()
        except duckdb.Error:  # the table does not exist yet (--until, or nothing reached this stage)
            rows = []
        if not rows:
            why = "no captions to check" if step in ("alignment", "rules", "judge") else "no clips reached this step"
            lines.append(f"  {step:<16} {'-':<8} {why}")
            continue
        for r in sorted(rows, key=lambda r: (r["status"] != "ok", r["status"] or "")):
            verdict = _VERDICT.get(r["status"], r["status"] or "?")
            unit = "video(s)" if step == "scenes" else "clip(s)"
            line = f"  {step:<16} {verdict:<8} {r['model'].strip() or '-'} on {r['n']} {unit}"
            if r["status"] != "ok":
                line += f": {r['error'] or 'not run'}"
                if step in _WHAT_THEN:
                    line += f" -> {_WHAT_THEN[step]}"
            lines.append(line)
    return lines
