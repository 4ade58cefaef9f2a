"""Throughput of the coarse stage against a decode-only floor, in one run over the same files.

Setup (not timed): the files are registered as one shard and run through manifest → videos →
scenes → clips with the default configuration.

Then, alternating for ``--repeat`` rounds (each side keeps its fastest round):

* decode-only: PyAV decodes every frame of each processed video's chosen stream
  (``thread_type = "AUTO"``, frames discarded) — the cost any tool that looks at the video pays;
* coarse: ``frames`` (the one decode, GOP-selective, JPEG kept frames) + every weight-free scorer
  (``motion_scores`` with OpenCV DIS, ``text_scores`` with rapidocr PP-OCR, ``visual_scores`` with
  ``visual.backend: none`` = technical quality only) + ``coarse_selection``, exactly the core
  functions the Dagster assets call, writing real Parquet files.

The last line is ``coarse/decode ratio: X.XX`` for the whole stage including OCR (the project's goal on
CPU is 1.3 or less); the line before it breaks out the OCR share, which is the PP-OCR network itself.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import av

from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

REPO_ROOT = Path(__file__).resolve().parent.parent


def decode_only(videos: list[dict]) -> int:
    frames = 0
    for v in videos:
        with av.open(v["path"], metadata_errors="ignore") as container:
            stream = container.streams[v["stream_index"]]
            stream.thread_type = "AUTO"
            frames += sum(1 for _ in container.decode(stream))
    return frames


def main(argv: list[str] | None = None) -> int:
    default_media = os.environ.get("VIDGEN_MEDIA") or str(REPO_ROOT.parent / "shared" / "media")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(default_media), help="folder of videos")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; each side keeps its fastest")
    ap.add_argument("--home", help="store folder (default: a temporary one)")
    args = ap.parse_args(argv)

    config = load_config()
    config = copy.deepcopy(config)
    config["visual"]["backend"] = "none"  # weight-free: CLIP needs downloaded weights
    config["motion"]["backend"] = "dis"
    home = args.home or tempfile.mkdtemp(prefix="vidgen-bench-")
    store = Store(home)
    entries = [shardlib.FileEntry.of(p) for p in shardlib.discover([str(args.media)], config["ingest"]["extensions"])]
    if not entries:
        print(f"no video files in {args.media}", file=sys.stderr)
        return 1
    (manifest,) = shardlib.register(store, entries, len(entries)) or [
        m for m in shardlib.load_manifests(store) if {f.path for f in m.files} == {e.path for e in entries}]
    shard = manifest.shard
    t0 = time.perf_counter()
    ingest_videos.run_shard_manifest(store, shard)
    ingest_videos.run_videos(store, shard)
    scene_stages.run_scenes(store, shard, config)
    clip_summary = scene_stages.run_clips(store, shard, config)
    print(f"setup: {len(entries)} files -> {clip_summary['clips']} clips "
          f"({clip_summary['clip_seconds']} s) in {time.perf_counter() - t0:.1f} s (not timed)")
    ok = {r["video_id"] for r in store.rows("scene_runs", shard) if r["status"] == "ok"}
    with_clips = {c["video_id"] for c in store.rows("clips", shard)}
    videos = [v for v in store.rows("videos", shard) if v["video_id"] in ok & with_clips]
    print(f"timed over {len(videos)} videos that have clips")

    steps = [
        ("frames", lambda: coarse.run_frames(store, shard, config)),
        ("motion_scores", lambda: coarse.run_motion(store, shard, config)),
        ("text_scores", lambda: coarse.run_text(store, shard, config)),
        ("visual_scores", lambda: coarse.run_visual(store, shard, config)),
        ("coarse_selection", lambda: coarse.run_selection(store, shard, config)),
    ]
    best_decode = best_coarse = float("inf")
    best_steps: dict[str, float] = {}
    frames = 0
    for r in range(max(1, args.repeat)):
        t = time.perf_counter()
        frames = decode_only(videos)
        d = time.perf_counter() - t
        per: dict[str, float] = {}
        for name, fn in steps:
            t = time.perf_counter()
            fn()
            per[name] = time.perf_counter() - t
        c = sum(per.values())
        print(f"round {r + 1}: decode-only {d:.2f} s ({frames / d:.0f} frames/s), coarse {c:.2f} s: "
              + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
        best_decode = min(best_decode, d)
        if c < best_coarse:
            best_coarse, best_steps = c, per
    sel = store.rows("coarse_selection", shard)
    kept = sum(d["decision"] == "kept" for d in sel)
    print(f"decisions: {kept} kept / {len(sel)} clips")
    print(f"decode-only: {best_decode:.2f} s for {frames} frames")
    print(f"coarse: {best_coarse:.2f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in best_steps.items()) + ")")
    no_ocr = best_coarse - best_steps["text_scores"]
    per_frame_ms = 1000 * best_steps["text_scores"] / max(1, 3 * len(sel))
    print(f"without OCR (frames + DIS motion + quality + selection): {no_ocr:.2f} s, "
          f"ratio {no_ocr / best_decode:.2f}")
    print(f"OCR (rapidocr PP-OCR det + verification): {best_steps['text_scores']:.2f} s, "
          f"~{per_frame_ms:.0f} ms per frame scored")
    print(f"coarse/decode ratio: {best_coarse / best_decode:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
