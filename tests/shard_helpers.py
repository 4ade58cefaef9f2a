"""Test helpers shared by several test modules (imported, not fixtures): a registered shard run up to clips."""

from __future__ import annotations

from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages


def curated_until_clips(home, paths, config) -> tuple[Store, str]:
    """Register ``paths`` as one shard of the store at ``home`` and run the stages up to ``clips``."""
    store = Store(home)
    entries = [shardlib.FileEntry.of(p) for p in paths]
    (m,) = shardlib.register(store, entries, shard_size=len(entries))
    ingest_videos.run_shard_manifest(store, m.shard)
    ingest_videos.run_videos(store, m.shard)
    scene_stages.run_scenes(store, m.shard, config)
    scene_stages.run_clips(store, m.shard, config)
    return store, m.shard
