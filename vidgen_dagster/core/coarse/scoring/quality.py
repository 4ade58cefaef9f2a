"""Weight-free technical quality: sharpness, exposure, black and frozen frames.

Sharpness and exposure come from the kept frames (first/middle/last at the frames stage's
resolution, so values are comparable across sources); black and frozen fractions come from the
per-frame brightness and frame-to-frame change the scene pass measured on *every* frame of the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class QualitySettings:
    black_luma: float = 16.0
    frozen_delta: float = 0.5

    @classmethod
    def from_dict(cls, d: dict) -> QualitySettings:
        return cls(**{k: float(d[k]) for k in cls.__dataclass_fields__ if k in d})


def frame_quality(images: list[np.ndarray]) -> dict:
    """Sharpness (median variance of the Laplacian of the grey frame) and exposure measures."""
    sharp, luma, under, over = [], [], [], []
    for im in images:
        g = cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)
        sharp.append(float(cv2.Laplacian(g, cv2.CV_32F).var()))
        luma.append(float(g.mean()))
        under.append(float((g < 16).mean()))  # video black level
        over.append(float((g > 235).mean()))  # video white level
    if not images:
        return {"sharpness": None, "luma_mean": None, "underexposed": None, "overexposed": None}
    return {
        "sharpness": float(np.median(sharp)),
        "luma_mean": float(np.mean(luma)),
        "underexposed": float(np.mean(under)),
        "overexposed": float(np.mean(over)),
    }


def span_quality(brightness: list[float], deltas: list[float] | None, start: int, end: int,
                 settings: QualitySettings) -> dict:
    """Fractions of the clip's frames ``[start, end)`` that are black / frozen."""
    b = np.asarray(brightness[start:end], dtype=np.float64)
    out = {"black_fraction": float((b < settings.black_luma).mean()) if b.size else None,
           "frozen_fraction": None}
    if deltas is not None and end - start > 1:
        # The first frame's delta compares with the frame before the clip (or is 0): skip it.
        d = np.asarray(deltas[start + 1:end], dtype=np.float64)
        out["frozen_fraction"] = float((d < settings.frozen_delta).mean()) if d.size else None
    return out
