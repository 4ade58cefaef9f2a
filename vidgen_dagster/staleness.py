"""Which asset partitions must run: Dagster's own staleness, asked for every shard in one call, and
remembered while nothing it depends on has changed.

The rule (shared by ``vidgen curate``, ``vidgen status`` and the re-curation schedule): an asset partition
runs when Dagster's resolver (the one behind the UI's "stale" markers) reports it MISSING (never
materialised) or STALE (its code version changed, or a parent's current data version differs from the one
recorded when it ran), and so does everything below it in the selection, whose inputs are about to change.

Asking the resolver costs a few SQL queries per asset partition (about 0.5 s a shard on SQLite), so a
no-op ``vidgen curate`` over many shards was dominated by it. The resolver's answer is a function of the
definitions and of the asset events in the instance, nothing else, so the answer "these shards are up to
date" is recorded beside the instance (:data:`STAMP`) together with what it was computed from:

* a fingerprint of the asset graph (every asset's key, code version, parents; a changed configuration
  changes code versions);
* the event log's head (its largest record id) and every asset's last materialisation and wipe (a wipe
  removes records without adding one).

While all of these are the same, the recorded shards are up to date without asking. Any new
materialisation or observation — a run from the UI, a pulled model's new fingerprint, another ``curate`` —
moves the head, and the next call asks the resolver again. A ``curate`` whose runs all succeeded records
its shards as up to date after them (every stale asset and everything below it ran), provided every asset
event written since it asked came from its own runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STAMP = ".vidgen-up-to-date.json"


def asset_graph(defs):
    """The asset graph of Definitions (the CLI) or of a loaded repository (a schedule's evaluation)."""
    return defs.resolve_asset_graph() if hasattr(defs, "resolve_asset_graph") else defs.asset_graph


def graph_fingerprint(graph) -> str:
    lines = sorted(
        f"{key.to_user_string()}|{graph.get(key).code_version or ''}|"
        + ",".join(sorted(p.to_user_string() for p in graph.get(key).parent_keys))
        for key in graph.get_all_asset_keys())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:24]


def _event_head(instance, keys: Iterable) -> dict:
    """What the resolver's answer depends on in the instance: the event log's head, and each asset's last
    materialisation and wipe (a wipe removes an asset's records without adding one)."""
    head = instance.event_log_storage.get_maximum_record_id() or 0
    assets = {}
    for record in instance.get_asset_records(list(keys)):
        entry = record.asset_entry
        last = entry.last_materialization_record
        wiped = entry.asset_details.last_wipe_timestamp if entry.asset_details is not None else None
        assets[entry.asset_key.to_user_string()] = [last.storage_id if last is not None else None, wiped]
    return {"head": head, "assets": assets}


@dataclass
class Known:
    """The shards recorded as up to date for ``keys`` under the current graph and event head."""

    graph: str
    state: dict
    keys: set[str] = field(default_factory=set)
    shards: set[str] = field(default_factory=set)

    def covers(self, shard: str, keys: Iterable) -> bool:
        return shard in self.shards and {k.to_user_string() for k in keys} <= self.keys


def _stamp_path(instance) -> Path | None:
    root = getattr(instance, "root_directory", None)
    return Path(root) / STAMP if root else None


def load_known(instance, graph) -> Known:
    """The recorded up-to-date shards, if the record still holds (else none)."""
    fingerprint = graph_fingerprint(graph)
    state = _event_head(instance, graph.get_all_asset_keys())
    known = Known(fingerprint, state)
    path = _stamp_path(instance)
    try:
        saved = json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        saved = {}
    if saved.get("graph") == fingerprint and saved.get("state") == state:
        known.keys, known.shards = set(saved.get("keys", [])), set(saved.get("shards", []))
    return known


def save_known(instance, known: Known, keys: Iterable, shards: Iterable[str]) -> None:
    """Record ``shards`` (plus those already recorded for at least ``keys``) as up to date at ``known.state``."""
    path = _stamp_path(instance)
    if path is None:
        return
    names = {k.to_user_string() for k in keys}
    kept = known.shards if names <= known.keys else set()
    body = {"graph": known.graph, "state": known.state, "keys": sorted(names),
            "shards": sorted(kept | set(shards))}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(body))
        os.replace(tmp, path)
    except OSError:  # a read-only instance folder: the record is an optimisation, never required
        tmp.unlink(missing_ok=True)


def _resolver(instance, graph):
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
    from dagster._core.definitions.data_version import CachingStaleStatusResolver
    from dagster._core.definitions.temporal_context import TemporalContext
    from dagster._time import get_current_datetime

    view = AssetGraphView(temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
                          instance=instance, asset_graph=graph)
    return CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)


def _stale_for(graph, resolver, shard: str, keys: Sequence, force: Iterable) -> list:
    from dagster._core.definitions.data_version import StaleStatus

    wanted, forced = set(keys), set(force)
    order = [k for level in graph.toposorted_asset_keys_by_level
             for k in sorted(level, key=lambda a: a.to_user_string()) if k in wanted]
    to_run: list = []
    for key in order:
        parents = graph.get(key).parent_keys & wanted
        if (key in forced or parents & set(to_run)
                or resolver.get_status(key, shard) in (StaleStatus.STALE, StaleStatus.MISSING)):
            to_run.append(key)
    return to_run


@dataclass
class Plan:
    """Per shard, the keys to run in topological order; ``remembered``: shards answered from the record."""

    stale: dict[str, list]
    remembered: set[str]
    known: Known
    graph: object


def plan_runs(defs, instance, shards: Sequence[str], keys: Sequence,
              force: Mapping[str, Iterable] | None = None) -> Plan:
    """For each shard, the subset of ``keys`` that must run (``force[shard]``: run these regardless, e.g.
    source files that changed on disk, which no record can know). Shards recorded as up to date are not
    asked again; when every shard asked turns out up to date, the answer is recorded."""
    force = force or {}
    graph = asset_graph(defs)
    known = load_known(instance, graph)
    stale: dict[str, list] = {}
    remembered: set[str] = set()
    resolver = None
    for shard in shards:
        if not force.get(shard) and known.covers(shard, keys):
            stale[shard] = []
            remembered.add(shard)
            continue
        resolver = resolver or _resolver(instance, graph)  # one for every shard: shared caches
        stale[shard] = _stale_for(graph, resolver, shard, keys, force.get(shard, ()))
    if resolver is not None and not any(stale.values()):
        save_known(instance, known, keys, shards)
    return Plan(stale, remembered, known, graph)


def record_runs(instance, plan: Plan, keys: Sequence, shards: Sequence[str], run_ids: Iterable[str]) -> bool:
    """After runs that all succeeded: record ``shards`` as up to date at the new event head, provided every
    asset event since ``plan`` asked came from ``run_ids``. Returns whether it was recorded."""
    from dagster._core.event_api import EventRecordsFilter
    from dagster._core.events import DagsterEventType

    # The head first: an event written after it is read is then caught by the check below (no record).
    now = Known(plan.known.graph, _event_head(instance, plan.graph.get_all_asset_keys()),
                plan.known.keys, plan.known.shards)
    if any(v[1] != plan.known.state["assets"].get(k, [None, None])[1] for k, v in now.state["assets"].items()):
        return False  # a wipe meanwhile
    ours = set(run_ids)
    for event_type in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION):
        records = instance.event_log_storage.get_event_records(
            EventRecordsFilter(event_type=event_type, after_cursor=plan.known.state["head"]), limit=None,
            ascending=True)
        if any(r.run_id not in ours for r in records):
            return False
    save_known(instance, now, keys, shards)
    return True
