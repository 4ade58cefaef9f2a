"""Scenes and clips per shard, free of Dagster: the scene pass over every video and the clips cut from it,
and the shard's accounting (every registered file and every scene ends in exactly one recorded state).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict

from ..common import media
from ..common.config import section_hash
from ..common.errors import VidgenError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store
from ..scenes.detection import ClipSettings, Scene, SceneSettings, detect_scenes, scenes_to_clips

log = logging.getLogger(__name__)
def run_scenes(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    """One decode pass per ok video: scene boundaries plus per-frame times for the clip stage."""
    settings = SceneSettings.from_dict(config["scenes"])
    chash = section_hash(config, "scenes")
    videos = store.rows("videos", shard)
    runs, scene_rows = [], []
    for i, v in enumerate(videos):
        progress(i, len(videos), v["path"])
        run = {"video_id": v["video_id"], "shard": shard, "config_hash": chash}
        if v["status"] != "ok":
            runs.append({**run, "status": "skipped", "error": f"video {v['status']}"})
            continue
        t0 = time.perf_counter()
        probe = media.VideoProbe(**{k: v[k] for k in media.VideoProbe.__dataclass_fields__})
        try:
            det = detect_scenes(v["path"], probe, settings)
            if det.frames_decoded == 0:
                raise media.EmptyVideoError("no frame decoded")
        except VidgenError as exc:
            runs.append({**run, "status": "failed", "error": exc.record(), "seconds": time.perf_counter() - t0})
            continue
        runs.append({
            **run, "status": "ok", "error": None, "frames_decoded": det.frames_decoded,
            "analysis_width": det.analysis_width, "analysis_height": det.analysis_height,
            "scene_count": len(det.scenes), "frame_times_s": det.frame_times_s, "brightness": det.brightness,
            "frame_delta": det.frame_delta,
            "seconds": round(time.perf_counter() - t0, 4),
        })
        scene_rows += [{"video_id": v["video_id"], "shard": shard, **asdict(s)} for s in det.scenes]
    progress(len(videos), len(videos), "done")
    store.write("scene_runs", shard, runs)
    store.write("scenes", shard, scene_rows)
    counts = Counter(r["status"] for r in runs)
    boundaries = Counter(r["boundary"] for r in scene_rows)
    return {"videos": len(runs), "scenes": len(scene_rows),
            **{f"videos_{k}": n for k, n in sorted(counts.items())},
            **{f"boundaries_{k}": n for k, n in sorted(boundaries.items()) if k != "start"},
            "failures": {r["video_id"]: r["error"] for r in runs if r["status"] == "failed"}}


def run_clips(store: Store, shard: str, config: dict) -> dict:
    """Scenes → training clips (cheap: reads the stored scenes and frame times, decodes nothing)."""
    settings = ClipSettings.from_dict(config["clips"])
    chash = section_hash(config, "scenes", "clips")
    runs = {r["video_id"]: r for r in store.rows("scene_runs", shard) if r["status"] == "ok"}
    by_video: dict[str, list[Scene]] = {}
    for r in store.rows("scenes", shard):
        by_video.setdefault(r["video_id"], []).append(
            Scene(**{k: r[k] for k in Scene.__dataclass_fields__})
        )
    clip_rows, dropped_rows = [], []
    for vid, run in sorted(runs.items()):
        scenes = sorted(by_video.get(vid, []), key=lambda s: s.scene_index)
        spans, dropped = scenes_to_clips(scenes, run["frame_times_s"], settings)
        for k, c in enumerate(spans):
            clip_rows.append({
                "clip_id": f"{vid}-{k:04d}", "video_id": vid, "shard": shard, **asdict(c),
                "duration_s": c.duration_s, "config_hash": chash,
            })
        dropped_rows += [{"video_id": vid, "shard": shard, **asdict(d), "config_hash": chash} for d in dropped]
    store.write("clips", shard, clip_rows)
    store.write("dropped_scenes", shard, dropped_rows)
    reasons = Counter(d["reason"].split(":")[0] for d in dropped_rows)
    total = sum(c["duration_s"] for c in clip_rows)
    return {"clips": len(clip_rows), "clip_seconds": round(total, 2),
            "mean_clip_s": round(total / len(clip_rows), 2) if clip_rows else 0.0,
            "dropped_scenes": len(dropped_rows), **{f"dropped_{k}": v for k, v in sorted(reasons.items())}}


def account_shard(store: Store, shard: str) -> list[str]:
    """Problems with the shard's accounting (empty list: every video and scene is in one state).

    Every manifest file has exactly one ``videos`` row; every video has exactly one ``scene_runs``
    row whose status agrees with the video's; every scene of a processed video either produced clips
    or is in ``dropped_scenes``, never both.
    """
    problems: list[str] = []
    paths = Counter(r["path"] for r in store.rows("shard_manifest", shard))
    videos = [v for v in store.rows("videos", shard) if v["status"] != "superseded"]
    seen_paths = Counter(v["path"] for v in videos)
    if seen_paths != paths:
        problems.append(f"videos rows do not match the manifest: {sorted((seen_paths - paths) + (paths - seen_paths))}")
    runs = Counter(r["video_id"] for r in store.rows("scene_runs", shard))
    for v in videos:
        if runs.get(v["video_id"], 0) != 1:
            problems.append(f"{v['video_id']} has {runs.get(v['video_id'], 0)} scene_runs rows")
    ok_runs = {r["video_id"] for r in store.rows("scene_runs", shard) if r["status"] == "ok"}
    clipped = {(c["video_id"], c["scene_index"]) for c in store.rows("clips", shard)}
    dropped = Counter((d["video_id"], d["scene_index"]) for d in store.rows("dropped_scenes", shard))
    for s in store.rows("scenes", shard):
        key = (s["video_id"], s["scene_index"])
        if s["video_id"] not in ok_runs:
            problems.append(f"scene {key} belongs to a video whose detection did not succeed")
        elif (key in clipped) + dropped.get(key, 0) != 1:
            problems.append(f"scene {key} is in clips {key in clipped} and dropped {dropped.get(key, 0)} times")
    return problems
