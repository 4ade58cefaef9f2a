"""Scene detection (PySceneDetect cascade) and the turning of scenes into training clips.

One decode pass at analysis resolution feeds two PySceneDetect detectors side by side:
a hard-cut detector (``ContentDetector`` or ``AdaptiveDetector``) and ``ThresholdDetector``
for fades through black. Boundaries are frame indices of the decoded stream; seconds come
from each frame's real presentation time, so variable-frame-rate files get true times.

Transition frames are excluded from the usable part of each scene ("core"): a few frames on
either side of a hard cut (encoders smear them) and the dark run of a fade plus a margin.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, ThresholdDetector

from .media import VideoProbe, analysis_size, decode_frames


@dataclass(frozen=True)
class SceneSettings:
    analysis_short_side: int = 144
    cut_detector: str = "content"  # content | adaptive
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    fade_threshold: int = 12
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
    boundary: str  # what started the scene: start | cut | fade
    end_boundary: str  # what ended it: cut | fade | end
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


def _cut_detector(s: SceneSettings):
    if s.cut_detector == "content":
        return ContentDetector(threshold=s.content_threshold, min_scene_len=s.min_scene_frames)
    if s.cut_detector == "adaptive":
        return AdaptiveDetector(adaptive_threshold=s.adaptive_threshold, min_scene_len=s.min_scene_frames)
    raise ValueError(f"scenes.cut_detector must be 'content' or 'adaptive', not {s.cut_detector!r}")


def detect_scenes(path: str | Path, probe: VideoProbe, settings: SceneSettings) -> SceneDetection:
    """Decode ``path`` once at analysis resolution and return its scenes.

    Raises :class:`~vidgen_dagster.core.errors.DecodeError` when the bitstream is damaged.
    """
    size = analysis_size(probe.width, probe.height, settings.analysis_short_side, probe.sample_aspect_ratio)
    cut_det = _cut_detector(settings)
    fade_det = ThresholdDetector(threshold=settings.fade_threshold, min_scene_len=settings.min_scene_frames)
    # Frame numbers drive the detectors; the rate only converts their min_scene_len arithmetic.
    rate = probe.fps_nominal or probe.fps or 25.0
    cuts: set[int] = set()
    fades: set[int] = set()
    times: list[float] = []
    brightness: list[float] = []
    deltas: list[float] = []
    previous = None
    tc = None
    # FAST_BILINEAR, not AREA: area averaging turns near-black frames into hue jitter that the
    # content detector reads as cuts (fades.mp4 gains a false cut); bilinear matches the goldens.
    frames = decode_frames(path, probe.stream_index, size, probe.start_time_s, interpolation="FAST_BILINEAR")
    for frame in frames:
        tc = FrameTimecode(frame.index, fps=rate)
        times.append(frame.time_s)
        brightness.append(float(frame.image.mean()))
        # Frozen-frame measure for the quality scores (one absdiff at 144 px: ~30 us a frame).
        deltas.append(0.0 if previous is None else float(cv2.absdiff(frame.image, previous).mean()))
        previous = frame.image
        cuts.update(t.frame_num for t in cut_det.process_frame(tc, frame.image))
        fades.update(t.frame_num for t in fade_det.process_frame(tc, frame.image))
    if tc is not None:
        cuts.update(t.frame_num for t in cut_det.post_process(tc))
        fades.update(t.frame_num for t in fade_det.post_process(tc))
    scenes = _build_scenes(cuts, fades, times, brightness, settings, rate)
    return SceneDetection(scenes, times, brightness, deltas, size[0], size[1], asdict(settings))


def _merge_boundaries(cuts: set[int], fades: set[int], n: int, min_gap: int) -> list[tuple[int, str]]:
    """Union of both detectors' boundaries. Where a cut lands inside the window of a fade
    (the cut detector often fires on the fade's steep part), the fade wins: it carries
    the dark-run trimming."""
    fade_frames = sorted(f for f in fades if 0 < f < n)
    kept_cuts = [c for c in sorted(cuts) if 0 < c < n and all(abs(c - f) >= min_gap for f in fade_frames)]
    return sorted([(f, "fade") for f in fade_frames] + [(c, "cut") for c in kept_cuts])


def _build_scenes(cuts, fades, times, brightness, s: SceneSettings, rate: float) -> list[Scene]:
    n = len(times)
    if n == 0:
        return []
    bounds = _merge_boundaries(cuts, fades, n, s.min_scene_frames)
    starts = [(0, "start")] + bounds
    interval = float(np.median(np.diff(times))) if n > 1 else 1.0 / rate
    margin = int(round(s.fade_margin_s * (1.0 / interval if interval > 0 else rate)))
    scenes = []
    for i, (start, kind) in enumerate(starts):
        end, end_kind = (starts[i + 1][0], starts[i + 1][1]) if i + 1 < len(starts) else (n, "end")
        core_start, core_end = start, end
        if kind == "cut":
            core_start += s.cut_trim_frames
        if end_kind == "cut":
            core_end -= s.cut_trim_frames
        # Dark frames at either end are fade (or black-leader) frames: drop them plus a margin
        # for the ramp, whatever the detector called the boundary.
        lead = _dark_run(brightness, core_start, core_end, s.fade_threshold, step=1)
        if lead:
            core_start += lead + margin
        trail = _dark_run(brightness, core_end - 1, core_start - 1, s.fade_threshold, step=-1)
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


def _dark_run(brightness: list[float], begin: int, stop: int, threshold: float, step: int) -> int:
    count = 0
    i = begin
    while (step > 0 and i < stop) or (step < 0 and i > stop):
        if brightness[i] >= threshold:
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
