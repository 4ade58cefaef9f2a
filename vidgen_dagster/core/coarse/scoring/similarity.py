"""First/last-frame similarity: a weight-free check that a clip is one continuous shot.

A clip that spans a cut the scene pass missed, or a dissolve into another shot, ends on a picture unlike
the one it starts with; one shot, even with a camera move, keeps most of its colours. Two measures on the
stored first and last frames (no decode, no model):

* ``first_last_hist``: correlation of the two frames' hue-saturation histograms (OpenCV ``HISTCMP_CORREL``,
  -1..1; 1 = same colour distribution). Insensitive to motion and framing, sensitive to a change of scene;
  this is the one ``thresholds.first_last_min`` filters on.
* ``first_last_ssim``: structural similarity of the grey frames at a small size (0..1 for natural images).
  Stored for inspection: a pan or a walking subject lowers it within one shot, so it is not filtered on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .stage import ClipByClipScorer, ClipStage, ExportColumn, Figure, Filter


@dataclass(frozen=True)
class SimilaritySettings:
    hue_bins: int = 30
    saturation_bins: int = 32
    ssim_short_side: int = 96

    @classmethod
    def from_dict(cls, d: dict) -> SimilaritySettings:
        return cls(**{k: int(d[k]) for k in cls.__dataclass_fields__ if k in d})


def hist_correlation(a: np.ndarray, b: np.ndarray, settings: SimilaritySettings = SimilaritySettings()) -> float:
    """Correlation of the hue-saturation histograms of two BGR frames (value is left out: a shot that
    brightens keeps its colours)."""
    import cv2  # here, not at import: the registry (and so every table schema) imports this module

    hists = []
    for im in (a, b):
        hsv = cv2.cvtColor(im, cv2.COLOR_BGR2HSV)
        h = cv2.calcHist([hsv], [0, 1], None, [settings.hue_bins, settings.saturation_bins], [0, 180, 0, 256])
        hists.append(cv2.normalize(h, h).flatten())
    if not hists[0].any() and not hists[1].any():
        return 1.0
    return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL))


def ssim(a: np.ndarray, b: np.ndarray, short_side: int = 96) -> float:
    """Mean structural similarity (Wang et al. 2004, 7x7 Gaussian window) of two BGR frames in grey,
    both scaled to ``short_side`` (the first frame's shape decides the size)."""
    import cv2

    h, w = a.shape[:2]
    scale = short_side / min(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    x, y = (cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float64)
            for im in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(m: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(m, (7, 7), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


class _Scorer(ClipByClipScorer):
    backend = "opencv"
    model_id = "opencv:hs-histogram+ssim"
    label = "opencv (hue-saturation histogram + SSIM)"

    def score(self, cf) -> dict:
        from ..frames import ROLE_FIRST, ROLE_LAST

        a, b = cf.image(ROLE_FIRST), cf.image(ROLE_LAST)
        return {"first_last_hist": hist_correlation(a, b, self.settings),
                "first_last_ssim": ssim(a, b, self.settings.ssim_short_side)}


class FrameSimilarityStage(ClipStage):
    name = "similarity_scores"
    sections = ("similarity",)
    description = ("Weight-free first/last-frame similarity (hue-saturation histogram correlation and SSIM): "
                   "a clip spanning a missed cut or a dissolve scores low.")
    columns = (("backend", pa.string()), ("first_last_hist", pa.float64()), ("first_last_ssim", pa.float64()))
    filters = (Filter("first_last_min", "first_last_hist", "min", "first_last_dissimilar", lo=-1, hi=1),)
    settings_rules = {"similarity.hue_bins": ("int", 2, 180), "similarity.saturation_bins": ("int", 2, 256),
                      "similarity.ssim_short_side": ("int", 16, 2160)}
    figures = (Figure("first_last", "first_last_hist", "First/last-frame similarity",
                      "hue-saturation histogram correlation (first vs last frame)"),)
    exports = (ExportColumn("first_last", "first_last_hist", pa.float64(),
                            "first/last-frame similarity: hue-saturation histogram correlation, -1..1"),)
    kinds = ("opencv",)

    def setup(self, config: dict, inputs) -> _Scorer:
        return _Scorer(SimilaritySettings.from_dict(config["similarity"]))
