"""Scene detection and clip building."""


import dagster as dg

from ..core.common.config import section_hash
from ..core.scenes.stages import account_shard, run_clips, run_scenes
from .common import accounting_spec, log_progress, result
from .ingest import videos
from .resources import VidgenResource, video_shards


def build_scene_assets(config: dict) -> list:
    # TransNetV2 (the GPU-node default in k8s/storage.yaml) gets the step's GPU and joins the gpu pool;
    # the CPU cascade does not hold a GPU.
    gpu = config["scenes"]["cut_detector"] == "transnetv2"
    limits = {"memory": "4Gi", **({"nvidia.com/gpu": "1"} if gpu else {})}

    @dg.asset(partitions_def=video_shards, group_name="scenes", deps=[videos],
              code_version=f"4-{section_hash(config, 'scenes')}",
              op_tags={"dagster-k8s/config": {"container_config": {"resources": {
                  "requests": {"cpu": "2", "memory": "2Gi"}, "limits": limits}}}},
              pool="gpu" if gpu else None, kinds={"parquet", "pyav", "scenedetect"},
              description="Shot boundaries (PySceneDetect cascade + gradual-transition detector, or "
                          "TransNetV2) and fades on one decode pass per video at analysis resolution; "
                          "boundaries in frames and real seconds.")
    def scenes(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = run_scenes(vidgen.store, context.partition_key, vidgen.config,
                             log_progress(context, "detecting scenes"))
        for vid, error in summary.pop("failures").items():
            context.log.warning(f"scene detection failed for {vid}: {error}")
        return result(vidgen, "scenes", context.partition_key, summary, extra_tables=["scene_runs"],
                      context=context)

    @dg.asset(partitions_def=video_shards, group_name="scenes", deps=[scenes],
              code_version=f"1-{section_hash(config, 'clips')}",
              check_specs=[accounting_spec("clips", "shard_accounting",
                                           "Every file, video and scene of the shard is in exactly one recorded "
                                           "state.")],
              description="Training clips: transition frames excluded, short scenes dropped with reason, "
                          "long scenes split.")
    def clips(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = run_clips(vidgen.store, context.partition_key, vidgen.config)
        return result(vidgen, "clips", context.partition_key, summary, extra_tables=["dropped_scenes"],
                      context=context, accounting=("shard_accounting", account_shard))

    return [scenes, clips]
