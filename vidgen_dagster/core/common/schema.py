"""Column schemas of every table. Columns may be added; existing names are a contract."""

from __future__ import annotations

import pyarrow as pa

from ..coarse.scoring import registry

STR, F64, I64, BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()

TABLES: dict[str, pa.Schema] = {
    "shard_manifest": pa.schema(
        [("shard", STR), ("path", STR), ("size_bytes", I64), ("mtime_ns", I64), ("registered_at", STR),
         ("error", STR)]  # why the entry is not a readable file (link broken / loop, a folder, gone)
    ),
    "videos": pa.schema(
        [
            ("video_id", STR), ("shard", STR), ("path", STR),
            # ok | failed | duplicate | missing (gone from disk) | skipped (not a file) | superseded (an
            # earlier content of this path: the file was replaced; `superseded_by` names the current video)
            ("status", STR),
            ("error", STR), ("duplicate_of", STR),
            ("duration_s", F64), ("fps", F64), ("fps_nominal", F64), ("vfr", BOOL), ("frame_count", I64),
            ("width", I64), ("height", I64), ("rotation", I64), ("sample_aspect_ratio", STR),
            ("codec", STR), ("pixel_format", STR), ("stream_index", I64), ("video_streams", I64),
            ("streams", I64), ("start_time_s", F64), ("size_bytes", I64), ("sha256", STR),
            ("version", I64), ("superseded_by", STR), ("mtime_ns", I64),
        ]
    ),
    # One row per video that reached scene detection: the decode pass's own record.
    "scene_runs": pa.schema(
        [
            ("video_id", STR), ("shard", STR),
            ("status", STR),  # ok | failed | skipped (video not ok)
            ("error", STR), ("frames_decoded", I64), ("analysis_width", I64), ("analysis_height", I64),
            ("scene_count", I64), ("frame_times_s", pa.list_(F64)), ("brightness", pa.list_(pa.float32())),
            ("config_hash", STR), ("seconds", F64), ("frame_delta", pa.list_(pa.float32())),
        ]
    ),
    "scenes": pa.schema(
        [
            ("video_id", STR), ("shard", STR), ("scene_index", I64),
            ("start_frame", I64), ("end_frame", I64), ("start_s", F64), ("end_s", F64),
            ("boundary", STR),  # what started the scene: start | cut | fade
            ("end_boundary", STR), ("core_start_frame", I64), ("core_end_frame", I64),
        ]
    ),
    "clips": pa.schema(
        [
            ("clip_id", STR), ("video_id", STR), ("shard", STR), ("scene_index", I64), ("part", I64),
            ("start_frame", I64), ("end_frame", I64), ("start_s", F64), ("end_s", F64), ("duration_s", F64),
            ("config_hash", STR),
        ]
    ),
    # Scenes that produced no clip, with the reason (too short, transition only).
    "dropped_scenes": pa.schema(
        [
            ("video_id", STR), ("shard", STR), ("scene_index", I64), ("start_frame", I64), ("end_frame", I64),
            ("start_s", F64), ("end_s", F64), ("reason", STR), ("config_hash", STR),
        ]
    ),
    # The frames stage: JPEG frames kept per clip (first/middle/last and flow pairs), one decode per video.
    "frames": pa.schema(
        [
            ("clip_id", STR), ("video_id", STR), ("shard", STR), ("frame_index", I64), ("time_s", F64),
            ("roles", pa.list_(STR)), ("width", I64), ("height", I64), ("jpeg", pa.binary()),
        ]
    ),
    "frame_runs": pa.schema(
        [
            ("clip_id", STR), ("video_id", STR), ("shard", STR),
            ("status", STR),  # ok | failed
            ("error", STR), ("frames_kept", I64), ("width", I64), ("height", I64), ("config_hash", STR),
        ]
    ),
    # Score tables, one per registered scoring stage (core/coarse/scoring/registry.py; each declares its schema).
    **registry.tables(),
    "coarse_selection": pa.schema(
        [
            ("clip_id", STR), ("shard", STR), ("decision", STR),  # kept | rejected
            ("reasons", pa.list_(STR)), ("config_hash", STR), ("video_id", STR),
            ("passed_thresholds", BOOL), ("not_applied", pa.list_(STR)), ("category", STR), ("keep_prob", F64),
            ("near_duplicate_of", STR),  # the kept clip of the same footage (core/coarse/near_duplicates.py)
        ]
    ),
    # Captioning and fine curation. status: ok | failed | unavailable (model absent / backend none)
    # | skipped (not kept by coarse selection).
    "captions": pa.schema(
        [
            ("clip_id", STR), ("shard", STR), ("video_id", STR), ("status", STR), ("error", STR),
            ("caption", STR), ("model_id", STR), ("prompt_version", STR), ("prompt_tokens", I64),
            ("completion_tokens", I64), ("finish_reason", STR), ("truncated", BOOL), ("frames_used", I64),
            ("seconds", F64), ("caption_key", STR), ("config_hash", STR),
        ]
    ),
    "caption_checks": pa.schema(
        [
            ("clip_id", STR), ("shard", STR), ("video_id", STR), ("status", STR), ("error", STR),
            ("caption_sha", STR), ("alignment", F64), ("alignment_model", STR), ("rules_version", STR),
            ("rule_scene_transition", BOOL), ("rule_frame_level", BOOL), ("rule_reduplication", BOOL),
            ("rule_reasons", pa.list_(STR)),
            ("judge_status", STR),  # ok | failed (unparsable after retries) | unavailable
            ("judge_error", STR), ("judge_model", STR), ("judge_prompt_version", STR), ("judge_key", STR),
            ("judge_scene_transition", BOOL), ("judge_frame_level", BOOL), ("judge_reduplication", BOOL),
            ("judge_rationale", STR), ("judge_attempts", I64),
            # combined flags (rules OR judge)
            ("scene_transition", BOOL), ("frame_level", BOOL), ("reduplication", BOOL), ("config_hash", STR),
        ]
    ),
    # The final decision per clip: kept | rejected (stage + every reason) | failed (stage + error).
    "curated_clips": pa.schema(
        [
            ("clip_id", STR), ("shard", STR), ("video_id", STR), ("state", STR),
            ("stage", STR),  # coarse | captions | alignment | fine
            ("reasons", pa.list_(STR)), ("not_applied", pa.list_(STR)), ("caption", STR), ("alignment", F64),
            ("category", STR), ("start_s", F64), ("end_s", F64), ("duration_s", F64), ("config_hash", STR),
        ]
    ),
}

# Derived views in the catalog: every video's one terminal state so far.
VIEWS: dict[str, str] = {
    "video_states": """
        SELECT v.video_id, v.shard, v.path,
               CASE WHEN v.status <> 'ok' THEN v.status
                    WHEN r.status = 'failed' THEN 'failed'
                    WHEN r.status = 'ok' THEN 'processed'
                    ELSE 'pending' END AS state,
               CASE WHEN v.status <> 'ok' THEN 'videos'
                    WHEN r.status IS NOT NULL THEN 'scenes' ELSE NULL END AS stage,
               COALESCE(NULLIF(v.error, ''), r.error) AS reason
        FROM videos v LEFT JOIN scene_runs r USING (video_id, shard)
    """,
}
