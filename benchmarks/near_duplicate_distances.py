"""Calibration of ``thresholds.near_duplicate_max_distance``: copies of one clip vs different clips.

The pipeline's own clips (default configuration up to ``frames``, then the ``perceptual_hashes`` stage
through the registry's runner) of two populations, distance = the median over first/middle/last of the
64-bit pHash Hamming distances (what coarse selection compares; the worst frame alone is printed beside it):

* copies: for a few shared files, a PyAV stream-copy remux (new container metadata: sha256 differs) and
  two libx264 re-encodes (CRF 30 at 640 px wide, CRF 38 at 426 px), each clip against the original's clip
  that starts at the same time (a copy whose scene pass cut elsewhere is counted as "no counterpart");
* different clips: every pair of the originals' clips (all of ``../shared/media``) from different shots,
  of the same video or of different videos.

The last line is the separation at the configured threshold: copies within it, and pairs of different
videos' clips within it (clips of one video are never merged, so they are listed but not counted). Usage: ``python benchmarks/near_duplicate_distances.py [MEDIA]``.
"""

from __future__ import annotations

import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np

from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.coarse.scoring.phash import ROLES, hamming
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from footage_copies import reencode, remux  # noqa: E402

COPY_SOURCES = ("cuts_fades__pyscenedetect_testvideo.mp4", "motion_yuv444__imageio_cockatoo.mp4",
                "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4", "dim_handheld__decord_flipping_a_pancake.mkv")
COPIES = {"remux": lambda s, d: remux(s, d, "calibration copy"),
          "crf30_640": lambda s, d: reencode(s, d, 30, 640),
          "crf38_426": lambda s, d: reencode(s, d, 38, 426)}


def hashed_clips(paths: list[Path], config: dict) -> list[dict]:
    store = Store(tempfile.mkdtemp(prefix="near-dup-"))
    (m,) = shardlib.register(store, [shardlib.FileEntry.of(p) for p in paths], shard_size=len(paths))
    ingest_videos.run_shard_manifest(store, m.shard)
    ingest_videos.run_videos(store, m.shard)
    scene_stages.run_scenes(store, m.shard, config)
    scene_stages.run_clips(store, m.shard, config)
    coarse.run_frames(store, m.shard, config)
    coarse.run_stage("perceptual_hashes", store, m.shard, config)
    return store.query("""SELECT v.path, c.clip_id, c.start_s, p.phash_first, p.phash_middle, p.phash_last
        FROM perceptual_hashes p JOIN clips c USING (clip_id, shard) JOIN videos v ON v.video_id = c.video_id
        WHERE p.status = 'ok' AND v.status = 'ok'""").to_pylist()


def per_role(a: dict, b: dict) -> list[int]:
    return [hamming(a[f"phash_{r}"], b[f"phash_{r}"]) for r in ROLES]


def distance(a: dict, b: dict) -> int:
    """The rule's distance (core/coarse/near_duplicates.py): the median of the three frames' distances."""
    return sorted(per_role(a, b))[1]


def max_distance(a: dict, b: dict) -> int:
    return max(per_role(a, b))


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "media")
    config = load_config()
    work = Path(tempfile.mkdtemp(prefix="near-dup-copies-"))
    originals = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".md"]
    copies = {}
    for name in COPY_SOURCES:
        for kind, make in COPIES.items():
            dst = work / f"{kind}__{Path(name).stem}.mp4"
            make(folder / name, dst)
            copies[dst.name] = (name, kind)
    rows = hashed_clips(originals + sorted(work.iterdir()), config)
    for r in rows:
        r["file"] = Path(r["path"]).name
    orig = [r for r in rows if r["file"] not in copies]

    by_kind: dict[str, list[int]] = {k: [] for k in COPIES}
    by_kind_max: dict[str, list[int]] = {k: [] for k in COPIES}
    missing: dict[str, int] = {k: 0 for k in COPIES}
    for r in rows:
        if r["file"] not in copies:
            continue
        src, kind = copies[r["file"]]
        twins = [o for o in orig if o["file"] == src and abs(o["start_s"] - r["start_s"]) < 0.3]
        if twins:
            t = min(twins, key=lambda t: distance(r, t))
            by_kind[kind].append(distance(r, t))
            by_kind_max[kind].append(max_distance(r, t))
            if max_distance(r, t) > 10:
                print(f"    far copy: {r['file']} @{r['start_s']:.2f}s vs {t['file']} @{t['start_s']:.2f}s: "
                      f"first/middle/last {per_role(r, t)}")
        else:
            missing[kind] += 1
    same_video, other_video = [], []
    for a, b in combinations(orig, 2):
        (same_video if a["file"] == b["file"] else other_video).append((distance(a, b), a, b, max_distance(a, b)))
    print(f"{len(orig)} clips of {len({r['file'] for r in orig})} shared files; copies of {len(COPY_SOURCES)} files")
    for kind, values in by_kind.items():
        v = np.array(values or [0])
        worst = np.array(by_kind_max[kind] or [0])
        print(f"copies {kind}: n={len(values)} max {v.max()} mean {v.mean():.1f} bits (the worst frame alone: "
              f"max {worst.max()}); no counterpart clip: {missing[kind]}")
    for label, pairs in (("different clips, same video", same_video), ("different clips, other videos", other_video)):
        v = np.array([p[0] for p in pairs])
        med = sorted(p[3] for p in pairs)
        print(f"{label}: n={len(pairs)} min {v.min()} p1 {np.percentile(v, 1):.0f} median {np.median(v):.0f} bits "
              f"(the worst frame alone: lowest {med[:6]})")
        for d, a, b, _ in sorted(pairs, key=lambda p: p[0])[:4]:
            print(f"    {d:2d}  {a['file']} @{a['start_s']:.1f}s vs {b['file']} @{b['start_s']:.1f}s")
    threshold = config["thresholds"]["near_duplicate_max_distance"]
    copies_in = sum(d <= threshold for v in by_kind.values() for d in v)
    copies_n = sum(len(v) for v in by_kind.values())
    merged = [f"{a['file']} @{a['start_s']:.1f}s ~ {b['file']} @{b['start_s']:.1f}s ({d})"
              for d, a, b, _ in other_video if d <= threshold]
    print(f"separation at threshold {threshold} bits: copies matched {copies_in} of {copies_n}; pairs of different "
          f"videos' clips matched {len(merged)} of {len(other_video)}: {'; '.join(merged) or 'none'}")

if __name__ == "__main__":
    main()
