"""Scene detection and the turning of scenes into training clips.

One decode pass at analysis resolution feeds every detector side by side. Hard cuts: PySceneDetect's
``ContentDetector`` and/or ``AdaptiveDetector``, or TransNetV2 (``core/scenes/transnet.py``). Gradual
transitions (dissolves): a weight-free long-range colour comparison (``core/scenes/transitions.py``) in the
default cascade, kept only where the two sides really differ. The cascade also drops flashes (a "cut"
whose picture comes back within ~0.1 s) and lets Adaptive's rule see the brightness change alone on
black-and-white frames. Fades: dark runs that are near-uniform black *and* transitions, so dark shots stay
content. Boundaries are frame indices of the decoded stream; seconds come from each frame's real
presentation time, so variable-frame-rate files get true times.

Transition frames are excluded from the usable part of each scene ("core"): a few frames on
either side of a hard cut (encoders smear them), every mixed frame of a dissolve plus a margin, and
the dark run of a fade plus a margin.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode

from ..common.media import ANALYSIS_DECODE, VideoProbe, analysis_size, check_geometry, decode_frames
from .transitions import (
    FadeRun,
    Gradual,
    abrupt,
    colour_histogram,
    fade_boundaries,
    fade_runs,
    gradual_boundaries,
    in_fade,
    is_flash,
    ramp_zones,
)


@dataclass(frozen=True)
class SceneSettings:
    analysis_short_side: int = 144
    # content | adaptive: that PySceneDetect detector alone; cascade: content + adaptive + the gradual
    # (dissolve) detector; transnetv2: the learned shot detector. Fades are found in every mode.
    cut_detector: str = "cascade"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    fade_threshold: int = 12
    fade_black_share: float = 0.97
    fade_ramp_frames: int = 4
    gradual_window_s: float = 0.6
    gradual_threshold: float = 0.5
    gradual_ratio: float = 1.8
    gradual_side_ratio: float = 2.75
    transnet_threshold: float = 0.5
    transnet_device: str = "auto"  # auto | cpu | cuda
    max_aspect_ratio: float = 10.0
    min_scene_frames: int = 15
    cut_trim_frames: int = 1
    fade_margin_s: float = 0.25

    @classmethod
    def from_dict(cls, d: dict) -> SceneSettings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class ClipSettings:
    min_seconds: float = 2.0
    max_seconds: float = 20.0

    @classmethod
    def from_dict(cls, d: dict) -> ClipSettings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Scene:
    scene_index: int
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    boundary: str  # what started the scene: start | cut | fade | dissolve
    end_boundary: str  # what ended it: cut | fade | dissolve | end
    core_start_frame: int  # first usable frame after excluding transition frames
    core_end_frame: int  # exclusive; core_end_frame <= core_start_frame means nothing usable


@dataclass
class SceneDetection:
    """Everything one decode pass learns about a video."""

    scenes: list[Scene]
    frame_times_s: list[float]  # presentation time of every decoded frame, relative to the first
    brightness: list[float]  # mean 8-bit intensity of every frame at analysis resolution
    frame_delta: list[float]  # mean absolute change from the previous frame (0 for the first): frozen frames
    analysis_width: int
    analysis_height: int
    settings: dict = field(default_factory=dict)

    @property
    def frames_decoded(self) -> int:
        return len(self.frame_times_s)


CUT_DETECTORS = ("content", "adaptive", "cascade", "transnetv2")
# Mean HSV saturation (0-255) below which a frame is black-and-white: the cascade's Adaptive rule then
# scores the brightness change alone. Colour footage on the shared media sits at 90-200, the B&W files at 0.
ACHROMATIC_SATURATION = 16.0
DISSOLVE_MARGIN_FRAMES = 3


def _cut_detectors(s: SceneSettings) -> list:
    """The PySceneDetect detectors that run on every frame for ``s.cut_detector``."""
    if s.cut_detector not in CUT_DETECTORS:
        raise ValueError(f"scenes.cut_detector must be one of {CUT_DETECTORS}, not {s.cut_detector!r}")
    dets = []
    if s.cut_detector in ("content", "cascade"):
        dets.append(ContentDetector(threshold=s.content_threshold, min_scene_len=s.min_scene_frames))
    if s.cut_detector == "adaptive":
        dets.append(AdaptiveDetector(adaptive_threshold=s.adaptive_threshold, min_scene_len=s.min_scene_frames))
    return dets


def adaptive_cuts(scores: list[float], threshold: float, min_scene_frames: int, window_width: int = 2,
                  min_content_val: float = 15.0) -> list[int]:
    """PySceneDetect's AdaptiveDetector decision over ContentDetector frame scores already computed.

    Adaptive compares each frame's change with its neighbours' instead of a fixed level: it finds the
    low-contrast cuts of dim, desaturated footage (hardsub_cuts) that ContentDetector misses. Its
    score is ContentDetector's, so the cascade computes it once (the HSV conversion and three
    differences per frame) and applies Adaptive's rule here; its defaults are Adaptive's own. On
    black-and-white frames the cascade passes the brightness change instead (``ACHROMATIC_SATURATION``).
    """
    cuts: list[int] = []
    last_cut = 0
    w = window_width
    for target in range(w, len(scores) - w):
        window = scores[target - w:target] + scores[target + 1:target + w + 1]
        average = sum(window) / (2.0 * w)
        score = scores[target]
        if abs(average) >= 0.00001:
            ratio = min(score / average, 255.0)
        else:
            ratio = 255.0 if score >= min_content_val else 0.0
        if ratio >= threshold and score >= min_content_val and target - last_cut >= min_scene_frames:
            last_cut = target
            cuts.append(target)
    return cuts


def detect_scenes(path: str | Path, probe: VideoProbe, settings: SceneSettings) -> SceneDetection:
    """Decode ``path`` once at analysis resolution and return its scenes.

    Raises :class:`~vidgen_dagster.core.errors.DecodeError` when the bitstream is damaged and
    :class:`~vidgen_dagster.core.errors.GeometryError` for an absurd aspect ratio.
    """
    check_geometry(probe.width, probe.height, probe.sample_aspect_ratio, settings.max_aspect_ratio)
    size = analysis_size(probe.width, probe.height, settings.analysis_short_side, probe.sample_aspect_ratio)
    cut_dets = _cut_detectors(settings)
    transnet = None
    if settings.cut_detector == "transnetv2":
        from .transnet import TransNetStream

        transnet = TransNetStream(settings.transnet_device)
    # Frame numbers drive the detectors; the rate only converts their min_scene_len arithmetic.
    rate = probe.fps_nominal or probe.fps or 25.0
    cuts: set[int] = set()
    times: list[float] = []
    brightness: list[float] = []
    dark_share: list[float] = []
    deltas: list[float] = []
    hists: list[np.ndarray] = []
    thumbs: list[np.ndarray] = []  # 16x9 pictures (cascade): is a cut a flash?
    content_scores: list[float] = []  # ContentDetector's per-frame score (cascade: Adaptive reuses it)
    contrast: list[float] = []  # standard deviation of the grey picture: flat frames have none
    previous_lum, previous_saturation = None, 0.0
    previous = None
    tc = None
    # FAST_BILINEAR, not AREA: area averaging turns near-black frames into hue jitter that the
    # content detector reads as cuts (fades.mp4 gains a false cut); bilinear matches the goldens.
    frames = decode_frames(path, probe.stream_index, size, probe.start_time_s, interpolation="FAST_BILINEAR",
                           decoder_options=ANALYSIS_DECODE)
    for frame in frames:
        image = frame.image
        tc = FrameTimecode(frame.index, fps=rate)
        times.append(frame.time_s)
        brightness.append(sum(cv2.mean(image)[:3]) / 3.0)  # the mean of every sample (cv2: ~5x numpy's cost)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        contrast.append(float(cv2.meanStdDev(gray)[1][0, 0]))
        # Share of near-black pixels: a fade's black is uniform, a dark shot keeps some of it lit.
        dark_share.append(1.0 - cv2.countNonZero(cv2.compare(gray, settings.fade_threshold, cv2.CMP_GE))
                          / gray.size)
        # Frozen-frame measure for the quality scores (one absdiff at 144 px: ~30 us a frame).
        deltas.append(0.0 if previous is None else sum(cv2.mean(cv2.absdiff(image, previous))[:3]) / 3.0)
        previous = image
        for det in cut_dets:
            cuts.update(t.frame_num for t in det.process_frame(tc, image))
        if settings.cut_detector == "cascade":
            score = cut_dets[0]._frame_score or 0.0
            # ContentDetector keeps this frame's H, S and V planes for the next comparison.
            planes = cut_dets[0]._last_frame
            saturation = cv2.mean(planes.sat)[0]
            if previous_lum is not None and max(saturation, previous_saturation) < ACHROMATIC_SATURATION:
                # Black-and-white footage: hue and saturation carry nothing, so ContentDetector's
                # average of three deltas is a third of the brightness change; Adaptive's rule
                # (its 15-point floor) then misses low-contrast grey cuts (hardsub_cuts, 229).
                score = cv2.mean(cv2.absdiff(planes.lum, previous_lum))[0]
            previous_lum, previous_saturation = planes.lum, saturation
            content_scores.append(score)
        if settings.cut_detector == "cascade" or transnet is not None:
            # 48x27 is TransNetV2's input, and plenty for the gradual detector's colour histogram.
            small = cv2.resize(image, (48, 27), interpolation=cv2.INTER_AREA)
            if transnet is not None:
                transnet.push(small[:, :, ::-1])
            else:
                hists.append(colour_histogram(small))
                thumbs.append(cv2.resize(small, (16, 9), interpolation=cv2.INTER_AREA))
    if tc is not None:
        for det in cut_dets:
            cuts.update(t.frame_num for t in det.post_process(tc))
    cuts.update(adaptive_cuts(content_scores, settings.adaptive_threshold, settings.min_scene_frames))
    n = len(times)
    interval = float(np.median(np.diff(times))) if n > 1 else 1.0 / rate
    per_second = 1.0 / interval if interval > 0 else rate
    if thumbs:
        # One-frame flashes and glitches (kinetic typography) trip ContentDetector: drop a cut whose
        # picture returns within ~0.1 s.
        cuts = {c for c in cuts if not is_flash(thumbs, c, max(2, int(round(0.1 * per_second))))}
    gradual: list[Gradual] = []
    if transnet is not None:
        found, gradual = transnet.finish(settings.transnet_threshold)
        cuts.update(found)
    elif hists:
        window = max(2, int(round(settings.gradual_window_s * per_second)))
        # Uniformly black or flat frames have no colours to compare: fades are the fade detector's.
        # Dark content (a lit object on black) is compared like any other picture.
        blank = (np.asarray(dark_share) >= settings.fade_black_share) | (np.asarray(contrast) < 4.0)
        stacked = np.stack(hists)
        gradual = gradual_boundaries(stacked, blank, window, settings.gradual_threshold,
                                     settings.gradual_ratio, settings.min_scene_frames, settings.gradual_side_ratio)
        # A cut detector's cut among a "dissolve's" frames that makes most of its change in one step:
        # the cut stands, not the dissolve.
        gradual = [g for g in gradual if g.is_cut or not any(
            g.start - 2 <= c <= g.end + 2 and abrupt(thumbs, g, c) for c in cuts)]
    ramp = settings.fade_ramp_frames
    runs = fade_runs(brightness, dark_share, settings.fade_threshold, settings.fade_black_share, ramp)
    scenes = _build_scenes(cuts, gradual, runs, times, brightness, settings, per_second)
    return SceneDetection(scenes, times, brightness, deltas, size[0], size[1], asdict(settings))


def _merge_boundaries(cuts: set[int], gradual: list[Gradual], fades: list[int], n: int,
                      min_gap: int, ramps: list[tuple[int, int]] = ()) -> list[tuple[int, str]]:
    """Union of the detectors' boundaries. A fade wins over anything inside its window or on its
    ``ramps`` (the cut detectors and TransNetV2 often fire on its steep part or where it ends)
    because it carries the dark-run trimming. A dissolve
    wins over a hard cut found among its frames (the cut detectors fire on its steepest step, and
    only the dissolve's own trimming drops every mixed frame); a gradual find with no mixed frames
    is a hard cut, added where the cut detectors found none."""
    fade_frames = sorted(f for f in fades if 0 < f < n)

    def clear(frame: int, others: list[int]) -> bool:
        return all(abs(frame - o) >= min_gap for o in others) and not any(a <= frame <= b for a, b in ramps)

    dissolves = [g for g in gradual if 0 < g.frame < n and not g.is_cut and clear(g.frame, fade_frames)]
    kept_cuts = [c for c in sorted(cuts) if 0 < c < n and clear(c, fade_frames)
                 and not any(g.start - 2 <= c <= g.end + 2 for g in dissolves)]
    kept_cuts += [g.frame for g in gradual if g.is_cut and 0 < g.frame < n
                  and clear(g.frame, fade_frames + kept_cuts)]
    kept_cuts = sorted(kept_cuts)
    kept_cuts = [c for i, c in enumerate(kept_cuts) if i == 0 or c - kept_cuts[i - 1] >= min_gap]
    kept_dissolves = [g.frame for g in dissolves if clear(g.frame, kept_cuts)]
    return sorted([(f, "fade") for f in fade_frames] + [(c, "cut") for c in kept_cuts]
                  + [(g, "dissolve") for g in kept_dissolves])


def _build_scenes(cuts, gradual: list[Gradual], runs: list[FadeRun], times, brightness, s: SceneSettings,
                  per_second: float) -> list[Scene]:
    n = len(times)
    if n == 0:
        return []
    ramps = ramp_zones(brightness, runs, max_frames=int(round(per_second)))
    bounds = _merge_boundaries(cuts, gradual, fade_boundaries(runs, n, s.min_scene_frames), n,
                               s.min_scene_frames, ramps)
    mixed = {g.frame: g for g in gradual}
    faded = in_fade(runs, n)
    starts = [(0, "start")] + bounds
    interval = 1.0 / per_second
    margin = int(round(s.fade_margin_s * per_second))
    scenes = []
    for i, (start, kind) in enumerate(starts):
        end, end_kind = (starts[i + 1][0], starts[i + 1][1]) if i + 1 < len(starts) else (n, "end")
        core_start, core_end = start, end
        if kind == "cut":
            core_start += s.cut_trim_frames
        if end_kind == "cut":
            core_end -= s.cut_trim_frames
        # A dissolve's boundary is its middle: every frame that mixes both shots is dropped, plus a
        # margin (the histogram test sees a blend only once the incoming shot is ~20-25 % visible).
        if kind == "dissolve":
            core_start = max(core_start, mixed[start].end + DISSOLVE_MARGIN_FRAMES)
        if end_kind == "dissolve":
            core_end = min(core_end, mixed[end].start - DISSOLVE_MARGIN_FRAMES)
        # Fade frames at either end (or a black leader/trailer) are dropped plus a margin for the
        # ramp, whatever detector called the boundary; dark frames that are content are kept.
        lead = _run_length(faded, core_start, core_end, step=1)
        if lead:
            core_start += lead + margin
        trail = _run_length(faded, core_end - 1, core_start - 1, step=-1)
        if trail:
            core_end -= trail + margin
        end_s = times[end] if end < n else times[-1] + interval
        scenes.append(
            Scene(
                scene_index=i,
                start_frame=start,
                end_frame=end,
                start_s=round(times[start], 6),
                end_s=round(end_s, 6),
                boundary=kind,
                end_boundary=end_kind,
                core_start_frame=core_start,
                core_end_frame=max(core_start, core_end),
            )
        )
    return scenes


def _run_length(mask: np.ndarray, begin: int, stop: int, step: int) -> int:
    count = 0
    i = begin
    while (step > 0 and i < stop) or (step < 0 and i > stop):
        if not mask[i]:
            break
        count += 1
        i += step
    return count


@dataclass
class ClipSpan:
    scene_index: int
    part: int  # index within the scene when a long scene is split
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return round(self.end_s - self.start_s, 6)


@dataclass
class DroppedScene:
    scene_index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    reason: str


def _time_at(times: list[float], frame: int, interval: float) -> float:
    """Presentation time where ``frame`` starts; one past the last frame is the stream end."""
    if frame < len(times):
        return times[frame]
    return times[-1] + interval * (frame - len(times) + 1)


def scenes_to_clips(
    scenes: list[Scene], frame_times_s: list[float], settings: ClipSettings
) -> tuple[list[ClipSpan], list[DroppedScene]]:
    """Apply the clip length rules to each scene's usable core.

    A core shorter than ``min_seconds`` is dropped (with its reason); one longer than
    ``max_seconds`` is split into the fewest equal parts that each fit.
    """
    if settings.min_seconds <= 0 or settings.max_seconds < 2 * settings.min_seconds:
        raise ValueError("clips need 0 < min_seconds and max_seconds >= 2 * min_seconds")
    n = len(frame_times_s)
    interval = float(np.median(np.diff(frame_times_s))) if n > 1 else 0.04
    clips: list[ClipSpan] = []
    dropped: list[DroppedScene] = []
    for sc in scenes:
        a, b = sc.core_start_frame, sc.core_end_frame
        ta, tb = _time_at(frame_times_s, a, interval), _time_at(frame_times_s, b, interval)
        duration = tb - ta if b > a else 0.0
        if b <= a:
            dropped.append(DroppedScene(sc.scene_index, sc.start_frame, sc.end_frame, sc.start_s, sc.end_s,
                                        "transition_only"))
            continue
        if duration < settings.min_seconds:
            dropped.append(DroppedScene(sc.scene_index, sc.start_frame, sc.end_frame, sc.start_s, sc.end_s,
                                        f"too_short: {duration:.2f}s < min_seconds {settings.min_seconds}"))
            continue
        parts = max(1, math.ceil(duration / settings.max_seconds - 1e-9))
        # Split on real timestamps (VFR safe): each cut point is the first frame at or after
        # the ideal time.
        edges = [a]
        for k in range(1, parts):
            target = ta + duration * k / parts
            f = int(np.searchsorted(np.asarray(frame_times_s[a:b]), target - 1e-9)) + a
            edges.append(max(edges[-1] + 1, min(f, b - 1)))
        edges.append(b)
        for k in range(parts):
            fa, fb = edges[k], edges[k + 1]
            clips.append(ClipSpan(sc.scene_index, k, fa, fb,
                                  round(_time_at(frame_times_s, fa, interval), 6),
                                  round(_time_at(frame_times_s, fb, interval), 6)))
    return clips, dropped
