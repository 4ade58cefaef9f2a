"""OCR text decisions and cost: re-score a curated home's stored frames with this checkout's OCR and
compare with the text scores that home recorded.

Make the reference home with the code to compare against, then run this with the code under test:

    vidgen curate ../shared/media --home H --until coarse_selection      # (old code)
    python benchmarks/ocr_decisions.py --home H                           # (new code)

Both sides score the very same stored JPEG frames (first/middle/last of every clip), so scene or frame
changes made meanwhile cannot blur the comparison. A clip's text decision is ``text_area >
thresholds.ocr_max_area`` (the rule ``coarse_selection`` applies; cross-checked against the ``text``
reasons the home recorded). Scoring uses the stage's own options (``ocr.early_exit``: a clip stops once the
filter has rejected it, so a rejected clip's area, boxes and frames-with-text are lower bounds and are not
compared; ``--no-early-exit`` scores every frame; one detector per shard, as the stage builds one per run, so
a frame repeated within a shard is detected and read once). Prints every clip whose decision changed, and every kept
clip whose area (beyond 1e-4), box count or frames-with-text changed; the OCR cost per frame (CPU seconds of
this process, all onnxruntime threads: the machine may be shared, wall time is printed too); the CPU seconds
of a threaded PyAV decode of the videos those clips come from (every frame, as
``benchmarks/curate_throughput.py`` decodes) and the OCR/decode ratio; and as its last line
``text decisions changed: K of N clips``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.coarse.scoring.text import build_text_detector, score_options, score_text
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest.shards import load_manifests

ROLES = ("first", "middle", "last")


def query(home: Path, sql: str) -> list[dict]:
    exe = Path(sys.executable).parent / "vidgen"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "vidgen_dagster.cli"]
    out = subprocess.run([*cmd, "query", "--home", str(home), sql, "--format", "json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="a home curated at least to text_scores")
    ap.add_argument("--threads", type=int, default=0, help="ocr.threads for the re-score (0: the default rule)")
    ap.add_argument("--no-early-exit", action="store_true", help="ocr.early_exit off: score every frame of every clip")
    ap.add_argument("--no-decode", action="store_true", help="skip the decode reference")
    args = ap.parse_args(argv)

    config = load_config()
    cfg = {**config["ocr"], "threads": args.threads}
    if args.no_early_exit:
        cfg["early_exit"] = False
    limit = float(config["thresholds"]["ocr_max_area"])
    before = {r["clip_id"]: r for r in query(args.home, "SELECT * FROM text_scores WHERE status = 'ok'")}
    recorded = {r["clip_id"]: any(x.split(":")[0] == "text" for x in r["reasons"] or [])
                for r in query(args.home, "SELECT clip_id, reasons FROM coarse_selection")}
    store = Store(str(args.home))
    clips = [(m.shard, cf.clip_id, [cf.image(r) for r in cfg.get("frames") or ROLES if cf.has(r)])
             for m in load_manifests(store) for cf in coarse.iter_clip_frames(store, m.shard)]
    clips = [(s, c, f) for s, c, f in clips if c in before]
    warm = build_text_detector(cfg)
    if warm is None:
        print("ocr.backend is none: nothing to compare", file=sys.stderr)
        return 1
    options = score_options(cfg, config["thresholds"])
    score_text(warm, clips[0][2][:1])  # warm-up: first-call allocations are not per-frame cost
    load = os.getloadavg()
    t, cpu = time.perf_counter(), time.process_time()
    after, detectors = {}, {}
    for shard, c, frames in clips:  # one detector per shard, as the stage builds one per run
        if shard not in detectors:
            detectors[shard] = build_text_detector(cfg)
        after[c] = score_text(detectors[shard], frames, **options)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    reused = sum(getattr(getattr(d, "memo", None), "hits", 0) for d in detectors.values())
    detector = warm
    clips = [(c, f) for _, c, f in clips]
    n_frames = sum(len(f) for _, f in clips)

    changed = 0
    mismatched_record = [c for c in before if c in recorded and (before[c]["text_area"] > limit) != recorded[c]]
    for clip_id, _ in clips:
        b, a = before[clip_id], after[clip_id]
        db, da = b["text_area"] > limit, a["text_area"] > limit
        changed += db != da
        diffs = [k for k in ("box_count", "frames_with_text") if b[k] != a[k]]
        if db != da or (not da and (abs(b["text_area"] - a["text_area"]) > 1e-4 or diffs)):
            print(f"{clip_id}: text_area {b['text_area']:.4f} -> {a['text_area']:.4f}"
                  f" ({'reject' if db else 'keep'} -> {'reject' if da else 'keep'})"
                  + "".join(f", {k} {b[k]} -> {a[k]}" for k in diffs)
                  + f"; sample {b['text_sample'][:40]!r} -> {a['text_sample'][:40]!r}")
    rejected = sum(a["text_area"] > limit for a in after.values())
    print(f"{len(clips)} clips, {n_frames} frames; text filter (text_area > {limit}) rejects "
          f"{sum(b['text_area'] > limit for b in before.values())} before, {rejected} after")
    if mismatched_record:
        print(f"WARNING: {len(mismatched_record)} clips whose recorded text reason disagrees with the rule")
    scored = sum(a.get("frames_scored", len(f)) for (c, f), a in zip(clips, after.values(), strict=True))
    print(f"OCR {detector.model_id}, early exit {'off' if options['stop_above'] is None else 'at ' + str(limit)}: "
          f"{scored} of {n_frames} frames scored ({reused} detections/readings reused for repeated frames); "
          f"{1000 * cpu / n_frames:.1f} ms CPU per frame "
          f"({cpu:.2f} s CPU, {seconds:.1f} s wall, load average {load[0]:.1f} at start)")
    if not args.no_decode:
        paths = sorted({r["path"] for r in query(args.home, "SELECT DISTINCT v.path FROM videos v JOIN clips c "
                                                  "USING (video_id)") if Path(r["path"]).exists()})
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from curate_throughput import cores, decode_all

        decode_all([Path(paths[0])], 1)  # warm-up (imports, codec set-up)
        wall, dcpu, frames = min((decode_all([Path(p) for p in paths], cores()) for _ in range(2)),
                                 key=lambda r: r[1])
        print(f"decode reference: {len(paths)} videos, {frames} frames, {dcpu:.2f} s CPU ({wall:.1f} s wall), "
              f"threaded PyAV; OCR/decode CPU ratio {cpu / dcpu:.2f}")
    print(f"text decisions changed: {changed} of {len(clips)} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
