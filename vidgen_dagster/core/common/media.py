"""Media access with PyAV: probe a file, hash it, decode frames at analysis resolution.

All decoding in the package goes through :func:`decode_frames`, so threading, stream choice,
timestamp handling and error translation are decided once.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .errors import (
    DecodeError,
    DemuxError,
    EmptyVideoError,
    GeometryError,
    NoVideoStreamError,
    VideoOpenError,
)

# Relative spread of frame intervals above which a stream is called variable-frame-rate.
_VFR_TOLERANCE = 0.02


@dataclass(frozen=True)
class VideoProbe:
    """Facts about one file's chosen video stream (the ``videos`` table minus ids and status)."""

    stream_index: int
    video_streams: int
    streams: int
    codec: str
    width: int
    height: int
    rotation: int
    sample_aspect_ratio: str
    pixel_format: str
    fps: float  # average rate: frames / presentation span (what a player shows as "fps")
    fps_nominal: float  # the container's declared rate (r_frame_rate / guessed rate)
    vfr: bool
    frame_count: int
    duration_s: float
    start_time_s: float

    def as_row(self) -> dict:
        return asdict(self)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def open_container(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoOpenError(f"cannot open container: {exc}") from exc


def choose_video_stream(container) -> av.video.stream.VideoStream:
    """The best video stream: the largest picture, skipping cover art (attached pictures)."""
    candidates = []
    for s in container.streams.video:
        disposition = int(getattr(s, "disposition", 0) or 0)
        if disposition & 0x0400:  # AV_DISPOSITION_ATTACHED_PIC: album art, not video
            continue
        w = s.codec_context.width or 0
        h = s.codec_context.height or 0
        # Prefer the default stream on a tie, then the lowest index (deterministic).
        candidates.append((-(w * h), 0 if disposition & 0x1 else 1, s.index, s))
    if not candidates:
        raise NoVideoStreamError(f"no video stream among {len(container.streams)} streams")
    return sorted(candidates, key=lambda c: c[:3])[0][3]


def probe(path: str | Path) -> VideoProbe:
    """Open, choose the stream, demux every packet (cheap: no decoding) and decode the first frame.

    The packet pass gives the real frame count and timestamps, so VFR files and containers
    without a duration get true figures. Decoding the first frame proves the codec can start;
    damage further in surfaces when ``scenes`` decodes the whole stream.
    """
    container = open_container(path)
    try:
        stream = choose_video_stream(container)
        tb = stream.time_base or Fraction(1, 1000)
        pts: list[int] = []
        packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # flush packet
                    continue
                packets += 1
                if packet.pts is not None:
                    pts.append(packet.pts)
        except av.error.FFmpegError as exc:
            raise DemuxError(f"demux failed after {packets} packets: {exc}") from exc
        if packets == 0:
            raise EmptyVideoError("video stream holds no packets")
        first = _first_frame(path, stream.index)
        pts.sort()
        nominal = float(stream.guessed_rate or stream.average_rate or 0) or 0.0
        if len(pts) >= 2 and pts[-1] > pts[0]:
            intervals = np.diff(np.asarray(pts, dtype=np.float64)) * float(tb)
            median = float(np.median(intervals))
            # The last frame lasts one median interval: duration covers every frame.
            duration = float((pts[-1] - pts[0]) * tb) + median
            fps = len(pts) / duration if duration > 0 else nominal
            spread = float(np.percentile(intervals, 95) - np.percentile(intervals, 5))
            # Timestamps are quantised to the time base: allow one tick of jitter either way.
            vfr = median > 0 and spread > _VFR_TOLERANCE * median + 2 * float(tb)
        else:
            fps = nominal
            duration = packets / nominal if nominal else 0.0
            vfr = False
        start = float(pts[0] * tb) if pts else 0.0
        return VideoProbe(
            stream_index=stream.index,
            video_streams=len(container.streams.video),
            streams=len(container.streams),
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            rotation=int(first.rotation or 0) if hasattr(first, "rotation") else 0,
            sample_aspect_ratio=str(stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or "1"),
            pixel_format=first.format.name,
            fps=round(fps, 6),
            fps_nominal=round(nominal, 6),
            vfr=bool(vfr),
            frame_count=packets,
            duration_s=round(duration, 6),
            start_time_s=round(start, 6),
        )
    finally:
        container.close()


def _first_frame(path: str | Path, stream_index: int) -> av.VideoFrame:
    container = open_container(path)
    try:
        stream = container.streams[stream_index]
        try:
            for frame in container.decode(stream):
                return frame
        except av.error.FFmpegError as exc:
            raise DecodeError(f"first frame does not decode: {exc}") from exc
        raise EmptyVideoError("no frame decodes from the video stream")
    finally:
        container.close()


def _sar(sar: str) -> float:
    try:
        ratio = float(Fraction(sar)) if sar not in ("", "0", "0/1", "None") else 1.0
    except (ValueError, ZeroDivisionError):
        ratio = 1.0
    return ratio or 1.0


def display_aspect(width: int, height: int, sar: str = "1") -> float:
    """Long side over short side of the displayed picture (SAR applied); inf for a zero side."""
    w, h = width * _sar(sar), float(height)
    return max(w, h) / min(w, h) if min(w, h) > 0 else math.inf


def check_geometry(width: int, height: int, sar: str, max_aspect: float) -> None:
    """Raise :class:`GeometryError` for a picture no training clip can come from (a 3x4001 strip)."""
    aspect = display_aspect(width, height, sar)
    if aspect > max_aspect:
        raise GeometryError(f"{width}x{height} (SAR {sar}) has aspect ratio {aspect:.1f}:1 > {max_aspect:g}:1")


# The long side of a scaled picture is at most this many times the short-side target: a pathological
# strip (3x4001) is not blown up to 144x192048 (1.8 GB for 60 frames); its short side shrinks instead.
MAX_LONG_OVER_SHORT = 4


def analysis_size(width: int, height: int, short_side: int, sar: str = "1") -> tuple[int, int]:
    """Output size with the given short side, square pixels (SAR applied), even dimensions; the long
    side is bounded by ``MAX_LONG_OVER_SHORT * short_side`` (the short side shrinks to keep the shape)."""
    display_w = width * _sar(sar)
    long_cap = MAX_LONG_OVER_SHORT * short_side
    if display_w <= height:
        w = short_side
        h = short_side * height / display_w
        if h > long_cap:
            w, h = w * long_cap / h, long_cap
    else:
        h = short_side
        w = short_side * display_w / height
        if w > long_cap:
            w, h = long_cap, h * long_cap / w
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


@dataclass(frozen=True)
class DecodedFrame:
    index: int  # 0-based decode-order index of the frame in the chosen stream
    time_s: float  # presentation time relative to the stream's first frame
    image: np.ndarray  # HxWx3 uint8, BGR (what OpenCV and PySceneDetect expect)


def use_decoder_threads(stream) -> None:
    """Threaded decoding, with ``$VIDGEN_THREADS`` threads when set (``vidgen curate --jobs N`` gives each of its N
    worker processes its share of the cores: one decoder thread per core already busy with another run's decoder
    only adds threading overhead, ~10% more CPU for the same frames); else FFmpeg's own count (every core)."""
    stream.thread_type = "AUTO"
    try:
        threads = int(os.environ.get("VIDGEN_THREADS") or 0)
    except ValueError:
        threads = 0
    if threads > 0:
        stream.thread_count = threads


def iter_frames(
    path: str | Path, stream_index: int, start_time_s: float = 0.0, decoder_options: dict | None = None
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """``(index, time_s, frame)`` for every frame of one stream, unconverted, in the order the decoder
    emits them. This is the project's one definition of "frame *i*" and its time: ``time_s`` is the
    frame's pts relative to ``start_time_s`` (from :func:`probe`), or one nominal interval after the
    previous frame when a frame has no pts. ``decoder_options`` are libavcodec options for this decode
    (e.g. :data:`ANALYSIS_DECODE`). Raises :class:`DecodeError` naming where the bitstream broke.
    """
    container = open_container(path)
    try:
        stream = container.streams[stream_index]
        use_decoder_threads(stream)
        if decoder_options:
            stream.codec_context.options = dict(decoder_options)
        tb = float(stream.time_base or Fraction(1, 1000))
        rate = float(stream.average_rate or 25)
        index = 0
        last_time = -math.inf
        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    t = frame.pts * tb - start_time_s
                else:  # no timestamp: one nominal interval after the previous frame
                    t = (last_time + 1.0 / rate) if index else 0.0
                last_time = t
                yield index, round(t, 6), frame
                index += 1
        except av.error.FFmpegError as exc:
            raise DecodeError(f"bitstream broke after frame {index}: {exc}") from exc
    finally:
        container.close()


# Decoder options for analysis-only decodes (the scene pass): skip the in-loop deblocking filter on
# frames no other frame references. Reference frames stay exact, so nothing drifts through the GOP,
# and the frames we see keep the cuts they had: skipping it on every frame ("all") saved more but
# moved cuts (new false cuts on cockatoo, kinetic type and Big Buck Bunny), which "noref" does not.
ANALYSIS_DECODE = {"skip_loop_filter": "noref"}


def decode_frames(
    path: str | Path,
    stream_index: int,
    size: tuple[int, int] | None,
    start_time_s: float = 0.0,
    interpolation: str = "AREA",
    decoder_options: dict | None = None,
) -> Iterator[DecodedFrame]:
    """Every frame of one stream (see :func:`iter_frames`), scaled to ``size`` (w, h) by libswscale and
    converted to BGR in one step."""
    # One reformatter for the whole stream: it keeps its libswscale context between frames instead of
    # building a new one per frame.
    reformatter = VideoReformatter()
    for index, t, frame in iter_frames(path, stream_index, start_time_s, decoder_options):
        if size is None:
            image = frame.to_ndarray(format="bgr24")
        else:
            image = reformatter.reformat(frame, width=size[0], height=size[1], format="bgr24",
                                         interpolation=interpolation).to_ndarray()
        yield DecodedFrame(index, t, image)
