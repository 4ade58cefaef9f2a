"""Throughput of the scene-detection stage against a decode-only floor.

For every video in a media folder this times two passes over the same chosen video stream:

* baseline: PyAV opens the file and decodes every frame of ``probe.stream_index`` with
  ``thread_type = "AUTO"`` and does nothing with the frames;
* scenes: :func:`vidgen_dagster.core.scenes.detect_scenes` with the configured ``SceneSettings``
  (decode, scale to analysis size, convert to BGR, run the PySceneDetect detectors, build scenes).

The baseline is decode-only on the same stream because decoding is the cost no scene detector
can avoid: the ratio ``scenes / decode`` is then the overhead our stage adds (scaling, pixel
conversion, detectors, bookkeeping) on top of the unavoidable work, independent of how heavy
each codec or resolution is. Probing is done once per file and not timed. Order alternates per
file to be fair to OS and decoder caches; each side's total is the minimum over ``--repeat`` rounds.
A file whose probe or decode raises ``VidgenError`` (or whose baseline decode raises an FFmpeg
error) is left out of both totals and listed as skipped. Process CPU seconds of each side are printed
too: on a shared machine they move less than wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av

from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.errors import VidgenError
from vidgen_dagster.core.common.media import VideoProbe, probe
from vidgen_dagster.core.scenes.detection import SceneSettings, detect_scenes

EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".gif", ".swf", ".avi"}
REPO_ROOT = Path(__file__).resolve().parent.parent


def decode_only(path: Path, p: VideoProbe) -> int:
    """Decode every frame of the chosen stream and discard it; return the frame count."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams[p.stream_index]
            stream.thread_type = "AUTO"
            return sum(1 for _ in container.decode(stream))
    except av.error.FFmpegError as exc:
        raise VidgenError(f"baseline decode failed: {exc}") from exc


CPU: dict[str, float] = {"decode": 0.0, "scenes": 0.0}  # process CPU seconds (all threads) per side


def timed(fn: Callable[[], int], side: str) -> tuple[float, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    CPU[side] += time.process_time() - c0
    return time.perf_counter() - t0, n


def main(argv: list[str] | None = None) -> int:
    default_media = os.environ.get("VIDGEN_MEDIA") or str(REPO_ROOT.parent / "shared" / "media")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(default_media), help="folder of videos")
    ap.add_argument("--repeat", type=int, default=1, help="rounds; each side keeps its fastest total")
    ap.add_argument("--short-side", type=int, default=None, help="override scenes.analysis_short_side")
    args = ap.parse_args(argv)

    cfg = dict(load_config()["scenes"])
    if args.short_side is not None:
        cfg["analysis_short_side"] = args.short_side
    settings = SceneSettings.from_dict(cfg)
    files = sorted(f for f in args.media.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS)
    if not files:
        print(f"no video files in {args.media}", file=sys.stderr)
        return 1

    skipped: dict[str, str] = {}
    probes: dict[str, VideoProbe] = {}
    for f in files:
        try:
            probes[f.name] = probe(f)
        except VidgenError as exc:
            skipped[f.name] = f"probe: {exc}"
    # times[name] = list of (decode_s, scenes_s) per round; frames[name] from the baseline pass
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in probes}
    frames: dict[str, int] = {}
    for _ in range(max(1, args.repeat)):
        for i, f in enumerate(files):
            if f.name in skipped:
                continue
            p = probes[f.name]
            decode = lambda f=f, p=p: decode_only(f, p)  # noqa: E731
            scenes = lambda f=f, p=p: detect_scenes(f, p, settings).frames_decoded  # noqa: E731
            try:
                if i % 2 == 0:
                    (td, nd), (ts, _) = timed(decode, "decode"), timed(scenes, "scenes")
                else:
                    (ts, _), (td, nd) = timed(scenes, "scenes"), timed(decode, "decode")
            except VidgenError as exc:
                skipped[f.name] = f"decode: {exc}"
                continue
            frames[f.name] = nd
            times[f.name].append((td, ts))

    ok = [f.name for f in files if f.name not in skipped]
    rounds = min((len(times[n]) for n in ok), default=0)
    total_d = min((sum(times[n][r][0] for n in ok) for r in range(rounds)), default=0.0)
    total_s = min((sum(times[n][r][1] for n in ok) for r in range(rounds)), default=0.0)
    width = max((len(n) for n in ok), default=4)
    print(f"scenes settings: {settings}")
    print(f"{'file':<{width}}  {'frames':>7}  {'decode s':>9}  {'scenes s':>9}  {'ratio':>6}")
    for n in ok:
        td, ts = min(t[0] for t in times[n]), min(t[1] for t in times[n])
        print(f"{n:<{width}}  {frames[n]:>7}  {td:>9.3f}  {ts:>9.3f}  {ts / td if td else 0:>6.2f}")
    total_frames = sum(frames[n] for n in ok)
    print(f"\ntotal: {len(ok)} files, {total_frames} frames, best of {rounds} round(s)")
    for label, secs in (("decode", total_d), ("scenes", total_s)):
        print(f"  {label}: {secs:8.3f} s  {total_frames / secs if secs else 0:9.1f} frames/s")
    for n, why in skipped.items():
        print(f"skipped {n}: {why}")
    # CPU seconds are steadier than wall time on a shared machine (other processes only stretch the
    # wall clock); both sides use the same decoder threads, so the ratio means the same thing.
    cpu_ratio = CPU["scenes"] / CPU["decode"] if CPU["decode"] else float("nan")
    print(f"cpu seconds (all rounds): decode {CPU['decode']:.1f}, scenes {CPU['scenes']:.1f}, "
          f"scenes/decode cpu ratio: {cpu_ratio:.2f}")
    print(f"scenes/decode ratio: {total_s / total_d if total_d else float('nan'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
