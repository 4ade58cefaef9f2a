"""The per-shard stages of the coarse half of the graph (frames → scores → selection), Dagster-free.

Every clip of the shard gets exactly one row in each table; a clip whose frames or scoring failed
gets a row with ``status = failed`` and the reason, and the shard goes on. Scores are raw; only
:func:`run_selection` applies thresholds.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

from ..common import media
from ..common.config import section_hash
from ..common.errors import VidgenError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store
from . import near_duplicates
from .frames import FrameSettings, decode_jpeg, pair_roles, plan_clip, sample_video
from .scoring.registry import BY_NAME, STAGES
from .scoring.stage import StageBatch, StageInputs, clip_failed
from .selection import REFERENCE_FILE, Reference, coarse_thresholds, select, selection_hash

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------------- frames


def run_frames(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    """Decode each video with clips once; keep the planned frames of every clip as JPEG."""
    settings = FrameSettings.from_dict(config["frames"])
    chash = section_hash(config, "frames")
    videos = {v["video_id"]: v for v in store.rows("videos", shard)}
    runs = {r["video_id"]: r for r in store.rows("scene_runs", shard) if r["status"] == "ok"}
    by_video: dict[str, list[dict]] = defaultdict(list)
    for c in store.rows("clips", shard):
        by_video[c["video_id"]].append(c)
    run_rows: list[dict] = []
    n_frames = n_bytes = 0
    t0 = time.perf_counter()
    with store.writer("frames", shard) as write_frames:  # one row group per video: bounded memory
        for i, (vid, clips) in enumerate(sorted(by_video.items())):
            progress(i, len(by_video), videos[vid]["path"])
            frame_rows, video_runs = _frames_of_video(videos[vid], runs[vid]["frame_times_s"], clips, shard,
                                                      settings, chash)
            write_frames(frame_rows)
            run_rows += video_runs
            n_frames += len(frame_rows)
            n_bytes += sum(len(r["jpeg"]) for r in frame_rows)
    progress(len(by_video), len(by_video), "done")
    store.write("frame_runs", shard, run_rows)
    status = Counter(r["status"] for r in run_rows)
    return {"clips": len(run_rows), "frames": n_frames, **{f"clips_{k}": n for k, n in status.items()},
            "jpeg_bytes": n_bytes, "seconds": round(time.perf_counter() - t0, 2),
            "failures": {r["clip_id"]: r["error"] for r in run_rows if r["status"] == "failed"}}


def _frames_of_video(v: dict, times: list[float], clips: list[dict], shard: str, settings: FrameSettings,
                     chash: str) -> tuple[list[dict], list[dict]]:
    """One video's kept frames (rows of complete clips only) and a frame_runs row per clip."""
    vid = v["video_id"]
    plans = [plan_clip(c["clip_id"], c["start_frame"], c["end_frame"], times, settings) for c in clips]
    size = media.analysis_size(v["width"], v["height"], settings.short_side, v["sample_aspect_ratio"])
    kept: dict[str, list] = defaultdict(list)
    error = None
    try:
        for f in sample_video(v["path"], v["stream_index"], v["start_time_s"] or 0.0, size, plans, settings,
                              frame_times=times):
            kept[f.clip_id].append(f)
    except VidgenError as exc:
        error = exc.record()
    frame_rows, run_rows = [], []
    for plan in plans:
        frames = kept.get(plan.clip_id, [])
        complete = len(frames) == len(plan.roles)
        run_rows.append({
            "clip_id": plan.clip_id, "video_id": vid, "shard": shard, "status": "ok" if complete else "failed",
            "error": None if complete else (error or "planned frames missing"),
            "frames_kept": len(frames), "width": size[0], "height": size[1], "config_hash": chash,
        })
        if complete:
            frame_rows += [{
                "clip_id": f.clip_id, "video_id": vid, "shard": shard, "frame_index": f.frame_index,
                "time_s": f.time_s, "roles": f.roles, "width": f.width, "height": f.height, "jpeg": f.jpeg,
            } for f in frames]
    return frame_rows, run_rows


class ClipFrames:
    """One clip's kept frames, decoded from JPEG on demand."""

    def __init__(self, clip_id: str, rows: list[dict]):
        self.clip_id = clip_id
        self.rows = sorted(rows, key=lambda r: r["frame_index"])
        self._by_role = {role: r for r in self.rows for role in r["roles"]}
        self._images: dict[int, object] = {}

    def image(self, role: str):
        r = self._by_role[role]
        if r["frame_index"] not in self._images:
            self._images[r["frame_index"]] = decode_jpeg(r["jpeg"])
        return self._images[r["frame_index"]]

    def has(self, role: str) -> bool:
        return role in self._by_role

    def time(self, role: str) -> float:
        return self._by_role[role]["time_s"]

    def pairs(self) -> list[tuple[str, str]]:
        out, k = [], 0
        while self.has(pair_roles(k)[0]) and self.has(pair_roles(k)[1]):
            out.append(pair_roles(k))
            k += 1
        return out


