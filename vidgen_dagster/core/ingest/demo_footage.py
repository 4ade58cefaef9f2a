"""Synthetic sample footage rendered with PyAV: the embedded default for ``vidgen demo`` and tests.

Each file exercises one curation behaviour: hard cuts, a fade through black, a static shot,
burned-in text, strong motion, and one damaged file that must be recorded as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

W, H, FPS = 320, 180, 24


def _texture(seed: int) -> np.ndarray:
    """A smooth random colour field, bigger than the frame so it can be panned across."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(9, 16, 3), dtype=np.uint8)
    big = cv2.resize(small, (W * 3, H * 2), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(0, 24, size=big.shape, dtype=np.uint8)
    return cv2.add(big, noise)


def _pan(seed: int, speed: float) -> Callable[[int], np.ndarray]:
    tex = _texture(seed)

    span_x, span_y = tex.shape[1] - W, tex.shape[0] - H

    def bounce(d: float, span: int) -> int:  # ping-pong, never wraps (a wrap would be a cut)
        d = d % (2 * span)
        return int(d if d <= span else 2 * span - d)

    def frame(i: int) -> np.ndarray:
        x, y = bounce(i * speed, span_x), bounce(i * speed * 0.3, span_y)
        return tex[y : y + H, x : x + W].copy()

    return frame


def _write(path: Path, frames: Iterator[np.ndarray]) -> Path:
    with av.open(str(path), "w") as out:
        try:
            stream = out.add_stream("libx264", rate=FPS)
            stream.options = {"preset": "veryfast", "crf": "23"}
        except (av.error.FFmpegError, ValueError):  # a PyAV build without x264
            stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _seconds(s: float) -> range:
    return range(int(round(s * FPS)))


def hard_cuts() -> Iterator[np.ndarray]:
    for seed in (1, 2, 3):
        shot = _pan(seed, 2.0)
        for i in _seconds(3.0):
            yield shot(i)


def fade() -> Iterator[np.ndarray]:
    a, b = _pan(4, 1.5), _pan(5, 1.5)
    ramp = int(0.75 * FPS)
    for i in _seconds(3.0):
        k = max(0.0, min(1.0, (len(_seconds(3.0)) - i) / ramp))
        yield (a(i) * k).astype(np.uint8)
    for _ in range(int(0.5 * FPS)):
        yield np.zeros((H, W, 3), np.uint8)
    for i in _seconds(3.0):
        k = max(0.0, min(1.0, i / ramp))
        yield (b(i) * k).astype(np.uint8)


def static() -> Iterator[np.ndarray]:
    still = _pan(6, 0.0)(0)
    for _ in _seconds(4.0):
        yield still


def burned_text() -> Iterator[np.ndarray]:
    shot = _pan(7, 1.0)
    for i in _seconds(4.0):
        img = shot(i)
        cv2.rectangle(img, (0, H - 44), (W, H), (0, 0, 0), -1)
        cv2.putText(img, "SUBSCRIBE NOW - LIVE", (12, H - 16), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        yield img


def fast_motion() -> Iterator[np.ndarray]:
    shot = _pan(8, 9.0)
    for i in _seconds(4.0):
        yield shot(i)


SAMPLES: dict[str, Callable[[], Iterator[np.ndarray]]] = {
    "hard_cuts.mp4": hard_cuts,
    "fade.mp4": fade,
    "static.mp4": static,
    "burned_text.mp4": burned_text,
    "fast_motion.mp4": fast_motion,
}


def render_samples(folder: str | Path, corrupt: bool = True) -> list[Path]:
    """Render the sample set into ``folder`` (idempotent: existing files are kept as they are)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SAMPLES.items():
        path = folder / name
        if not path.exists():
            tmp = folder / f".{name}.tmp.mp4"
            _write(tmp, make())
            tmp.replace(path)
        written.append(path)
    if corrupt:
        path = folder / "damaged.mp4"
        if not path.exists():
            data = bytearray((folder / "hard_cuts.mp4").read_bytes())
            # Keep the container header, zero out the middle of the bitstream.
            mid = len(data) // 3
            data[mid : mid + len(data) // 3] = bytes(len(data) // 3)
            path.write_bytes(bytes(data))
        written.append(path)
    return written
