"""Frame-exact clip cutting with PyAV for the dataset export.

Cutting (:func:`cut_clip`)
    A clip is the frames ``[start_frame, end_frame)`` of one video stream, numbered in decoder output
    (presentation) order from the stream's first frame, exactly as :func:`media.iter_frames` numbers
    them; ``start_s``/``end_s`` are those frames' times relative to the stream's first timestamp.

    * **copy** (packets remuxed untouched) only where that is provably frame-exact and yields the same
      picture a re-encode would: codec in :data:`COPY_CODECS`, 8-bit 4:2:0, the decoder has no reorder
      delay (``has_b_frames == 0``) and every packet of the clip has ``pts == dts`` with increasing
      timestamps (so packet order is presentation order and packet *i* is frame *i*), the clip's first
      packet is a keyframe whose time is the clip's ``start_s``, no rotation metadata, square pixels, even
      dimensions and no downscale requested. The copy is then decoded and must hold exactly the clip's
      frame count, otherwise the clip is re-encoded.
    * **reencode** otherwise: seek to the keyframe before the clip, decode forward, keep the frame whose
      time is ``start_s`` and the ``end_frame - start_frame - 1`` frames after it (checked against
      ``end_s``). If timestamps are missing or do not line up, the stream is decoded from its start and
      frames are picked by index, the definition itself. Frames pass through one libavfilter graph
      (SAR → square pixels by scaling the width, optional downscale to ``max_short_side``, rotation
      metadata applied with ``transpose``/``hflip,vflip``, even dimensions, ``yuv420p``) and are encoded
      with libx264 (``crf``, ``preset``) keeping the source's real timestamps, so VFR stays VFR.
    * Audio, subtitles and data streams are dropped: the training clips are video-only (the captions
      describe the picture; VidGen-1M ships silent clips).
    * Output is written to a hidden temporary name, decoded to verify the frame count (and that the
      timestamp span matches the source), then renamed into place: a killed run never leaves a
      half-written clip under the final name.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.frame import PictureType

from ..common.errors import ExportError
from ..common.media import iter_frames, open_container, use_decoder_threads

CUT_VERSION = 1  # bump when the cut's output for the same inputs would change
COPY_CODECS = frozenset({"h264", "hevc"})
COPY_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
# Times are stored rounded to 6 decimals; two roundings may differ by one unit.
_TIME_EPS = 2.5e-6
# When the seek lands after the clip's first frame, retry this much earlier before decoding it all.
_SEEK_RETRY_S = 5.0


@dataclass(frozen=True)
class CutInfo:
    num_frames: int
    width: int
    height: int
    fps: float  # num_frames / duration_s, 3 decimals (average rate, like probe's fps)
    duration_s: float  # presentation span of the clip: start_s to end_s of the source
    method: str  # copy | reencode


class _Mismatch(Exception):
    """Timestamps did not identify the clip's frames on this path: try a safer one."""


# -- geometry ----------------------------------------------------------------------------------


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def _sar(stream) -> Fraction:
    for value in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if value and value.numerator > 0 and value.denominator > 0:
            return Fraction(value.numerator, value.denominator)
    return Fraction(1)


def _quarter_turns(rotation: float) -> int:
    """Display-matrix rotation (degrees counter-clockwise) → 0..3 quarter turns counter-clockwise."""
    return int(round((rotation or 0) / 90.0)) % 4


@dataclass(frozen=True)
class _Geometry:
    scale: tuple[int, int] | None  # scale the coded picture to (w, h) (SAR / downscale)
    crop: tuple[int, int] | None  # or crop it to (w, h) (odd dimensions only)
    turns: int  # quarter turns counter-clockwise applied after scaling
    width: int  # final upright size
    height: int

    @property
    def identity(self) -> bool:
        return self.scale is None and self.crop is None and self.turns == 0


def output_geometry(width: int, height: int, sar: Fraction, rotation: float,
                    max_short_side: int | None) -> _Geometry:
    """Upright, square-pixel, even-sized output size for a coded ``width`` x ``height`` picture."""
    display_w = width * float(sar) if sar > 0 else float(width)
    factor = 1.0
    if max_short_side and min(display_w, height) > max_short_side:
        factor = max_short_side / min(display_w, height)
    scale = crop = None
    if sar != 1 or factor != 1.0:
        w, h = _even(display_w * factor), _even(height * factor)
        scale = (w, h)
    elif width % 2 or height % 2:
        w, h = max(2, width - width % 2), max(2, height - height % 2)
        crop = (w, h)
    else:
        w, h = width, height
    turns = _quarter_turns(rotation)
    if turns % 2:
        w, h = h, w
    return _Geometry(scale, crop, turns, w, h)


