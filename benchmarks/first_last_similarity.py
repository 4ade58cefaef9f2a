"""Calibration of ``thresholds.first_last_min`` on the real footage: single shots vs spans across a cut.

Two populations of (first frame, last frame) pairs, stored as the frames stage keeps them (short side 320,
JPEG 92), scored with :func:`~vidgen_dagster.core.scoring.similarity.hist_correlation`:

* one shot: the clips the pipeline itself cuts from ``../shared/media`` (default configuration, up to the
  ``frames`` stage, then the ``similarity_scores`` stage through the registry's runner);
* across a cut: for the files with published cuts (``groundtruth/cuts.json``), the first frame of one shot
  and the last frame of the next (a clip that spans a cut the scene pass missed).

The last line is the separation: the lowest one-shot score, and how many cross-cut spans fall below it.
Usage: ``python benchmarks/first_last_similarity.py [MEDIA]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.coarse.frames import decode_jpeg, encode_jpeg
from vidgen_dagster.core.coarse.scoring.similarity import hist_correlation
from vidgen_dagster.core.common import media
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

# scene starts (hard cuts) per file, from groundtruth/cuts.json (published goldens or inferred from them)
CUTS = {
    "cuts_fades__pyscenedetect_testvideo.mp4": [30, 180, 394],
    "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4": [60, 140],
    "cuts_rotated__pyscenedetect_issue-134-rotate.mp4": [90, 210],
    "hardsub_cuts__vsr_test2.mp4": [42, 90, 134, 191, 229],
}


def frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    p = media.probe(path)
    size = media.analysis_size(p.width, p.height, 320, p.sample_aspect_ratio)
    out = {}
    for d in media.decode_frames(path, p.stream_index, size, p.start_time_s or 0.0):
        if d.index in wanted:
            out[d.index] = decode_jpeg(encode_jpeg(d.image, 92))
        if d.index >= max(wanted):
            break
    return out


def across_cuts(folder: Path) -> list[tuple[str, int, int, float]]:
    out = []
    for name, cuts in CUTS.items():
        n = media.probe(folder / name).frame_count
        bounds = [0, *cuts, n]
        shots = [(bounds[i] + 2, bounds[i + 1] - 3) for i in range(len(bounds) - 1)]
        f = frames_at(folder / name, {i for s in shots for i in s})
        pairs = zip(shots, shots[1:], strict=False)  # the first frame of one shot, the last of the next
        out += [(name, a, b, hist_correlation(f[a], f[b])) for (a, _), (_, b) in pairs]
    return out


def one_shot_clips(folder: Path) -> list[tuple[str, int, int, float]]:
    config = load_config()
    store = Store(tempfile.mkdtemp(prefix="first-last-"))
    paths = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".md"]
    (m,) = shardlib.register(store, [shardlib.FileEntry.of(p) for p in paths], shard_size=len(paths))
    ingest_videos.run_shard_manifest(store, m.shard)
    ingest_videos.run_videos(store, m.shard)
    scene_stages.run_scenes(store, m.shard, config)
    scene_stages.run_clips(store, m.shard, config)
    coarse.run_frames(store, m.shard, config)
    coarse.run_stage("similarity_scores", store, m.shard, config)
    names = {v["video_id"]: Path(v["path"]).name for v in store.rows("videos", m.shard)}
    clips = {c["clip_id"]: c for c in store.rows("clips", m.shard)}
    return [(names[clips[r["clip_id"]]["video_id"]], clips[r["clip_id"]]["start_frame"],
             clips[r["clip_id"]]["end_frame"], r["first_last_hist"])
            for r in store.rows("similarity_scores", m.shard) if r["status"] == "ok"]


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "media")
    shots, cuts = one_shot_clips(folder), across_cuts(folder)
    for label, rows in (("one shot (pipeline clips)", shots), ("across a cut (ground truth)", cuts)):
        values = np.array([r[3] for r in rows])
        print(f"{label}: n={len(rows)} min {values.min():.3f} p10 {np.percentile(values, 10):.3f} "
              f"median {np.median(values):.3f} max {values.max():.3f}")
        for name, a, b, v in sorted(rows, key=lambda r: r[3])[:6]:
            print(f"    {v:.3f}  {name} frames {a}-{b}")
    floor = min(r[3] for r in shots)
    below = sum(r[3] < floor for r in cuts)
    print(f"separation: lowest one-shot score {floor:.3f}; {below} of {len(cuts)} cross-cut spans below it")


if __name__ == "__main__":
    main()
