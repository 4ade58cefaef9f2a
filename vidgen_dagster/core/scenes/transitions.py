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
  by the stability terms, so it is not taken for a transition. A candidate is then kept only when its
  two sides really differ (:func:`sides_differ`): the frames just before it and just after it, each
  averaged over a few frames, must differ several times more than either side changes within itself
  or drifts over the next window. A whip of the camera or a bird's head filling the frame
  (cockatoo), and words flying over one background (kinetic typography), change the picture on
  both sides of the candidate as much as across it; two shots joined by a dissolve do not.
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
    """Frame ranges (inclusive) where a boundary another detector finds is the fade's, not a second
    transition.

    * The ramps of each fade, beyond ``edge`` frames from its dark run (TransNetV2 and the histogram
      test fire where a fade-in ends). A hard cut right at the dark run's edge (a cut to or from black)
      is left alone. A ramp runs as far as the brightness keeps rising away from the run.
    * The inside of a fade-out that ends the video (past its first frame): nothing follows it, so a
      boundary there would start a "scene" of black. ContentDetector and AdaptiveDetector fire on the
      noisy last steps of such a fade (testvideo.mp4, frame 691; neither the ContentDetector nor the
      ThresholdDetector goldens list it). A fade between two shots keeps what is found inside it: the
      goldens list testvideo's 394, where the picture starts to come up out of black.
    """
    b = np.asarray(brightness, dtype=np.float64)
    n = len(b)
    zones = []
    for run in runs:
        if run.end == n and run.start > 0:
            zones.append((run.start + 1, n - 1))
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
                       min_gap: int, side_ratio: float = 0.0) -> list[Gradual]:
    """Transitions from long-range colour-histogram differences.

    ``hists``: (n, bins) normalised histograms; the difference of two frames is one minus their
    intersection (0 same colours, 1 disjoint). For frame i, ``across`` is the difference between
    frames i-w and i+w and ``stable`` the larger of i-2w..i-w and i+w..i+2w (each side's own change
    over the same span). A transition is where ``across`` exceeds ``threshold`` and ``ratio`` times
    ``stable``, and neither end is ``blank`` (black or flat: fades are the fade detector's). Its
    frames and boundary are located by :func:`_locate`, and it is kept when its two sides differ
    ``side_ratio`` times more than each side changes (:func:`sides_differ`; 0 keeps all). Transitions
    closer than ``min_gap`` keep the strongest.
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
        if side_ratio > 0 and sides_differ(h, g, w) < side_ratio:
            i = j
            continue
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


def sides_differ(hists: np.ndarray, g: Gradual, window: int) -> float:
    """How much more the two sides of transition ``g`` differ than each side changes by itself.

    Each side is the mean histogram of ``k = window // 2`` frames (at least 2) next to the transition's
    mixed frames: ``side`` is the difference of the two means. A side's own change is the larger of how
    far its frames stray from their mean (``within``: motion, flicker, words appearing) and how far its
    mean drifts over the next ``window`` frames away from the transition (``far``). Returns
    ``side / max(within, far, 0.02)``: about 3 and up for two shots joined by a cut or a dissolve (the
    spliced dissolves of real shots: 3.0-8.5), 2.5 and below where the picture itself keeps changing
    (the cockatoo's close-ups, kinetic typography). A side with no frames (the video's first or last
    frames) cannot be judged: infinity (kept).
    """
    n = len(hists)
    k = max(2, window // 2)
    left, right = hists[max(g.start - k, 0):g.start], hists[g.end:min(g.end + k, n)]
    if len(left) == 0 or len(right) == 0:
        return float("inf")

    def d(a, b) -> np.ndarray:
        return 1.0 - np.minimum(a, b).sum(axis=-1)

    m_left, m_right = left.mean(axis=0), right.mean(axis=0)
    side = float(d(m_left, m_right))
    within = max(float(d(left, m_left).max()), float(d(right, m_right).max()))
    far = 0.0
    before = hists[max(g.start - k - window, 0):max(g.start - window, 0)]
    after = hists[min(g.end + window, n):min(g.end + window + k, n)]
    if len(before):
        far = max(far, float(d(before.mean(axis=0), m_left)))
    if len(after):
        far = max(far, float(d(after.mean(axis=0), m_right)))
    return side / max(within, far, 0.02)


# A cut whose picture comes back within a few frames is a flash: the frame after it is nearer the
# frame before it than this share of the jump (real cuts on the shared footage: 0.95 and up; the
# one-frame flashes and glitches of kinetic typography: 0.15-0.4).
FLASH_RETURN = 0.5


def is_flash(thumbs: list[np.ndarray], cut: int, after: int) -> bool:
    """Is the "cut" at frame ``cut`` a flash or glitch rather than a change of shot?

    ``thumbs``: a tiny picture of every frame (16x9). The jump is the mean absolute difference between
    frames ``cut - 1`` and ``cut``; it is a flash when one of the ``after`` frames that follow comes back
    to within :data:`FLASH_RETURN` of the jump from one of the two frames before the cut. A light
    flash, a glitch or a word blinking over one background does that; a new shot does not, however
    much it moves.
    """
    n = len(thumbs)
    if cut < 1 or cut + 1 >= n:
        return False

    def mad(a: int, b: int) -> float:
        return float(cv2.absdiff(thumbs[a], thumbs[b]).mean())

    jump = mad(cut, cut - 1)
    if jump <= 0:
        return False
    back = min(mad(cut + j, cut - 1 - i) for j in range(1, after + 1) for i in range(2)
               if cut + j < n and cut - 1 - i >= 0)
    return back < FLASH_RETURN * jump


# A cut inside a dissolve's frames that makes this share of the change between the dissolve's ends in
# one step is a hard cut after all (a dissolve spreads its change over its frames: one step of a
# k-frame blend is about 1/k of it).
ABRUPT_SHARE = 0.6


def abrupt(thumbs: list[np.ndarray], g: Gradual, cut: int) -> bool:
    """Is the transition ``g`` the gradual finder located really the hard cut at ``cut``? True when the
    one step ``cut - 1 -> cut`` makes at least :data:`ABRUPT_SHARE` of the change between the frames
    before and after ``g`` (the shot before changed a little on its own before the cut, and the
    long-range comparison took that for the start of a blend: cuts_anamorphic 484). Measured on the
    16x9 pictures, whose change is linear in a blend's weight (a colour histogram is not: the first
    frame of a blend from black-and-white to colour already fills the coloured bins)."""
    n = len(thumbs)
    if not 0 < cut < n:
        return False

    def mad(a: int, b: int) -> float:
        return float(cv2.absdiff(thumbs[a], thumbs[b]).mean())

    ends = mad(max(g.start - 1, 0), min(g.end, n - 1))
    return ends > 0 and mad(cut - 1, cut) >= ABRUPT_SHARE * ends
