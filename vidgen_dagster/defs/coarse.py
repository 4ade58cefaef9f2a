"""The ``coarse`` group: frames → one score asset per registered scoring stage → coarse_selection.

The score assets are generated from the stage registry (``core/coarse/scoring/registry.py``): each writes its
stage's raw scores; ``coarse_selection`` is cheap and holds every threshold. Each asset's code version
carries the hash of the configuration sections it reads (the stage's version, also its rows' ``config_hash``),
and each score asset depends on its model's source asset (``<step>_model``, :mod:`.models`), so the UI marks
exactly what is stale after a threshold change (selection only) or a pulled model (the scores it affects).
"""


import warnings

import dagster as dg

from ..core.coarse import stages as coarse
from ..core.coarse.scoring.registry import STAGES
from ..core.coarse.scoring.stage import ClipStage
from ..core.coarse.selection import selection_hash
from ..core.common.config import section_hash
from .common import accounting_spec, log_progress, result
from .models import model_key
from .resources import VidgenResource, video_shards

MODEL_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL)


def k8s_resources(cpu: str, memory: str, gpu: bool = False) -> dict:
    limits = {"memory": memory, **({"nvidia.com/gpu": "1"} if gpu else {})}
    return {"dagster-k8s/config": {"container_config": {"resources": {
        "requests": {"cpu": cpu, "memory": memory}, "limits": limits}}}}


def report_failures(context, summary: dict, step: str) -> dict:
    for cid, error in summary.pop("failures", {}).items():
        context.log.warning(f"{step} failed for {cid}: {error}")
    if summary.get("unavailable"):
        context.log.warning(f"{step}: model not available, scores not computed: {summary['unavailable']}")
    summary["unavailable"] = summary.get("unavailable") or "none"
    return summary


def _score_asset(stage: ClipStage, config: dict) -> dg.AssetsDefinition:
    """The asset of one registered scoring stage: its table per shard; code version = the stage's version."""
    res = stage.resources
    op_tags = k8s_resources(res.cpu, res.memory, gpu=res.gpu)

    @dg.asset(name=stage.name, partitions_def=video_shards, group_name="coarse", deps=["frames", model_key(stage.step)],
              retry_policy=MODEL_RETRY, code_version=f"1-{stage.version(config)}", op_tags=op_tags,
              pool="gpu" if res.gpu else None, kinds={"parquet", *stage.kinds}, description=stage.description)
    def score(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_stage(stage.name, vidgen.store, context.partition_key, vidgen.config,
                                   log_progress(context, stage.step))
        return result(vidgen, stage.name, context.partition_key, report_failures(context, summary, stage.step),
                      context=context)

    return score


# observable_source_asset is beta in this Dagster: its warning would print on every command's stderr.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.BetaWarning)

    @dg.observable_source_asset(group_name="coarse", description=(
        "The category-sampling reference frozen by `vidgen rebalance` (`<home>/sampling/reference.json`). Its data "
        "version is the reference's generation: a rebalance makes every shard's coarse_selection stale through "
        "Dagster's own staleness, and the reference is read when the selection runs, not when code loads."))
    def sampling_reference(vidgen: VidgenResource) -> dg.DataVersion:
        return dg.DataVersion(f"generation-{coarse.reference_generation(vidgen.store)}")


def observe_sampling_reference(instance, resources: dict) -> None:
    """Record the reference's current generation in ``instance`` (after ``vidgen rebalance`` wrote it)."""
    from dagster._core.definitions.observe import observe

    observe([sampling_reference], instance=instance, resources=resources,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})


def build_coarse_assets(config: dict, home: str) -> list:
    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=["clips"],
              code_version=f"1-{section_hash(config, 'frames')}", op_tags=k8s_resources("2", "4Gi"),
              description="The one decode of every clip: first/middle/last frames and optical-flow pairs "
                          "kept as JPEG at analysis resolution. No scorer opens a video.")
    def frames(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_frames(vidgen.store, context.partition_key, vidgen.config,
                                    log_progress(context, "sampling frames"))
        return result(vidgen, "frames", context.partition_key, report_failures(context, summary, "frames"),
                      extra_tables=["frame_runs"], count_table="frame_runs", context=context)

    scores = [_score_asset(stage, config) for stage in STAGES]

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=[*scores, sampling_reference],
              code_version=f"1-{selection_hash(config)}",
              check_specs=[accounting_spec("coarse_selection", "coarse_accounting",
                                           "Every clip has one frames row, one row per score table and one "
                                           "decision (kept, or rejected with reasons).")],
              description="Thresholds (`thresholds.*`) and category-balanced sampling (`sampling.*`): every clip "
                          "kept or rejected with all its reasons; filters without scores listed as not applied.")
    def coarse_selection(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_selection(vidgen.store, context.partition_key, vidgen.config)
        if summary["filters_not_applied"] != "none":
            context.log.warning(f"filters not applied (scores missing): {summary['filters_not_applied']}")
        return result(vidgen, "coarse_selection", context.partition_key, summary, context=context,
                      accounting=("coarse_accounting", coarse.account_coarse))

    return [frames, *scores, coarse_selection]
