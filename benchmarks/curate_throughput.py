"""End-to-end throughput of ``vidgen curate`` against a decode-only floor, in one run over the same files.

For each N in ``--n`` (default 8,48; the issue's scale figure is ``--n 8,48,192``):

1. build N distinct videos by stream-copy remux of the shared footage with PyAV (the chosen video
   stream only, a unique container ``comment`` so every sha256 differs; ``badinput_*`` and
   ``unusual_*`` files are skipped: they measure failure handling, not throughput). Not timed.
2. decode-only baseline: PyAV decodes every frame of every file (``thread_type = "AUTO"``, as many
   files at once as there are cores), frames discarded: the cost any tool that looks at the video pays.
3. ``vidgen curate`` as a subprocess over a fresh home, the default offline configuration,
   ``--until coarse_selection --shard-size 4`` (and ``--jobs`` when the CLI has it): wall and CPU
   seconds of the whole process tree, peak RSS of the tree (sum over its processes, sampled every
   0.2 s) and of its largest process, and each step's seconds read from the Dagster step stats in
   the home's instance (summed over the shard runs, so with parallel runs they add up to more than
   the wall time).
4. the same ``vidgen curate`` again: nothing changed, so nothing should materialise (the no-op cost).

``--long`` adds a long-video case: one shared file's packets concatenated ``--long-minutes`` long
(re-stamped pts, stream copy), curated the same way; it reports peak RSS (target < 2 GB).

The last line is ``curate/decode ratio: X.XX`` for the largest N. The machine may be shared: the
load average is printed before and after each timed part so a noisy figure can be recognised.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIP_PREFIXES = ("badinput_", "unusual_")
EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi"}
# Steps in graph order, for a stable print order; anything else the run reports follows.
STEP_ORDER = ["shard_manifest", "videos", "scenes", "clips", "frames", "motion_scores", "text_scores",
              "visual_scores", "coarse_selection"]


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# ------------------------------------------------------------------------------------- footage


def best_video_stream(container: av.container.InputContainer):
    streams = [s for s in container.streams.video if s.codec_context is not None]
    if not streams:
        raise ValueError("no video stream")
    return max(streams, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))


def sources(media: Path) -> list[Path]:
    files = sorted(p for p in media.iterdir()
                   if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith(SKIP_PREFIXES))
    usable = []
    for p in files:
        try:
            with av.open(str(p), metadata_errors="ignore") as c:
                best_video_stream(c)
            usable.append(p)
        except (av.FFmpegError, ValueError):
            print(f"  skipped {p.name}: no usable video stream")
    return usable


def remux(src: Path, dst: Path, comment: str, copies: int = 1) -> None:
    """Stream-copy ``src``'s chosen video stream into ``dst``, ``copies`` times back to back."""
    with av.open(str(dst), "w") as out:
        out.metadata["comment"] = comment
        ostream = None
        offset = 0  # in the input stream's time base
        for _ in range(copies):
            with av.open(str(src), metadata_errors="ignore") as inp:
                istream = best_video_stream(inp)
                if ostream is None:
                    ostream = out.add_stream_from_template(istream)
                lo, hi = None, None
                for packet in inp.demux(istream):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    pts = packet.pts if packet.pts is not None else packet.dts
                    lo = packet.dts if lo is None else min(lo, packet.dts)
                    hi = max(hi or pts, pts + max(1, packet.duration or 1))
                    packet.dts += offset
                    if packet.pts is not None:
                        packet.pts += offset
                    packet.stream = ostream
                    out.mux(packet)
                if lo is not None:
                    offset += hi - lo