def iter_clip_frames(store: Store, shard: str, only: set[str] | None = None,
                     batch_rows: int = 256) -> Iterator[ClipFrames]:
    """The shard's clips with their kept frames, one at a time, read from the Parquet file in row batches:
    memory holds one batch and one clip's decoded images, not the whole shard (a shard of long videos
    keeps gigabytes of JPEG). ``run_frames`` writes each clip's frames contiguously; a file where they
    are not is an error, not a silent split."""
    import pyarrow.parquet as pq

    if not store.has("frames", shard):
        return
    current: str | None = None
    rows: list[dict] = []
    done: set[str] = set()
    with store.fs.open_input_file(store.table_file("frames", shard)) as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows):
            for r in batch.to_pylist():
                cid = r["clip_id"]
                if only is not None and cid not in only:
                    continue
                if cid != current:
                    if cid in done:
                        raise ValueError(f"frames of clip {cid} are not contiguous in {shard}'s frames file")
                    if current is not None:
                        done.add(current)
                        yield ClipFrames(current, rows)
                    current, rows = cid, []
                rows.append(r)
    if current is not None:
        yield ClipFrames(current, rows)


def clip_frame_runs(store: Store, shard: str) -> dict[str, dict]:
    return {r["clip_id"]: r for r in store.rows("frame_runs", shard)}


def _base_rows(runs: dict[str, dict], shard: str, chash: str) -> dict[str, dict]:
    """One row per clip; clips without frames are failed with the frames stage's reason."""
    rows = {}
    for cid, r in runs.items():
        rows[cid] = {"clip_id": cid, "shard": shard, "config_hash": chash, "status": "ok", "error": None}
        if r["status"] != "ok":
            rows[cid].update(status="failed", error=f"frames: {r['error']}")
    return rows


# ---------------------------------------------------------------------------------------------- scores


