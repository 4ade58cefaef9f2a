"""Coarse curation: frames → motion / text / visual scores → coarse_selection.

Score assets are model-bound and write raw scores; ``coarse_selection`` is cheap and holds every
threshold. Each asset's code version carries the hash of the configuration sections it reads and,
for model-bound ones, which backend and weights will run, so the UI marks exactly what is stale
after a threshold change (selection only) or after ``vidgen models pull`` (the scores it affects).
"""


import dagster as dg

from ..core import coarse
from ..core.config import section_hash
from ..core.selection import selection_hash
from ..models.registry import fingerprint
from .common import accounting_check, log_progress, result
from .resources import VidgenResource, video_shards

MODEL_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL)


def _k8s(cpu: str, memory: str, gpu: bool = False) -> dict:
    limits = {"memory": memory, **({"nvidia.com/gpu": "1"} if gpu else {})}
    return {"dagster-k8s/config": {"container_config": {"resources": {
        "requests": {"cpu": cpu, "memory": memory}, "limits": limits}}}}


def _report(context, summary: dict, step: str) -> dict:
    for cid, error in summary.pop("failures", {}).items():
        context.log.warning(f"{step} failed for {cid}: {error}")
    if summary.get("unavailable"):
        context.log.warning(f"{step}: model not available, scores not computed: {summary['unavailable']}")
    summary["unavailable"] = summary.get("unavailable") or "none"
    return summary


def build_tagging_assets(config: dict, home: str) -> list:
    from ..core.store import Store

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=["clips"],
              code_version=f"1-{section_hash(config, 'frames')}", op_tags=_k8s("2", "4Gi"),
              description="The one decode of every clip: first/middle/last frames and optical-flow pairs "
                          "kept as JPEG at analysis resolution. No scorer opens a video.")
    def frames(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_frames(vidgen.store, context.partition_key, vidgen.config,
                                    log_progress(context, "sampling frames"))
        return result(vidgen, "frames", context.partition_key, _report(context, summary, "frames"),
                      extra_tables=["frame_runs"], count_table="frame_runs", context=context)

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=[frames], retry_policy=MODEL_RETRY,
              code_version=f"1-{section_hash(config, 'motion')}-{fingerprint(config, 'motion')}",
              op_tags={**_k8s("2", "8Gi", gpu=True), "dagster/concurrency_key": "gpu"},
              description="Optical-flow motion per clip (RAFT, or OpenCV DIS/Farneback without weights): "
                          "mean / p95 magnitude in frame short-sides per second.")
    def motion_scores(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_motion(vidgen.store, context.partition_key, vidgen.config,
                                    log_progress(context, "motion"))
        return result(vidgen, "motion_scores", context.partition_key, _report(context, summary, "motion"), context=context)

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=[frames], retry_policy=MODEL_RETRY,
              code_version=f"1-{section_hash(config, 'ocr')}-{fingerprint(config, 'ocr')}",
              op_tags=_k8s("2", "4Gi"),
              description="PP-OCR text detection (rapidocr ONNX or PaddleOCR): fraction of the frame covered "
                          "by text, box count, a sample of the recognised text.")
    def text_scores(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_text(vidgen.store, context.partition_key, vidgen.config,
                                  log_progress(context, "OCR"))
        return result(vidgen, "text_scores", context.partition_key, _report(context, summary, "ocr"), context=context)

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=[frames], retry_policy=MODEL_RETRY,
              code_version=f"1-{section_hash(config, 'visual', 'quality')}-{fingerprint(config, 'visual')}",
              op_tags={**_k8s("2", "12Gi", gpu=True), "dagster/concurrency_key": "gpu"},
              description="CLIP tags (LAION aesthetic, first/last temporal consistency, category, embedding) "
                          "and weight-free quality (sharpness, exposure, black and frozen frames).")
    def visual_scores(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_visual(vidgen.store, context.partition_key, vidgen.config,
                                    log_progress(context, "visual"))
        return result(vidgen, "visual_scores", context.partition_key, _report(context, summary, "visual"), context=context)

    generation = coarse.reference_generation(Store(home))

    @dg.asset(partitions_def=video_shards, group_name="coarse", deps=[motion_scores, text_scores, visual_scores],
              code_version=f"1-{selection_hash(config)}-g{generation}",
              description="Thresholds (`thresholds.*`) and category-balanced sampling (`sampling.*`): every clip "
                          "kept or rejected with all its reasons; filters without scores listed as not applied.")
    def coarse_selection(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = coarse.run_selection(vidgen.store, context.partition_key, vidgen.config)
        if summary["filters_not_applied"] != "none":
            context.log.warning(f"filters not applied (scores missing): {summary['filters_not_applied']}")
        return result(vidgen, "coarse_selection", context.partition_key, summary, context=context)

    coarse_accounting = accounting_check(coarse_selection, "coarse_accounting", coarse.account_coarse,
        "Every clip has one frames row, one row per score table and one decision "
        "(kept, or rejected with reasons).")

    return [frames, motion_scores, text_scores, visual_scores, coarse_selection], [coarse_accounting]