def build_videos(srcs: list[Path], n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = srcs[i % len(srcs)]
        dst = folder / f"{i:04d}_{src.stem.split('__')[0]}{src.suffix}"
        remux(src, dst, f"vidgen curate_throughput copy {i} of {src.name}")
        out.append(dst)
    return out


def decode_one(path: Path) -> int:
    with av.open(str(path), metadata_errors="ignore") as c:
        stream = best_video_stream(c)
        stream.thread_type = "AUTO"
        n = 0
        try:
            for _ in c.decode(stream):
                n += 1
        except av.FFmpegError:
            pass  # a damaged tail: count what decoded, as the pipeline would
        return n


def decode_all(paths: list[Path], workers: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process: every decoder thread) and frames decoded."""
    t, c = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        frames = sum(pool.map(decode_one, paths))
    return time.perf_counter() - t, time.process_time() - c, frames


# --------------------------------------------------------------------------------------- curate


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum, max) resident bytes over ``root`` and all its descendants, from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid = int(entry.name)
        parent[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    sizes = [rss.get(p, 0) for p in tree]
    return sum(sizes), max(sizes, default=0)


VIDGEN: list[str] = []  # the command that runs `vidgen` (--vidgen), resolved in main


def vidgen_command() -> list[str]:
    if VIDGEN:
        return VIDGEN
    exe = Path(sys.executable).parent / "vidgen"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "vidgen_dagster.cli"]


def cli_has_jobs() -> bool:
    out = subprocess.run([*vidgen_command(), "curate", "--help"], capture_output=True, text=True)
    return "--jobs" in out.stdout


def run_curate(paths: list[Path] | Path, home: Path, jobs: int | None, log: Path) -> dict:
    args = [*vidgen_command(), "curate", *map(str, paths if isinstance(paths, list) else [paths]),
            "--home", str(home), "--until", "coarse_selection", "--shard-size", "4"]
    if jobs:
        args += ["--jobs", str(jobs)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIDGEN_HOME", "VIDGEN_CONFIG", "DAGSTER_HOME")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = {"sum": 0, "max": 0}
    t = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(home.parent))
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                s, m = _tree_rss(proc.pid)
                peak["sum"], peak["max"] = max(peak["sum"], s), max(peak["max"], m)
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        stop.set()
        sampler.join()
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": rc, "wall": wall, "cpu": cpu, "rss_sum": peak["sum"], "rss_max": peak["max"], "log": log}


def step_seconds(home: Path) -> tuple[dict[str, float], int]:
    """Seconds per step key summed over every run in the home's Dagster instance, and the run count."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        totals: dict[str, float] = {}
        runs = instance.get_runs()
        for run in runs:
            for st in instance.get_run_step_stats(run.run_id):
                if st.start_time and st.end_time:
                    totals[st.step_key] = totals.get(st.step_key, 0.0) + st.end_time - st.start_time
        return totals, len(runs)
    finally:
        instance.dispose()


def clip_count(home: Path) -> int:
    """Clips the run scored for text (OCR looks at 3 frames of each)."""
    out = subprocess.run([*vidgen_command(), "query", "--home", str(home), "--format", "json",
                          "SELECT count(*) AS n FROM text_scores WHERE status = 'ok'"],
                         capture_output=True, text=True)
    try:
        return int(json.loads(out.stdout)[0]["n"])
    except (ValueError, LookupError, TypeError):
        return 0


def fmt_steps(steps: dict[str, float]) -> str:
    """Asset steps in graph order, then the asset checks (steps of their own) as one total."""
    assets = [k for k in STEP_ORDER if k in steps]
    checks = [k for k in steps if k not in STEP_ORDER]
    parts = [f"{k} {steps[k]:.1f}" for k in assets]
    if checks:
        parts.append(f"{len(checks)} check steps {sum(steps[k] for k in checks):.1f}")
    return ", ".join(parts)


def mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


# ----------------------------------------------------------------------------------------- main


def bench_n(n: int, srcs: list[Path], work: Path, jobs: int | None, workers: int) -> float:
    folder = work / f"videos_{n}"
    t = time.perf_counter()
    paths = build_videos(srcs, n, folder)
    size = sum(p.stat().st_size for p in paths)
    print(f"N={n}: built {n} videos ({mb(size)}) by stream-copy remux in {time.perf_counter() - t:.1f} s")
    print(f"N={n}: load before decode: {loadavg()}")
    decode_s, decode_cpu, frames = decode_all(paths, workers)
    print(f"N={n}: decode-only (PyAV thread_type AUTO, {workers} files at once): {decode_s:.2f} s wall, "
          f"{decode_cpu:.2f} s CPU, {frames} frames ({frames / decode_s:.0f} frames/s)")
    home = work / f"home_{n}"
    shutil.rmtree(home, ignore_errors=True)
    print(f"N={n}: load before curate: {loadavg()}")
    first = run_curate([folder], home, jobs, work / f"curate_{n}.log")
    steps, runs = step_seconds(home)
    print(f"N={n}: curate{f' --jobs {jobs}' if jobs else ''}: {first['wall']:.1f} s wall, "
          f"{first['cpu']:.1f} s CPU (process tree), {first['wall'] / n:.2f} s/video, "
          f"peak RSS {mb(first['rss_sum'])} (tree) / {mb(first['rss_max'])} (largest process), "
          f"{runs} runs, exit {first['rc']}")
    if first["rc"] != 0:
        print(f"N={n}: curate failed, see {first['log']}:\n" + first["log"].read_text()[-2000:])
    print(f"N={n}: step seconds summed over runs: {fmt_steps(steps)} "
          f"(total {sum(steps.values()):.1f})")
    if "text_scores" in steps:
        clips = clip_count(home)
        per_frame = f", {1000 * steps['text_scores'] / (3 * clips):.0f} ms per OCR frame" if clips else ""
        # A step runs on one thread of its worker (cores / jobs threads each, 1 here), so its summed wall
        # seconds are about its CPU seconds: compared with decode's CPU seconds, not decode's wall time
        # (which spreads over every core).
        print(f"N={n}: {clips} clips; step seconds / decode CPU seconds: OCR (text_scores) "
              f"{steps['text_scores'] / decode_cpu:.2f}{per_frame}; scenes {steps.get('scenes', 0.0) / decode_cpu:.2f}; "
              f"frames {steps.get('frames', 0.0) / decode_cpu:.2f}")
    print(f"N={n}: load after curate: {loadavg()}; CPU seconds curate/decode {first['cpu'] / decode_cpu:.2f} "
          "(less sensitive to a shared machine's load than the wall ratio)")
    again = run_curate([folder], home, jobs, work / f"curate_{n}_noop.log")
    _, runs_after = step_seconds(home)
    print(f"N={n}: no-op re-run: {again['wall']:.1f} s wall, {again['cpu']:.1f} s CPU, "
          f"{runs_after - runs} new runs, exit {again['rc']}")
    return first["wall"] / decode_s


def bench_long(srcs: list[Path], source: str, minutes: float, work: Path, jobs: int | None) -> float | None:
    matches = [p for p in srcs if p.name.startswith(source)]
    if not matches:
        print(f"long: no source file starting with {source!r}")
        return None
    src = matches[0]
    with av.open(str(src), metadata_errors="ignore") as c:
        s = best_video_stream(c)
        seconds = float((s.duration or 0) * s.time_base) if s.duration else float(c.duration or 0) / 1e6
    copies = max(1, round(minutes * 60 / max(seconds, 0.1)))
    folder = work / "long"
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"long_{src.stem.split('__')[0]}{src.suffix}"
    remux(src, dst, f"vidgen curate_throughput {copies}x {src.name}", copies=copies)
    with av.open(str(dst)) as c:
        length = float(c.duration or 0) / 1e6
    print(f"long: {dst.name}: {copies} x {src.name} = {length / 60:.1f} min ({mb(dst.stat().st_size)})")
    decode_s, _, frames = decode_all([dst], 1)
    print(f"long: decode-only: {decode_s:.1f} s, {frames} frames")
    home = work / "home_long"
    shutil.rmtree(home, ignore_errors=True)
    res = run_curate(dst, home, jobs, work / "curate_long.log")
    steps, _ = step_seconds(home)
    print(f"long: curate: {res['wall']:.1f} s wall ({res['wall'] / decode_s:.2f}x decode), "
          f"peak RSS {mb(res['rss_sum'])} (tree) / {mb(res['rss_max'])} (largest process), exit {res['rc']}")
    print(f"long: step seconds: {fmt_steps(steps)}")
    return res["wall"] / decode_s


def main(argv: list[str] | None = None) -> int:
    default_media = os.environ.get("VIDGEN_MEDIA") or str(REPO_ROOT.parent / "shared" / "media")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(default_media), help="folder of source videos")
    ap.add_argument("--n", default="8,48", help="comma-separated video counts (the issue's figure: 8,48,192)")
    ap.add_argument("--jobs", type=int, default=cores(),
                    help="passed to `vidgen curate --jobs` when the CLI has it (default: cores)")
    ap.add_argument("--long", action="store_true", help="also curate one long concatenated video")
    ap.add_argument("--long-source", default="hd_30s", help="name prefix of the file to concatenate")
    ap.add_argument("--long-minutes", type=float, default=11.0)
    ap.add_argument("--vidgen", default="", help="command that runs vidgen, e.g. another checkout's, to "
                    "compare before/after on the same machine (default: the one beside this Python)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    args = ap.parse_args(argv)

    VIDGEN[:] = shlex.split(args.vidgen)
    counts = sorted({int(x) for x in args.n.split(",") if x.strip()})
    work = args.work or Path(tempfile.mkdtemp(prefix="vidgen-curate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs if cli_has_jobs() else None
    workers = cores()
    srcs = sources(args.media)
    if not srcs or not (counts or args.long):
        print(f"no usable videos in {args.media}, or neither --n nor --long", file=sys.stderr)
        return 1
    print(f"{workers} cores, load {loadavg()}; {len(srcs)} source files from {args.media}; "
          f"vidgen curate {'--jobs ' + str(jobs) if jobs else '(no --jobs option: one shard at a time)'}")
    ratios: dict[int, float] = {}
    try:
        for n in counts:
            ratios[n] = bench_n(n, srcs, work, jobs, workers)
            print(f"N={n}: curate/decode {ratios[n]:.2f}")
        if args.long:
            long_ratio = bench_long(srcs, args.long_source, args.long_minutes, work, jobs)
            if not counts and long_ratio is not None:  # `--n "" --long`: the long video is the figure
                ratios[0], counts = long_ratio, [0]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if counts:
        print(f"curate/decode ratio: {ratios[counts[-1]]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
