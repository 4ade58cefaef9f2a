"""Test helpers shared by several test modules (imported, not fixtures): a registered shard run up to clips."""

from __future__ import annotations

from vidgen_dagster.core import shards as shardlib
from vidgen_dagster.core import stages
from vidgen_dagster.core.store import Store


def curated_until_clips(home, paths, config) -> tuple[Store, str]:
    """Register ``paths`` as one shard of the store at ``home`` and run the stages up to ``clips``."""
    store = Store(home)
    entries = [shardlib.FileEntry.of(p) for p in paths]
    (m,) = shardlib.register(store, entries, shard_size=len(entries))
    stages.run_shard_manifest(store, m.shard)
    stages.run_videos(store, m.shard)
    stages.run_scenes(store, m.shard, config)
    stages.run_clips(store, m.shard, config)
    return store, m.shard
