"""Copies of real footage that sha256 cannot match: PyAV stream-copy remuxes (same packets, new container
metadata) and re-encodes (libx264 at another CRF and size). Used by the near-duplicate tests and
benchmarks/near_duplicate_distances.py; written to temporary folders, never into the project."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av


def _video_stream(container):
    return max(container.streams.video, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))


def remux(src: Path, dst: Path, comment: str) -> Path:
    """Stream-copy the video stream into a new container with a different ``comment`` tag."""
    with av.open(str(src), metadata_errors="ignore") as inp, av.open(str(dst), "w") as out:
        out.metadata["comment"] = comment
        ist = _video_stream(inp)
        ost = out.add_stream_from_template(ist)
        for packet in inp.demux(ist):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = ost
            out.mux(packet)
    return dst


def reencode(src: Path, dst: Path, crf: int, width: int) -> Path:
    """Decode every frame and encode it again with libx264 at ``crf``, scaled to ``width`` (even height),
    frame for frame at the source's average rate."""
    with av.open(str(src), metadata_errors="ignore") as inp, av.open(str(dst), "w") as out:
        ist = _video_stream(inp)
        rate = ist.average_rate
        height = round(ist.codec_context.height * width / ist.codec_context.width / 2) * 2
        ost = out.add_stream("libx264", rate=rate)
        ost.width, ost.height, ost.pix_fmt = width, height, "yuv420p"
        ost.options = {"crf": str(crf), "preset": "ultrafast"}
        tb = Fraction(1, 1) / rate
        ost.time_base = tb
        for i, frame in enumerate(inp.decode(ist)):
            frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts, frame.time_base = i, tb
            for packet in ost.encode(frame):
                out.mux(packet)
        for packet in ost.encode():
            out.mux(packet)
    return dst
