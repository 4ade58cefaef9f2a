"""Motion: optical-flow magnitude over a clip's flow pairs.

Backends: ``raft`` (torchvision RAFT small/large, the paper's choice), ``dis`` and ``farneback``
(OpenCV, no weights). All return dense flow in pixels at the flow resolution; :func:`motion_stats`
turns a clip's pairs into scores normalised by frame size and time:

* ``motion_mean``: mean flow magnitude, as a fraction of the frame's short side per second,
  averaged over the clip's pairs (0.1 = the picture content moves a tenth of the frame a second);
* ``motion_p95``: the same for the 95th-percentile magnitude (fast local motion, e.g. a runner in a
  still scene), averaged over pairs;
* ``motion_max``: the largest per-pair mean (a sudden jolt).
Dividing by each pair's real time gap makes the numbers comparable across frame rates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ...common.errors import ConfigError, ModelUnavailableError
from .settings import MotionSettings

RAFT_MODELS = ("raft_small", "raft_large")


class FlowBackend(Protocol):
    backend: str
    model_id: str

    def flow(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Dense flow (HxWx2 float32, pixels) for each (first, second) BGR frame pair."""
        ...


def flow_size(width: int, height: int, short_side: int, multiple: int = 8) -> tuple[int, int]:
    """(w, h) with the given short side, both rounded to ``multiple`` (RAFT needs multiples of 8)."""
    scale = short_side / min(width, height)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h


def _gray(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class OpenCVFlow:
    """DIS (fast, robust; default fallback) or Farneback dense flow on grey frames."""

    PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, method: str, short_side: int, preset: str = "fast"):
        if method not in ("dis", "farneback"):
            raise ConfigError(f"unknown OpenCV flow method {method!r}")
        if method == "dis" and preset not in self.PRESETS:
            raise ConfigError(f"motion.dis_preset must be one of {sorted(self.PRESETS)}, got {preset!r}")
        self.backend = method
        self.short_side = short_side
        self.model_id = f"opencv-{cv2.__version__}:{method}" + (f":{preset}" if method == "dis" else "")
        self._dis = cv2.DISOpticalFlow_create(self.PRESETS[preset]) if method == "dis" else None

    def flow(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        out = []
        for a, b in pairs:
            size = flow_size(a.shape[1], a.shape[0], self.short_side, multiple=2)
            ga, gb = _gray(a, size), _gray(b, size)
            if self._dis is not None:
                out.append(self._dis.calc(ga, gb, None))
            else:
                out.append(cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0))
        return out


# The default weights torchvision (the pinned version) downloads for each RAFT model: known here so that asking
# where the weights are never imports torch (a test checks them against torchvision's own enums).
RAFT_WEIGHTS_URLS = {
    "raft_small": "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth",
    "raft_large": "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
}


def raft_weights_url(model: str) -> str:
    return RAFT_WEIGHTS_URLS[model]


