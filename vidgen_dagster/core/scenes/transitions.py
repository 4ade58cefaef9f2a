"""Weight-free transition finding on per-frame measures the scene pass records once per frame.

* **Fades** are transitions to or from (near-)uniform black, not dark pictures. A dark run (mean
  intensity below ``fade_threshold``, PySceneDetect's ThresholdDetector rule, so boundary positions
  match its published goldens) only counts as a fade when (1) at least one of its frames is
  near-uniformly black: ``black_share`` of its pixels are below the threshold (a dark shot of the
  Earth, a stage or a night street keeps more than that lit), and (2) it is a transition: it touches
  the start or end of the video (leader/trailer) or is entered or left through a ramp (the frame
  next to the run is itself dim and brighter frames lie beyond it). A video dark from start to end,
  or a black-looking shot joined by hard cuts, is content: the exposure scores judge it, not this.
* **Gradual transitions** (dissolves, wipes, slow fades between shots) change the picture little
  from one frame to the next, so frame-to-frame detectors miss them. :func:`gradual_boundaries`
  compares colour histograms ``w`` frames apart on either side of each frame: across a transition
  the two ends show different shots, while each side is stable over the next ``w`` frames. Motion
  inside a shot moves pixels around but keeps its colours, and whatever it does change is matched
  by the stability terms, so it is not taken for a transition.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FadeRun:
    start: int  # first dark frame
    end: int  # one past the last dark frame


def dark_runs(brightness: np.ndarray, threshold: float) -> list[FadeRun]:
    dark = np.asarray(brightness) < threshold
    runs, i, n = [], 0, len(dark)
    while i < n:
        if dark[i]:
            j = i
            while j < n and dark[j]:
                j += 1
            runs.append(FadeRun(i, j))
            i = j
        else:
            i += 1
    return runs


def _ramp(brightness: np.ndarray, edge: int, away: int, threshold: float, ramp_frames: int) -> bool:
    """Is the visible frame ``edge`` (next to a dark run) the end of a ramp? It must be dim (under
    twice the threshold: a hard cut from a lit shot lands far above) and the frames further ``away``
    must be brighter (the picture was fading, not a dim shot sitting still)."""
    if not 0 <= edge < len(brightness) or brightness[edge] >= 2 * threshold:
        return False
    far = edge + away * ramp_frames
    far = min(max(far, 0), len(brightness) - 1)
    return bool(brightness[far] > brightness[edge])


def fade_runs(brightness, dark_share, threshold: float, black_share: float, ramp_frames: int) -> list[FadeRun]:
    """The dark runs that are fades (see the module docstring)."""
    b = np.asarray(brightness, dtype=np.float64)
    share = np.asarray(dark_share, dtype=np.float64)
    n = len(b)
    out = []
    for run in dark_runs(b, threshold):
        if run.start == 0 and run.end == n:
            continue  # dark from start to end: nothing to transition from
        if share[run.start:run.end].max() < black_share:
            continue  # dark but not uniform: dark content
        at_edge = run.start == 0 or run.end == n
        ramp = _ramp(b, run.start - 1, -1, threshold, ramp_frames) or _ramp(b, run.end, 1, threshold, ramp_frames)
        if at_edge or ramp:
            out.append(run)
    return out


def fade_boundaries(runs: list[FadeRun], n: int, min_scene_frames: int) -> list[int]:
    """Scene starts for fades, as ThresholdDetector places them: the middle of each dark run that
    ends inside the video (a fade in follows), no closer than ``min_scene_frames`` to the previous."""
    bounds, last = [], 0
    for run in runs:
        if run.end >= n:
            continue  # a trailing fade out: trimmed, but no scene starts after it
        if run.end - last < min_scene_frames:
            continue
        bounds.append(run.start + round((run.end - run.start) / 2))
        last = run.end
    return bounds


def ramp_zones(brightness, runs: list[FadeRun], max_frames: int, edge: int = 2) -> list[tuple[int, int]]:
    """Frame ranges (inclusive) on the ramps of each fade, beyond ``edge`` frames from its dark run: a
    boundary another detector puts there (TransNetV2 and the histogram test fire where a fade-in ends)
    is the fade's, not a second transition. A hard cut right at the dark run's edge (a cut to or from
    black) is left alone. The ramp runs as far as the brightness keeps rising away from the run."""
    b = np.asarray(brightness, dtype=np.float64)
    n = len(b)
    zones = []
    for run in runs:
        i = run.end
        while i + 1 < n and i + 1 - run.end < max_frames and b[i + 1] >= b[i] - 0.5:
            i += 1
        if i > run.end + edge:
            zones.append((run.end + edge + 1, i))
        i = run.start - 1
        while i - 1 >= 0 and run.start - i < max_frames and b[i - 1] >= b[i] - 0.5:
            i -= 1
        if 0 <= i < run.start - 1 - edge:
            zones.append((i, run.start - 1 - edge))
    return zones


def in_fade(runs: list[FadeRun], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for run in runs:
        mask[run.start:run.end] = True
    return mask


CUT_SMEAR = 3


@dataclass(frozen=True)
class Gradual:
    frame: int  # the scene boundary: the middle of the transition, or the first frame after a cut
    start: int  # first frame that mixes both shots (== end for a hard cut)
    end: int  # one past the last such frame

    @property
    def is_cut(self) -> bool:
        # Up to CUT_SMEAR mixed frames is a hard cut whose neighbours the encoder or motion blur smeared.
        return self.end - self.start <= CUT_SMEAR
    score: float


def colour_histogram(thumb_bgr: np.ndarray) -> np.ndarray:
    """Normalised 8x4x4 HSV histogram of a small BGR thumbnail: what the gradual detector compares.
    A colour distribution survives camera and subject motion that rearranges the pixels, and it
    changes when the shot changes."""
    hsv = cv2.cvtColor(thumb_bgr, cv2.COLOR_BGR2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return (h / max(float(h.sum()), 1.0)).astype(np.float32)


def gradual_boundaries(hists: np.ndarray, blank: np.ndarray, window: int, threshold: float, ratio: float,
                       min_gap: int) -> list[Gradual]:
    """Transitions from long-range colour-histogram differences.

    ``hists``: (n, bins) normalised histograms; the difference of two frames is one minus their
    intersection (0 same colours, 1 disjoint). For frame i, ``across`` is the difference between
    frames i-w and i+w and ``stable`` the larger of i-2w..i-w and i+w..i+2w (each side's own change
    over the same span). A transition is where ``across`` exceeds ``threshold`` and ``ratio`` times
    ``stable``, and neither end is ``blank`` (black or flat: fades are the fade detector's). Its
    frames and boundary are located by :func:`_locate`. Transitions closer than ``min_gap`` keep the
    strongest.
    """
    n = len(hists)
    w = int(window)
    if n < 2 * w + 1 or w < 1:
        return []
    h = np.asarray(hists, dtype=np.float32)

    def diff(a, b) -> np.ndarray:
        return 1.0 - np.minimum(h[a], h[b]).sum(axis=-1)

    idx = np.arange(w, n - w)
    across = diff(idx - w, idx + w)
    lo, hi = np.clip(idx - 2 * w, 0, n - 1), np.clip(idx + 2 * w, 0, n - 1)
    stable = np.maximum(diff(lo, idx - w), diff(idx + w, hi))
    hit = (across > threshold) & (across > ratio * stable) & ~blank[idx - w] & ~blank[idx + w]
    found: list[Gradual] = []
    i = 0
    while i < len(idx):
        if not hit[i]:
            i += 1
            continue
        j = i
        while j < len(idx) and hit[j]:
            j += 1
        mid = int(idx[(i + j - 1) // 2])
        g = _locate(diff, mid - w, mid + w, float(across[i:j].max()))
        if found and g.frame - found[-1].frame < min_gap:
            if g.score > found[-1].score:
                found[-1] = g
        else:
            found.append(g)
        i = j
    return found


def _locate(diff, a: int, b: int, score: float) -> Gradual:
    """The transition between frames ``a`` and ``b`` (two ends that show different shots): its frames
    are those unlike both ends (more than a fifth of the ends' own difference from each); the
    boundary is their middle. None of them (or no more than ``CUT_SMEAR``): a hard cut, at the first
    frame of the new shot."""
    frames = np.arange(a, b + 1)
    to_a, to_b = diff(frames, a), diff(frames, b)
    ends = float(diff(np.array([a]), b)[0])
    mixed = np.nonzero((to_a > 0.2 * ends) & (to_b > 0.2 * ends))[0]
    if len(mixed):
        first, last = int(frames[mixed[0]]), int(frames[mixed[-1]])
        if last + 1 - first <= CUT_SMEAR:  # a smeared hard cut: the new shot starts after the smear
            return Gradual(last + 1, first, last + 1, score)
        return Gradual((first + last + 1) // 2, first, last + 1, score)
    cut = int(frames[np.nonzero(to_b <= to_a)[0][0]])
    return Gradual(cut, cut, cut, score)
