"""The one decode of every clip: sample the frames each scorer needs and keep them compactly.

For each clip we keep its first, middle and last frame (CLIP aesthetic / consistency / category,
OCR) and a few optical-flow pairs spread over the clip (motion). Frames are chosen by index from
the per-frame times the scene pass stored, so the plan needs no decoding; then each video is
decoded once, front to back, and only the planned frames are converted (scaled by libswscale
straight to the analysis size) and JPEG-encoded. Decoding stops after the last planned frame.

A flow pair's second frame is the first frame at least ``flow_gap_s`` after the first, so motion is
measured over about the same time at any frame rate; its real time difference is stored with it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from ..common.errors import DecodeError, EmptyVideoError
from ..common.media import iter_frames, open_container, use_decoder_threads

ROLE_FIRST, ROLE_MIDDLE, ROLE_LAST = "first", "middle", "last"


def pair_roles(k: int) -> tuple[str, str]:
    return f"pair{k}:a", f"pair{k}:b"


@dataclass(frozen=True)
class FrameSettings:
    short_side: int = 320
    flow_pairs: int = 3
    flow_gap_s: float = 0.066
    jpeg_quality: int = 92

    @classmethod
    def from_dict(cls, d: dict) -> FrameSettings:
        s = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        if s.short_side < 32 or s.flow_pairs < 0 or s.flow_gap_s < 0 or not 1 <= s.jpeg_quality <= 100:
            from ..common.errors import ConfigError

            raise ConfigError(f"invalid frames settings: {s}")
        return s


@dataclass
class ClipPlan:
    clip_id: str
    start_frame: int
    end_frame: int  # exclusive
    roles: dict[int, list[str]] = field(default_factory=dict)  # frame index -> roles


def plan_clip(clip_id: str, start: int, end: int, times: list[float], settings: FrameSettings) -> ClipPlan:
    """Which frames of ``[start, end)`` to keep, and for what."""
    plan = ClipPlan(clip_id, start, end)

    def add(index: int, role: str) -> None:
        plan.roles.setdefault(index, []).append(role)

    last = end - 1
    add(start, ROLE_FIRST)
    add((start + last) // 2, ROLE_MIDDLE)
    add(last, ROLE_LAST)
    n = settings.flow_pairs
    for k in range(n):
        a = start + int((k + 0.5) / n * (last - start))  # k = (n-1)/2 lands on the middle frame
        a = min(a, last - 1)
        if a < start:  # a one-frame clip has no pair
            break
        # First frame at least flow_gap_s later (times are sorted, presentation order).
        b = bisect.bisect_left(times, times[a] + settings.flow_gap_s - 1e-6, lo=a + 1, hi=end)
        b = min(max(b, a + 1), last)
        ra, rb = pair_roles(k)
        add(a, ra)
        add(b, rb)
    return plan


@dataclass(frozen=True)
class KeptFrame:
    clip_id: str
    frame_index: int
    time_s: float
    roles: list[str]
    width: int
    height: int
    jpeg: bytes


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes from the ``frames`` table → HxWx3 uint8 BGR."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("stored frame is not a decodable JPEG")
    return image


class _Fallback(Exception):
    """The stream does not allow GOP skipping (open GOPs, missing timestamps): decode it all."""


def sample_video(
    path: str,
    stream_index: int,
    start_time_s: float,
    size: tuple[int, int],
    plans: Iterable[ClipPlan],
    settings: FrameSettings,
    frame_times: list[float] | None = None,
) -> list[KeptFrame]:
    """Decode ``path`` once and return the planned frames as JPEG.

    With ``frame_times`` (the scene pass's time of every frame), only the GOPs that hold a planned
    frame are decoded: packets are demuxed (cheap) and a GOP — a keyframe and the packets up to the
    next one — is sent to the decoder only when a planned frame's time falls inside it. That is
    exact for closed GOPs; a stream with open GOPs (frames shown before their keyframe) or without
    timestamps is decoded front to back instead. Both paths stop after the last planned frame.

    Raises :class:`DecodeError` (naming the frame) when the bitstream breaks.
    """
    wanted: dict[int, list[tuple[str, list[str]]]] = {}
    for plan in plans:
        for index, roles in plan.roles.items():
            wanted.setdefault(index, []).append((plan.clip_id, roles))
    if not wanted:
        return []
    if frame_times is not None and max(wanted) < len(frame_times):
        try:
            return _sample_gops(path, stream_index, start_time_s, size, wanted, frame_times, settings)
        except _Fallback:
            pass
    return list(_sample_sequential(path, stream_index, start_time_s, size, wanted, settings))


def _keep(frame, index: int, t: float, size, wanted, settings) -> list[KeptFrame]:
    image = frame.to_ndarray(format="bgr24", width=size[0], height=size[1], interpolation="AREA")
    jpeg = encode_jpeg(image, settings.jpeg_quality)
    return [KeptFrame(cid, index, round(t, 6), list(roles), size[0], size[1], jpeg)
            for cid, roles in wanted[index]]


def _sample_gops(path, stream_index, start_time_s, size, wanted, frame_times, settings) -> list[KeptFrame]:
    by_time = {round(frame_times[i], 6): i for i in wanted}
    targets = sorted(by_time)
    container = open_container(path)
    out: list[KeptFrame] = []
    found: set[int] = set()
    try:
        stream = container.streams[stream_index]
        use_decoder_threads(stream)
        codec = stream.codec_context
        tb = float(stream.time_base or 0)
        if not tb:
            raise _Fallback()

        def handle(frames) -> None:
            for frame in frames:
                if frame.pts is None:
                    raise _Fallback()
                t = round(frame.pts * tb - start_time_s, 6)
                index = by_time.get(t)
                if index is not None and index not in found:
                    found.add(index)
                    out.extend(_keep(frame, index, t, size, wanted, settings))

        def pending() -> bool:  # a planned frame of the GOP so far is not out of the decoder yet
            lo = bisect.bisect_left(targets, gop_start - 1e-6)
            hi = bisect.bisect_right(targets, gop_max + 1e-6)
            return any(by_time[targets[k]] not in found for k in range(lo, hi))

        # Packets of the current GOP are buffered and fed to the decoder, in order from its keyframe, only
        # while a planned frame in it is still to come out; the GOP's tail after its last planned frame is
        # never decoded. A GOP fed to its end leaves the decoder ready for the next (no flush in between).
        unfed: list = []
        gop_start = gop_max = 0.0
        live = False  # the decoder holds what was fed since its last flush
        started = False  # a stream that does not open on a keyframe starts a GOP at its first packet too

        def feed() -> None:
            nonlocal unfed, live
            if not live:
                codec.flush_buffers()
            for p in unfed:
                # A frame no other frame references and nobody asked for need not be decoded at all.
                mode = "DEFAULT" if round(p.pts * tb - start_time_s, 6) in by_time else "NONREF"
                if codec.skip_frame != mode:
                    codec.skip_frame = mode
                handle(codec.decode(p))
            unfed, live = [], True

        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    raise _Fallback()
                t = packet.pts * tb - start_time_s
                if packet.is_keyframe or not started:
                    if unfed and live:  # the last GOP's tail was skipped: drain what was fed, then reset
                        handle(codec.decode(None))
                        codec.flush_buffers()
                        live = False
                    if len(found) == len(wanted):
                        break
                    unfed, started = [], True
                    gop_start = gop_max = t
                elif t < gop_start - 1e-6:
                    raise _Fallback()  # open GOP: a frame shown before its keyframe
                gop_max = max(gop_max, t)
                unfed.append(packet)
                if pending() or len(unfed) > 600:  # (or too long to buffer)
                    feed()
            if unfed and pending():
                feed()
            if live and len(found) < len(wanted):
                handle(codec.decode(None))
        except av.error.FFmpegError as exc:
            raise DecodeError(f"bitstream broke near {len(found)} kept frames: {exc}") from exc
    finally:
        container.close()
    if len(found) < len(wanted):
        raise _Fallback()  # timestamps did not line up with the scene pass: decode it all
    return out


def _sample_sequential(path, stream_index, start_time_s, size, wanted, settings) -> Iterator[KeptFrame]:
    last_wanted = max(wanted)
    index = -1
    for index, t, frame in iter_frames(path, stream_index, start_time_s):
        if index in wanted:
            yield from _keep(frame, index, t, size, wanted, settings)
        if index >= last_wanted:
            return
    if index < 0:
        raise EmptyVideoError("no frame decoded")
    raise DecodeError(f"stream ended after {index + 1} frames, before planned frame {last_wanted}")