def raft_weights_file(model: str) -> str:
    """torchvision's file name for the default weights of ``model`` (what the hub cache holds)."""
    return raft_weights_url(model).rsplit("/", 1)[-1]


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` without importing torch when it is not loaded yet: ``$TORCH_HOME/hub``, else
    ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub`` (torch's own rule)."""
    import sys

    if "torch" in sys.modules:  # honours torch.hub.set_dir()
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def resolve_raft_weights(cfg: MotionSettings | dict) -> tuple[Path | None, str]:
    """Where RAFT weights would load from: (existing path or None, a human-readable where/why).
    ``cfg``: the motion settings (or the raw ``motion`` section)."""
    s = MotionSettings.of(cfg)
    model = s.raft_model
    if model not in RAFT_MODELS:
        raise ConfigError(f"motion.raft_model must be one of {RAFT_MODELS}, got {model!r}")
    if s.raft_weights:
        path = Path(os.path.expanduser(s.raft_weights))
        return (path, str(path)) if path.is_file() else (None, f"motion.raft_weights {path} does not exist")
    path = torch_hub_dir() / "checkpoints" / raft_weights_file(model)
    if path.is_file():
        return path, str(path)
    return None, f"{path} not found (torch hub cache; `vidgen models pull` fetches it)"


def _device(name: str) -> str:
    import torch

    if name in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return name


class RaftFlow:
    """torchvision RAFT, batched; frames resized to a multiple of 8 at ``short_side``."""

    backend = "raft"

    def __init__(self, model: str, weights: Path, short_side: int, device: str, batch_size: int,
                 flow_updates: int = 12):
        import torch
        from torchvision.models import optical_flow

        builder = getattr(optical_flow, model)
        net = builder(weights=None, progress=False)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as exc:  # wrong file, wrong model size, truncated download
            raise ModelUnavailableError(f"cannot load {model} weights from {weights}: {exc}") from exc
        self.device = _device(device)
        self.net = net.eval().to(self.device)
        # RAFT's correlation pyramid needs feature maps of at least 16 px, i.e. 128 px input.
        self.short_side = max(128, short_side)
        self.batch_size = max(1, batch_size)
        self.flow_updates = flow_updates
        self.model_id = f"torchvision-{model}:{weights.name}"

    def _tensor(self, images: list[np.ndarray], size: tuple[int, int]):
        import torch

        arr = np.stack([
            cv2.cvtColor(cv2.resize(im, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB) for im in images
        ])
        t = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # RAFT expects [-1, 1]
        return t.to(self.device)

    def flow(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        import torch

        out: list[np.ndarray] = []
        # Batch pairs of equal size (one clip's frames always share a size).
        for i in range(0, len(pairs), self.batch_size):
            chunk = pairs[i:i + self.batch_size]
            by_size: dict[tuple[int, int], list[int]] = {}
            for j, (a, _) in enumerate(chunk):
                by_size.setdefault(flow_size(a.shape[1], a.shape[0], self.short_side), []).append(j)
            results: dict[int, np.ndarray] = {}
            for size, idx in by_size.items():
                a = self._tensor([chunk[j][0] for j in idx], size)
                b = self._tensor([chunk[j][1] for j in idx], size)
                with torch.inference_mode():
                    flows = self.net(a, b, num_flow_updates=self.flow_updates)[-1]
                for j, f in zip(idx, flows.permute(0, 2, 3, 1).cpu().numpy(), strict=True):
                    results[j] = f.astype(np.float32)
            out += [results[j] for j in range(len(chunk))]
        return out


def build_flow_backend(cfg: MotionSettings | dict) -> FlowBackend | None:
    """The configured motion backend (None for ``none``). ``auto`` is RAFT when its weights are
    present, else DIS. An explicit ``raft`` without weights raises :class:`ModelUnavailableError`.
    ``cfg``: the motion settings (or the raw ``motion`` section)."""
    s = MotionSettings.of(cfg)
    name = s.backend
    short = s.short_side
    if name == "none":
        return None
    preset = s.dis_preset
    if name in ("dis", "farneback"):
        return OpenCVFlow(name, short, preset)
    if name in ("raft", "auto"):
        path, where = resolve_raft_weights(s)
        if path is None:
            if name == "auto":
                return OpenCVFlow("dis", short, preset)
            raise ModelUnavailableError(f"RAFT weights unavailable: {where}")
        return RaftFlow(s.raft_model, path, short, s.device, s.batch_size)
    raise ConfigError(f"motion.backend must be raft, dis, farneback, auto or none; got {name!r}")


@dataclass(frozen=True)
class MotionStats:
    motion_mean: float
    motion_p95: float
    motion_max: float
    pairs: int


def motion_stats(flows: list[np.ndarray], gaps_s: list[float]) -> MotionStats:
    """Normalise each pair's flow by the flow frame's short side and the pair's time gap."""
    means, p95s = [], []
    for f, dt in zip(flows, gaps_s, strict=True):
        mag = np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2)
        scale = min(f.shape[0], f.shape[1]) * max(dt, 1e-3)
        means.append(float(mag.mean()) / scale)
        p95s.append(float(np.percentile(mag, 95)) / scale)
    if not means:
        return MotionStats(float("nan"), float("nan"), float("nan"), 0)
    return MotionStats(float(np.mean(means)), float(np.mean(p95s)), float(np.max(means)), len(means))