def run_stage(name: str, store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    """Run the registered per-clip stage ``name`` (see :mod:`.scoring.registry`) over the shard: its model
    is loaded once, the clips' stored frames are streamed to it in its batches, and its table gets one row
    per clip (failed with the frames stage's reason where the clip has no frames)."""
    stage = BY_NAME[name]
    runs = clip_frame_runs(store, shard)
    rows = _base_rows(runs, shard, stage.version(config))
    t0 = time.perf_counter()
    scorer = stage.setup(config, StageInputs(store, shard))
    total = sum(r["status"] == "ok" for r in runs.values())
    batch = StageBatch()

    def flush() -> None:
        try:
            outs = scorer.process(batch)
        except Exception as exc:  # the batch's clips are recorded as failed; the shard goes on
            outs = [clip_failed(exc)] * len(batch.clips)
        for cf, out in zip(batch.clips, outs, strict=True):
            rows[cf.clip_id].update(out)
        batch.clips.clear()

    for i, cf in enumerate(iter_clip_frames(store, shard)):
        progress(i, total, cf.clip_id)
        batch.clips.append(cf)
        if len(batch.clips) >= scorer.batch_size:
            flush()
    if batch.clips:
        flush()
    progress(total, total, "done")
    out = sorted(rows.values(), key=lambda r: r["clip_id"])
    store.write(stage.name, shard, out)
    status = Counter(r["status"] for r in out)
    summary = {"clips": len(out), **{f"clips_{k}": n for k, n in sorted(status.items())},
               "backend": scorer.label or f"not run: {scorer.unavailable}",
               "seconds": round(time.perf_counter() - t0, 2), "unavailable": scorer.unavailable,
               "failures": {r["clip_id"]: r["error"] for r in out if r["status"] == "failed"}}
    summary.update(stage.summarize(out, scorer))
    return summary


def run_motion(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    return run_stage("motion_scores", store, shard, config, progress)


def run_text(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    return run_stage("text_scores", store, shard, config, progress)


def run_visual(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    """CLIP tags (when the model is available) and the weight-free quality measures (always)."""
    return run_stage("visual_scores", store, shard, config, progress)


def run_scores(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict[str, dict]:
    """Every registered stage over the shard, in registry order: {stage: summary}."""
    return {s.name: run_stage(s.name, store, shard, config, progress) for s in STAGES}


# ---------------------------------------------------------------------------------------------- selection


def categories(config: dict) -> list[str]:
    """The taxonomy's category names (the default sampling target is uniform over them)."""
    from .scoring.visual import load_taxonomy

    return list(load_taxonomy(config["visual"].get("categories") or "categories.yaml").names)


def load_reference(store: Store) -> Reference | None:
    try:
        return Reference.from_json(store.read_bytes(REFERENCE_FILE))
    except FileNotFoundError:
        return None


def reference_generation(store: Store) -> int:
    ref = load_reference(store)
    return ref.generation if ref else 0


def joined_scores(store: Store, shard: str) -> list[dict]:
    """Every clip of the shard with its frames state and all its scores (``<table>.status`` keys)."""
    runs = {r["clip_id"]: r for r in store.rows("frame_runs", shard)}
    tables = {s.name: {r["clip_id"]: r for r in store.rows(s.name, shard)} for s in STAGES}
    out = []
    for c in store.rows("clips", shard):
        cid = c["clip_id"]
        row = {"clip_id": cid, "video_id": c["video_id"], "shard": shard, "duration_s": c["duration_s"]}
        fr = runs.get(cid)
        row["frames_error"] = None if fr and fr["status"] == "ok" else (fr["error"] if fr else "no frames row")
        for t, by_id in tables.items():
            r = by_id.get(cid, {})
            for k, v in r.items():
                if k in ("clip_id", "shard", "config_hash", "embedding"):
                    continue
                if k in ("status", "error", "backend", "model_id"):
                    row[f"{t}.{k}"] = v
                else:
                    row.setdefault(k, v)
        out.append(row)
    return out


def run_selection(store: Store, shard: str, config: dict) -> dict:
    thresholds = coarse_thresholds(config)
    chash = selection_hash(config)
    reference = load_reference(store)
    rows = joined_scores(store, shard)
    decisions, summary = select(rows, thresholds, config["sampling"], categories(config), reference)
    summary.update(near_duplicates.apply(store, shard, config, decisions, rows))
    for d in decisions:
        d["config_hash"] = chash
    store.write("coarse_selection", shard, decisions)
    kept = sum(d["decision"] == "kept" for d in decisions)
    reasons = Counter(r.split(":")[0] for d in decisions for r in d["reasons"])
    not_applied: dict[str, int] = Counter(k for d in decisions for k in d["not_applied"])
    disabled = [k for k, v in thresholds.items() if v is None]
    out = {"clips": len(decisions), "kept": kept, "rejected": len(decisions) - kept,
           "kept_fraction": round(kept / len(decisions), 4) if decisions else 0.0, **summary,
           **{f"reason_{k}": n for k, n in sorted(reasons.items())},
           "filters_not_applied": ", ".join(f"{k} ({n} clips)" for k, n in sorted(not_applied.items())) or "none",
           "filters_disabled": ", ".join(disabled) or "none"}
    return out


def rebalance(store: Store, config: dict) -> Reference:
    """Freeze a global sampling reference from every shard's threshold passers (next generation)."""
    rows = store.query(
        "SELECT category FROM coarse_selection WHERE passed_thresholds AND category IS NOT NULL"
    ).to_pylist()
    from .selection import frequencies

    old = load_reference(store)
    ref = Reference(frequencies([r["category"] for r in rows]), (old.generation if old else 0) + 1, "global")
    store.write_bytes(REFERENCE_FILE, ref.to_json())
    return ref


def account_coarse(store: Store, shard: str) -> list[str]:
    """Problems with the coarse tables' accounting: every clip of the shard has exactly one row in
    ``frame_runs``, each score table and ``coarse_selection``, and its decision is kept or rejected."""
    problems: list[str] = []
    clips = Counter(c["clip_id"] for c in store.rows("clips", shard))
    for dup in [c for c, n in clips.items() if n != 1]:
        problems.append(f"clip {dup} appears {clips[dup]} times in clips")
    for table in ("frame_runs", *(s.name for s in STAGES), "coarse_selection"):
        seen = Counter(r["clip_id"] for r in store.rows(table, shard))
        missing = sorted(set(clips) - set(seen))
        extra = sorted(set(seen) - set(clips))
        twice = sorted(c for c, n in seen.items() if n > 1)
        for label, ids in (("missing from", missing), ("not a clip but in", extra), ("repeated in", twice)):
            if ids:
                problems.append(f"{len(ids)} clip(s) {label} {table}: {ids[:5]}")
    for d in store.rows("coarse_selection", shard):
        if d["decision"] not in ("kept", "rejected"):
            problems.append(f"{d['clip_id']}: decision {d['decision']!r}")
        elif (d["decision"] == "rejected") != bool(d["reasons"]):
            problems.append(f"{d['clip_id']}: {d['decision']} with reasons {d['reasons']}")
    return problems
