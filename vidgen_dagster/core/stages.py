"""The per-shard stages of the left half of the graph, free of Dagster.

Each function reads its upstream tables from the :class:`Store`, does the work, writes its own
tables (whole-file replacement) and returns a small summary for asset metadata. A video that
fails gets a row that says why; it never stops the shard.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict

from . import media
from .config import section_hash
from .errors import VidgenError
from .scenes import ClipSettings, Scene, SceneSettings, detect_scenes, scenes_to_clips
from .shards import load_manifest
from .store import Store

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]


def video_id_for(path: str, version: int = 0) -> str:
    """The id of ``path``'s ``version``-th content (0: as first registered; a file replaced in place
    gets the next version, so its clips never carry the old content's ids)."""
    key = path if version == 0 else f"{path}\0{version}"
    return "v-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _noop(done: int, total: int, what: str) -> None:
    pass


def run_shard_manifest(store: Store, shard: str) -> dict:
    m = load_manifest(store, shard)
    rows = [
        {"shard": shard, "path": f.path, "size_bytes": f.size_bytes, "mtime_ns": f.mtime_ns,
         "registered_at": m.registered_at, "error": f.error}
        for f in m.files
    ]
    store.write("shard_manifest", shard, rows)
    return {"files": len(rows), "bytes": sum(max(r["size_bytes"], 0) for r in rows),
            "not_files": sum(1 for r in rows if r["error"])}


def _entry_status(error: str) -> str:
    if error.startswith("missing"):
        return "missing"
    if error.startswith("not a"):
        return "skipped"
    return "failed"


def run_videos(store: Store, shard: str, progress: Progress = _noop) -> dict:
    """Probe every file of the shard; mark exact duplicates; record failures with their reason."""
    files = store.rows("shard_manifest", shard)
    # Content already accepted in another shard: a later copy is a duplicate of it.
    others = {
        r["sha256"]: r["video_id"]
        for r in store.rows("videos")
        if r["shard"] != shard and r["status"] == "ok" and r["sha256"]
    }
    # What this shard recorded before: a path whose content changed since gets a new video version, and
    # the earlier version stays on record as superseded (its clips are no longer current).
    previous = [r for r in store.rows("videos", shard)]
    current_before = {r["path"]: r for r in previous if r["status"] != "superseded"}
    history = [r for r in previous if r["status"] == "superseded"]
    seen: dict[str, str] = {}
    rows = []
    for i, f in enumerate(sorted(files, key=lambda r: r["path"])):
        path = f["path"]
        before = current_before.get(path)
        version = int((before or {}).get("version") or 0)
        row = {"video_id": video_id_for(path, version), "shard": shard, "path": path, "status": "ok",
               "error": None, "version": version}
        progress(i, len(files), path)
        if f.get("error"):
            row.update(status=_entry_status(f["error"]), error=f["error"])
            rows.append(row)
            continue
        try:
            st = os.stat(path)
            row["size_bytes"], row["mtime_ns"] = st.st_size, st.st_mtime_ns
            row["sha256"] = media.sha256_file(path)
        except FileNotFoundError:
            row.update(status="missing", error="missing: the file disappeared after registration")
            rows.append(row)
            continue
        except OSError as exc:
            row.update(status="failed", error=f"unreadable: {exc.strerror or exc}")
            rows.append(row)
            continue
        if before and before.get("sha256") and before["sha256"] != row["sha256"]:
            row["version"] = version = version + 1
            row["video_id"] = video_id_for(path, version)
            history.append({**before, "status": "superseded", "superseded_by": row["video_id"],
                            "error": f"superseded: the file's content changed (now {row['video_id']})"})
        vid = row["video_id"]
        original = others.get(row["sha256"]) or seen.get(row["sha256"])
        if original:
            row.update(status="duplicate", duplicate_of=original, error=f"duplicate of {original}")
            rows.append(row)
            continue
        try:
            row.update(media.probe(path).as_row())
        except VidgenError as exc:
            row.update(status="failed", error=exc.record())
        else:
            seen[row["sha256"]] = vid
        rows.append(row)
    progress(len(files), len(files), "done")
    rows += history
    store.write("videos", shard, rows)
    counts = Counter(r["status"] for r in rows)
    return {"videos": len(rows), **{f"status_{k}": v for k, v in sorted(counts.items())},
            "failures": {r["path"]: r["error"] for r in rows if r["status"] == "failed"}}


def run_scenes(store: Store, shard: str, config: dict, progress: Progress = _noop) -> dict:
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
