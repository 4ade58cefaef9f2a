"""Videos with ground truth by construction: real shots joined by known transitions, re-encoded with PyAV.

Used by ``benchmarks/scene_accuracy.py --splice`` and the scene tests. Each shot is a run of frames
from a real file (scaled to the output size); shots are joined by a hard cut, a fade through black
or a cross-dissolve of a given length. For every output frame we know which shots are visible
(weight at least :data:`VISIBLE`), so a clip that shows two shots is caught whatever the detector did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from ..common import media

# A shot counts as visible in a frame from this weight up (a 10 % ghost of the next shot is not).
VISIBLE = 0.2


@dataclass(frozen=True)
class Shot:
    file: str
    start: int  # first decoded frame taken from the file
    frames: int
    darken: bool = False  # darken to a night/space-like shot that keeps a few bright points ("stars")
    dark: bool = False  # dark content as it is (reported with the darkened ones)


@dataclass(frozen=True)
class Transition:
    kind: str  # cut | fade | dissolve
    frames: int = 0  # dissolve length; fade: frames of each ramp (black frames between: fade_black)

    @property
    def label(self) -> str:
        return f"dissolve{self.frames}" if self.kind == "dissolve" else self.kind


@dataclass
class SpliceTruth:
    """Ground truth of one spliced video."""

    transitions: list[tuple[str, int, int]] = field(default_factory=list)  # (label, first frame, end) of each
    visible: list[frozenset[int]] = field(default_factory=list)  # shots visible in each output frame
    dark_shots: list[int] = field(default_factory=list)  # indices of the dark shots

    def shots_in(self, start: int, end: int) -> set[int]:
        out: set[int] = set()
        for s in self.visible[start:end]:
            out |= s
        return out


def _shot_frames(media_dir: Path, shot: Shot, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    path = media_dir / shot.file
    p = media.probe(path)
    out = []
    for f in media.decode_frames(path, p.stream_index, size, p.start_time_s):
        if f.index >= shot.start + shot.frames:
            break
        if f.index >= shot.start:
            out.append(f.image)
    if len(out) < shot.frames:
        raise ValueError(f"{shot.file} has only {len(out)} frames from {shot.start}")
    if shot.darken:
        # Scale to a mean of about 6 (below the old "black" level of 12) and keep ~40 fixed bright points.
        level = float(np.mean([o.mean() for o in out]))
        rng = np.random.default_rng(seed)
        ys, xs = rng.integers(0, size[1], 40), rng.integers(0, size[0], 40)
        dark = []
        for o in out:
            d = (o.astype(np.float32) * (6.0 / max(level, 1.0))).astype(np.uint8)
            d[ys, xs] = 230
            dark.append(d)
        out = dark
    return out


def build(media_dir: Path, shots: list[Shot], joins: list[Transition], out: Path,
          size: tuple[int, int] = (320, 180), fps: int = 25, fade_black: int = 6) -> SpliceTruth:
    """Write ``out`` (H.264 MP4) and return its ground truth. ``joins[i]`` joins ``shots[i]`` and ``shots[i+1]``."""
    if len(joins) != len(shots) - 1:
        raise ValueError("one transition between each pair of shots")
    truth = SpliceTruth(dark_shots=[i for i, s in enumerate(shots) if s.dark or s.darken])
    frames: list[np.ndarray] = []
    clips = [_shot_frames(media_dir, s, size, seed=i) for i, s in enumerate(shots)]

    def emit(img: np.ndarray, visible: set[int]) -> None:
        frames.append(img)
        truth.visible.append(frozenset(visible))

    pending = list(clips[0])  # frames of the current shot not yet written
    for i, join in enumerate(joins):
        nxt = list(clips[i + 1])
        if join.kind == "cut":
            for img in pending:
                emit(img, {i})
            truth.transitions.append((join.label, len(frames), len(frames) + 1))
            pending = nxt
        elif join.kind == "dissolve":
            n = join.frames
            for img in pending[:-n]:
                emit(img, {i})
            start = len(frames)
            for k in range(n):
                a = (k + 1) / (n + 1)
                mixed = (pending[len(pending) - n + k].astype(np.float32) * (1 - a) + nxt[k] * a).round()
                emit(mixed.astype(np.uint8), {s for s, wgt in ((i, 1 - a), (i + 1, a)) if wgt >= VISIBLE})
            truth.transitions.append((join.label, start, len(frames)))
            pending = nxt[n:]
        elif join.kind == "fade":
            n = join.frames
            for img in pending[:-n]:
                emit(img, {i})
            start = len(frames)
            for k in range(n):
                a = 1 - (k + 1) / (n + 1)
                emit((pending[len(pending) - n + k] * a).astype(np.uint8), {i} if a >= VISIBLE else set())
            for _ in range(fade_black):
                emit(np.zeros_like(nxt[0]), set())
            for k in range(n):
                a = (k + 1) / (n + 1)
                emit((nxt[k] * a).astype(np.uint8), {i + 1} if a >= VISIBLE else set())
            truth.transitions.append((join.label, start, len(frames)))
            pending = nxt[n:]
        else:
            raise ValueError(f"unknown transition {join.kind!r}")
    for img in pending:
        emit(img, {len(shots) - 1})
    _encode(frames, out, fps)
    return truth


def _encode(frames: list[np.ndarray], out: Path, fps: int) -> None:
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
