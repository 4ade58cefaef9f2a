"""Captioning and fine curation: coarse_selection → captions → caption_checks → curated_clips.

``captions`` and ``caption_checks`` are model-bound (VLM, CLIP text tower, LLM judge) and reuse
stored results for unchanged inputs; ``curated_clips`` is cheap and holds the final thresholds.
Prompt files are versioned by content hash, and those versions are part of the code versions, so
editing a prompt makes exactly the assets that use it stale.
"""


import dagster as dg

from ..core.captioning import stage as caption_stage
from ..core.captioning.base import load_prompt
from ..core.common.config import section_hash
from ..core.fine_curation import stages as fine_stages
from ..core.fine_curation.rules import detectors_version
from .coarse import MODEL_RETRY, k8s_resources, report_failures
from .common import accounting_spec, log_progress, result
from .models import model_key
from .resources import VidgenResource, video_shards


def _prompt_version(spec: str) -> str:
    return load_prompt(spec).version


def build_curation_assets(config: dict) -> list:
    cap_cfg, judge_cfg = config["captions"], config["judge"]
    caption_prompts = _prompt_version(cap_cfg.get("prompt") or "caption_v1.txt") + (
        "+" + _prompt_version(cap_cfg["system_prompt"]) if cap_cfg.get("system_prompt") else "")
    judge_prompt = _prompt_version(judge_cfg.get("prompt") or "judge_v1.txt")

    @dg.asset(partitions_def=video_shards, group_name="captioning", deps=["coarse_selection", model_key("captions")],
              retry_policy=MODEL_RETRY,
              code_version=f"1-{section_hash(config, 'captions')}-{caption_prompts}",
              op_tags=k8s_resources("4", "32Gi", gpu=True), pool="gpu", kinds={"parquet", "transformers"},
              description="VLM captions for the clips coarse selection kept (transformers VLM or an "
                          "OpenAI-compatible server), from stored frames; reused when clip, model and prompt "
                          "are unchanged. Token counts, finish reason, truncation flag.")
    def captions(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = caption_stage.run_captions(vidgen.store, context.partition_key, vidgen.config,
                                        log_progress(context, "captions"))
        return result(vidgen, "captions", context.partition_key, report_failures(context, summary, "captions"),
                      context=context)

    @dg.asset(partitions_def=video_shards, group_name="captioning", deps=[captions, "visual_scores", model_key("judge"), model_key("visual")],
              retry_policy=MODEL_RETRY,
              code_version=f"1-{section_hash(config, 'judge', 'visual')}-{detectors_version(config)}-{judge_prompt}",
              op_tags=k8s_resources("4", "32Gi", gpu=True), pool="gpu", kinds={"parquet", "transformers"},
              description="Caption–video alignment (CLIP), rule detectors for scene transition, frame-level "
                          "generation and reduplication (always), and the LLM judge (when configured).")
    def caption_checks(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = fine_stages.run_caption_checks(vidgen.store, context.partition_key, vidgen.config,
                                              log_progress(context, "checks"))
        return result(vidgen, "caption_checks", context.partition_key, report_failures(context, summary, "judge"),
                      context=context)

    @dg.asset(partitions_def=video_shards, group_name="captioning", deps=[caption_checks],
              code_version=f"1-{fine_stages.curated_hash(config)}",
              check_specs=[accounting_spec("curated_clips", "curated_accounting",
                                           "Every clip has one captions, caption_checks and curated_clips row and "
                                           "exactly one terminal state (kept without reasons; rejected/failed with "
                                           "reasons).")],
              description="The final per-clip decision: coarse selection, captioning, alignment "
                          "(thresholds.alignment_min) and caption checks combined; every clip kept, "
                          "rejected (stage + reasons) or failed.")
    def curated_clips(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        summary = fine_stages.run_curated(vidgen.store, context.partition_key, vidgen.config)
        if summary["filters_not_applied"] != "none":
            context.log.warning(f"kept clips with filters not applied: {summary['filters_not_applied']}")
        return result(vidgen, "curated_clips", context.partition_key, summary, context=context,
                      accounting=("curated_accounting", fine_stages.account_curated))

    return [captions, caption_checks, curated_clips]