def _build_graph(frame, tb: Fraction, geo: _Geometry):
    graph = av.filter.Graph()
    nodes = [graph.add(
        "buffer",
        f"video_size={frame.width}x{frame.height}:pix_fmt={frame.format.name}"
        f":time_base={tb.numerator}/{tb.denominator}:pixel_aspect=1/1",
    )]
    if geo.scale:
        nodes.append(graph.add("scale", f"{geo.scale[0]}:{geo.scale[1]}:flags=bicubic"))
    elif geo.crop:
        nodes.append(graph.add("crop", f"{geo.crop[0]}:{geo.crop[1]}:0:0"))
    if geo.turns == 1:
        nodes.append(graph.add("transpose", "cclock"))
    elif geo.turns == 3:
        nodes.append(graph.add("transpose", "clock"))
    elif geo.turns == 2:
        nodes.append(graph.add("hflip"))
        nodes.append(graph.add("vflip"))
    nodes.append(graph.add("setsar", "1"))
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


# -- cutting -----------------------------------------------------------------------------------


def _clip_fields(clip: dict) -> tuple[int, int, float, float]:
    try:
        start, end = int(clip["start_frame"]), int(clip["end_frame"])
        start_s, end_s = float(clip["start_s"]), float(clip["end_s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"clip row lacks start_frame/end_frame/start_s/end_s: {exc}") from exc
    if start < 0 or end <= start:
        raise ExportError(f"empty or negative frame range [{start}, {end})")
    return start, end, start_s, end_s


def temp_name(out_path: Path, tag: str | None = None) -> Path:
    """Hidden temporary name next to ``out_path``; ``tag`` (12 hex, the export id's head) marks it as one
    export's own, so only that export ever sweeps it."""
    return out_path.with_name(f".{out_path.name}.{tag or uuid.uuid4().hex[:12]}.tmp")


def tmp_pattern(tag: str) -> re.Pattern:
    """Names :func:`temp_name` gives with ``tag``."""
    return re.compile(rf"^\..+\.{re.escape(tag)}\.tmp$")


def remove_if_present(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _rate(stream) -> Fraction:
    for r in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if r and r > 0:
            return Fraction(r.numerator, r.denominator).limit_denominator(1_000_000)
    return Fraction(25)


def _copy_packets(container, stream, start_time_s: float, start_s: float, end_s: float, n: int) -> list | None:
    """The clip's packets when a stream copy is frame-exact, else None."""
    tb = stream.time_base
    if not tb:
        return None
    target = int(math.floor((start_s + start_time_s) / float(tb)))
    picked: list = []
    try:
        container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None or packet.dts is None or packet.pts != packet.dts:
                return None  # reordered or untimed: packet order may not be frame order
            t = round(packet.pts * float(tb) - start_time_s, 6)
            if not picked:
                if t < start_s - _TIME_EPS:
                    continue
                if abs(t - start_s) > _TIME_EPS or not packet.is_keyframe:
                    return None  # the clip does not start on a keyframe (or the seek overshot)
            elif packet.pts <= picked[-1].pts or t >= end_s - _TIME_EPS:
                return None
            picked.append(packet)
            if len(picked) == n:
                return picked
    except av.error.FFmpegError:
        return None
    return None  # stream ended before the clip did


def _source_frames_seek(container, stream, start_time_s: float, start_s: float, end_s: float,
                        n: int, margin_s: float) -> Iterator[tuple[Any, float]]:
    """(frame, time) of the clip via seek + timestamp match. Raises _Mismatch before or while yielding."""
    tb = stream.time_base
    if not tb:
        raise _Mismatch("no time base")
    ftb = float(tb)
    target = int(math.floor((start_s - margin_s + start_time_s) / ftb))
    container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
    stream.codec_context.flush_buffers()
    taken = 0
    last_pts = None
    for frame in container.decode(stream):
        if frame.pts is None:
            raise _Mismatch("frame without timestamp")
        t = round(frame.pts * ftb - start_time_s, 6)
        if taken == 0:
            if t < start_s - _TIME_EPS:
                continue
            if abs(t - start_s) > _TIME_EPS:
                raise _Mismatch(f"first frame after seek at {t:.6f}s, clip starts at {start_s:.6f}s")
        elif frame.pts <= last_pts or t >= end_s - _TIME_EPS:
            raise _Mismatch("timestamps out of order or clip ended early")
        last_pts = frame.pts
        yield frame, t
        taken += 1
        if taken == n:
            return
    raise _Mismatch(f"stream ended after {taken} of {n} frames")


def _source_frames_sequential(path, stream_index: int, start_time_s: float, start: int, end: int,
                              start_s: float) -> Iterator[tuple[Any, float]]:
    """(frame, time) of frames [start, end) by decode index from the stream's start (the definition,
    :func:`~vidgen_dagster.core.media.iter_frames`)."""
    index = -1
    for index, t, frame in iter_frames(path, stream_index, start_time_s):
        if index == start and frame.pts is not None and abs(t - start_s) > _TIME_EPS:
            raise ExportError(
                f"frame {start} is at {t:.6f}s but the clip says {start_s:.6f}s: "
                "the source changed since the scene pass?")
        if index >= start:
            yield frame, t
        if index + 1 >= end:
            return
    raise ExportError(f"stream ended after {index + 1} frames, clip needs frames up to {end}")


def _write_copy(out_path: Path, stream, packets: list) -> None:
    out = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        ost = out.add_stream_from_template(stream)
        base = packets[0].pts
        for packet in packets:
            packet.pts -= base
            packet.dts -= base
            packet.stream = ost
            out.mux(packet)
    finally:
        out.close()


def _write_reencode(out_path: Path, frames: Iterable[tuple[Any, float]], tb: Fraction, rate: Fraction,
                    geo: _Geometry, crf: int, preset: str, end_s: float) -> list[float]:
    """Encode ``frames`` with their source timestamps (rebased to 0); returns the source times used."""
    out = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"})
    times: list[float] = []
    try:
        ost = out.add_stream("libx264", rate=rate)
        ost.width, ost.height, ost.pix_fmt = geo.width, geo.height, "yuv420p"
        ost.codec_context.time_base = tb
        ost.time_base = tb
        ost.options = {"crf": str(crf), "preset": preset}
        graph = None
        first_pts = prev_pts = None
        pending = None  # one frame held back so its duration (next pts - pts) is known

        def encode(frame) -> None:
            graph.push(frame)
            while True:
                try:
                    filtered = graph.pull()
                except (BlockingIOError, av.error.EOFError):
                    break
                filtered.pict_type = PictureType.NONE  # let x264 choose frame types
                for pkt in ost.encode(filtered):
                    out.mux(pkt)

        for frame, t in frames:
            if graph is None:
                graph = _build_graph(frame, tb, geo)
            pts = frame.pts if frame.pts is not None else round(t / float(tb))
            if first_pts is None:
                first_pts = pts
            pts -= first_pts
            if prev_pts is not None and pts <= prev_pts:
                pts = prev_pts + 1
            frame.pts, frame.time_base = pts, tb
            if pending is not None:
                pending.duration = pts - pending.pts
                encode(pending)
            pending, prev_pts = frame, pts
            times.append(t)
        if pending is not None:
            tail = round((end_s - times[-1]) / float(tb))
            if tail > 0:
                pending.duration = tail
            encode(pending)
        for pkt in ost.encode(None):
            out.mux(pkt)
    finally:
        out.close()
    return times


def _verify(out_path: Path) -> tuple[int, int, int, list[float]]:
    """Decode the written file: (frames, width, height, frame times relative to the first)."""
    container = open_container(out_path)
    try:
        stream = container.streams.video[0]
        use_decoder_threads(stream)
        ftb = float(stream.time_base or Fraction(1, 1000))
        count, width, height, pts = 0, 0, 0, []
        for frame in container.decode(stream):
            if count == 0:
                width, height = frame.width, frame.height
                if _quarter_turns(frame.rotation):
                    width, height = height, width
            if frame.pts is not None:
                pts.append(frame.pts * ftb)
            count += 1
    except av.error.FFmpegError as exc:
        raise ExportError(f"written clip does not decode: {exc}") from exc
    finally:
        container.close()
    first = pts[0] if pts else 0.0
    return count, width, height, [p - first for p in pts]


def cut_clip(
    src_path: str | os.PathLike,
    stream_index: int,
    start_time_s: float,
    clip: dict,
    out_path: str | os.PathLike,
    *,
    crf: int = 18,
    preset: str = "veryfast",
    max_short_side: int | None = None,
    allow_copy: bool = True,
    tmp_tag: str | None = None,
    commit: Callable[[Path, Path, CutInfo], None] | None = None,
) -> CutInfo:
    """Cut frames ``[clip.start_frame, clip.end_frame)`` of one stream into an MP4 at ``out_path``.

    ``clip`` is a ``clips`` row (``start_frame``, ``end_frame``, ``start_s``, ``end_s``); ``start_time_s``
    the stream's first timestamp (``videos.start_time_s``). See the module docstring for the copy /
    re-encode rules. Raises :class:`ExportError` when the frames cannot be cut exactly.
    ``tmp_tag`` names the temporary file (see :func:`temp_name`); ``commit(tmp, out_path, info)``, when
    given, moves the verified file into place instead of a plain rename (the export records the file's
    hash first, so a killed export still knows the file is its own).
    """
    start, end, start_s, end_s = _clip_fields(clip)
    n = end - start
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out_path, tmp_tag)
    container = open_container(src_path)
    try:
        stream = container.streams[stream_index]
        use_decoder_threads(stream)
        cc = stream.codec_context
        tb = Fraction(stream.time_base.numerator, stream.time_base.denominator) if stream.time_base else None
        rotation = _first_rotation(container, stream)
        geo = output_geometry(cc.width, cc.height, _sar(stream), rotation, max_short_side)
        method = "reencode"
        if (allow_copy and geo.identity and cc.name in COPY_CODECS and not cc.has_b_frames
                and (cc.format.name if cc.format else "") in COPY_PIX_FMTS):
            packets = _copy_packets(container, stream, start_time_s, start_s, end_s, n)
            if packets is not None:
                try:
                    _write_copy(tmp, stream, packets)
                    got, width, height, _ = _verify(tmp)
                    if got == n:
                        method = "copy"
                except (av.error.FFmpegError, ExportError):
                    pass
                if method != "copy":
                    remove_if_present(tmp)
        if method == "reencode":
            times = _reencode_any(container, stream, src_path, stream_index, start_time_s, start, end,
                                  start_s, end_s, tmp, tb, geo, crf, preset)
            got, width, height, out_times = _verify(tmp)
            if got != n:
                raise ExportError(f"cut holds {got} frames, clip has {n} (frames [{start}, {end}))")
            src_span = times[-1] - times[0]
            out_span = out_times[-1] - out_times[0] if out_times else 0.0
            if abs(out_span - src_span) > max(2 * float(tb or 0), 1e-3):
                raise ExportError(f"cut spans {out_span:.6f}s, source frames span {src_span:.6f}s")
        duration = round(end_s - start_s, 6)
        fps = round(n / duration, 3) if duration > 0 else 0.0
        info = CutInfo(n, width, height, fps, duration, method)
        if commit is None:
            os.replace(tmp, out_path)
        else:
            commit(tmp, out_path, info)
    except BaseException:
        remove_if_present(tmp)
        raise
    finally:
        container.close()
    return info


def _first_rotation(container, stream) -> int:
    """Rotation of the stream's first decodable frame (display matrix side data), 0 when absent."""
    try:
        for frame in container.decode(stream):
            return int(frame.rotation or 0)
    except av.error.FFmpegError:
        return 0
    finally:
        try:
            container.seek(0, stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            pass  # the paths after this one seek themselves or reopen the file
        stream.codec_context.flush_buffers()
    return 0


def _reencode_any(container, stream, src_path, stream_index, start_time_s, start, end, start_s, end_s,
                  tmp, tb, geo, crf, preset) -> list[float]:
    """Re-encode via seek + timestamps; on a mismatch retry earlier, then by index from the start."""
    n = end - start
    rate = _rate(stream)
    if tb is not None:
        for margin in (0.0, _SEEK_RETRY_S):
            try:
                frames = _source_frames_seek(container, stream, start_time_s, start_s, end_s, n, margin)
                return _write_reencode(tmp, frames, tb, rate, geo, crf, preset, end_s)
            except _Mismatch:
                remove_if_present(tmp)
            except av.error.FFmpegError:
                remove_if_present(tmp)  # e.g. a seek the demuxer cannot do: the sequential path decides
                break
    tb = tb or Fraction(1, 1000)
    try:
        frames = _source_frames_sequential(src_path, stream_index, start_time_s, start, end, start_s)
        return _write_reencode(tmp, frames, tb, rate, geo, crf, preset, end_s)
    except av.error.FFmpegError as exc:
        raise ExportError(f"decoding frames [{start}, {end}) failed: {exc}") from exc


# -- export ------------------------------------------------------------------------------------


