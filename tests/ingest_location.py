"""The vidgen code location plus one job, ``ingest_shard``: the per-shard ingest assets (manifest, probe,
scenes, clips) as a partitioned job, so tests/test_postgres.py can backfill a light slice of the graph with
``dagster job backfill`` under the real daemon. Step processes of the multiprocess executor fork from a
server that imported the code location once (``forkserver``), instead of each re-importing torch."""

from __future__ import annotations

import os

import dagster as dg

from vidgen_dagster.definitions import build_definitions
from vidgen_dagster.defs.resources import video_shards

INGEST = ("shard_manifest", "videos", "scenes", "clips")

# Executor config only fits the executor it configures: forkserver for multiprocess, none in-process.
FORKSERVER = {"execution": {"config": {"start_method": {"forkserver": {
    "preload_modules": ["vidgen_dagster.definitions"]}}}}}

ingest_shard = dg.define_asset_job(
    "ingest_shard", selection=dg.AssetSelection.assets(*INGEST), partitions_def=video_shards,
    config=FORKSERVER if os.environ.get("VIDGEN_EXECUTOR") == "multiprocess" else None)

defs = dg.Definitions.merge(build_definitions(), dg.Definitions(jobs=[ingest_shard]))
