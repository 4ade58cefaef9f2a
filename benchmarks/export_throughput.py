"""Throughput of cutting clips for the dataset export against decoding the same frames, in one run.

Setup (not timed): the media folder is registered as one shard and run through manifest → videos →
scenes → clips. Then, for every clip, in the same run:

* decode-only: PyAV seeks to the clip and decodes exactly its frames (what any cutter must do);
* cut: :func:`vidgen_dagster.core.export.cut_clip` at the export defaults (stream copy where frame-exact,
  else libx264 CRF 18 ``veryfast``), including the decode-back verification of every output.

``--max-short-side`` downscales on export (e.g. 360) like ``export.max_short_side``.
Last line: ``cut/decode ratio: X.XX``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import av

from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.dataset.cutting import cut_clip
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

REPO_ROOT = Path(__file__).resolve().parent.parent


def decode_clip(video: dict, clip: dict) -> int:
    """Decode the clip's frames (seek to the keyframe before it, then forward); return how many."""
    with av.open(video["path"], metadata_errors="ignore") as container:
        stream = container.streams[video["stream_index"]]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        start = (video["start_time_s"] or 0.0) + clip["start_s"]
        end = (video["start_time_s"] or 0.0) + clip["end_s"]
        container.seek(int(max(0.0, start - 0.5) / tb), stream=stream, backward=True)
        n = 0
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = frame.pts * tb
            if t >= end - 1e-6:
                break
            if t >= start - 1e-6:
                n += 1
        return n


def main(argv: list[str] | None = None) -> int:
    default_media = os.environ.get("VIDGEN_MEDIA") or str(REPO_ROOT.parent / "shared" / "media")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(default_media))
    ap.add_argument("--max-short-side", type=int, default=None)
    ap.add_argument("--limit", type=int, default=0, help="at most this many clips (0: all)")
    args = ap.parse_args(argv)

    config = load_config()
    home = tempfile.mkdtemp(prefix="vidgen-export-bench-")
    store = Store(home)
    entries = [shardlib.FileEntry.of(p) for p in shardlib.discover([str(args.media)], config["ingest"]["extensions"])]
    if not entries:
        print(f"no video files in {args.media}", file=sys.stderr)
        return 1
    (manifest,) = shardlib.register(store, entries, len(entries))
    shard = manifest.shard
    ingest_videos.run_shard_manifest(store, shard)
    ingest_videos.run_videos(store, shard)
    scene_stages.run_scenes(store, shard, config)
    scene_stages.run_clips(store, shard, config)
    videos = {v["video_id"]: v for v in store.rows("videos", shard)}
    clips = sorted(store.rows("clips", shard), key=lambda c: c["clip_id"])
    if args.limit:
        clips = clips[: args.limit]
    out = Path(home) / "cut"
    out.mkdir()
    decode_s = cut_s = 0.0
    frames = 0
    methods: Counter = Counter()
    for c in clips:
        v = videos[c["video_id"]]
        t = time.perf_counter()
        n = decode_clip(v, c)
        decode_s += time.perf_counter() - t
        t = time.perf_counter()
        info = cut_clip(v["path"], v["stream_index"], v["start_time_s"] or 0.0, c, out / f"{c['clip_id']}.mp4",
                        max_short_side=args.max_short_side)
        cut_s += time.perf_counter() - t
        methods[info.method] += 1
        frames += info.num_frames
        if n != info.num_frames:
            print(f"note: {c['clip_id']}: decode-only counted {n} frames, the cut holds {info.num_frames}")
    print(f"{len(clips)} clips, {frames} frames; methods: {dict(methods)}")
    print(f"decode-only: {decode_s:.2f} s ({frames / decode_s:.0f} frames/s)")
    print(f"cut: {cut_s:.2f} s ({frames / cut_s:.0f} frames/s)"
          + (f", max short side {args.max_short_side}" if args.max_short_side else ""))
    print(f"cut/decode ratio: {cut_s / decode_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
