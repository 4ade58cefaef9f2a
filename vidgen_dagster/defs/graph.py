"""The Definitions for one home: assets, checks, jobs, sensor, schedule, resources and executor."""

from __future__ import annotations

import os

import dagster as dg

from ..core.common.config import home_record, load_config
from ..core.common.store import Store, resolve_home
from .automation import build_recurate_schedule
from .checks import build_checks
from .coarse import build_coarse_assets, sampling_reference
from .curation import build_curation_assets
from .dataset import build_dataset_assets
from .ingest import build_footage_sensor, shard_manifest, videos
from .models import MODEL_SOURCES
from .resources import VidgenResource, video_shards
from .scenes import build_scene_assets


def build_definitions(home: str | None = None, config_path: str | None = None,
                      config: dict | None = None) -> dg.Definitions:
    """Definitions for one home. The configuration is the home's record (``<home>/vidgen.yaml`` over the
    defaults), with ``config_path`` as a one-off overlay, or ``config`` as given; code versions follow it."""
    home = resolve_home(home)
    config_path = config_path or ""
    if config is None:
        config = load_config(config_path or None, home_record(Store(home)))
    scenes, clips = build_scene_assets(config)
    coarse = build_coarse_assets(config, home)
    curating = build_curation_assets(config)
    assets = [shard_manifest, videos, scenes, clips, *coarse, *curating]
    dataset = build_dataset_assets(config)
    curate_shard = dg.define_asset_job(
        "curate_shard", selection=dg.AssetSelection.assets(*assets), partitions_def=video_shards,
        description="Everything per shard, from the manifest to the curated clips.",
    )
    build_dataset = dg.define_asset_job(
        "build_dataset", selection=dg.AssetSelection.assets(*dataset),
        description="Export and report over every shard's curated clips.")
    defs = dg.Definitions(
        assets=[*assets, *dataset, sampling_reference, *MODEL_SOURCES],
        asset_checks=build_checks(),
        jobs=[curate_shard, build_dataset],
        sensors=[build_footage_sensor(curate_shard)],
        schedules=[build_recurate_schedule(curate_shard, config["automation"]["recurate_cron"])],
        resources={"vidgen": VidgenResource(home=home, config_path=str(config_path))},
        executor=choose_executor(),
    )
    return defs


def choose_executor():
    """``$VIDGEN_EXECUTOR``: ``in_process`` (default: one process per run; a step costs no code reload, and
    one shard's steps mostly wait on each other anyway), ``multiprocess`` (independent steps such as the
    three scorers in parallel processes) or ``k8s`` (every step its own pod, sized by the asset's
    ``op_tags["dagster-k8s/config"]``)."""
    name = os.environ.get("VIDGEN_EXECUTOR", "in_process").lower()
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if name == "multiprocess":
        # forkserver: step processes fork from one process that imported the code once, instead of every
        # step re-importing torch, transformers and the graph (~7 s of CPU each).
        return dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})
    if name in ("", "in_process"):
        return dg.in_process_executor
    raise ValueError(f"VIDGEN_EXECUTOR must be in_process, multiprocess or k8s; got {name!r}")

