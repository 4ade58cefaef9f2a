"""Building blocks of the export tests: a clip row over known frame times and a small H.264 file with short GOPs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def clip_span(times: list[float], a: int, b: int) -> dict:
    """The frame and time fields of a clip covering frames ``[a, b)`` of a video whose frame times are ``times``."""
    end_s = times[b] if b < len(times) else times[-1] + (times[-1] - times[-2])
    return {"start_frame": a, "end_frame": b, "start_s": times[a], "end_s": round(end_s, 6)}


def render_gop10(path: Path, n: int = 60) -> Path:
    """H.264 with a keyframe every 10 frames and no B-frames (so packets are in presentation order)."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.gop_size, s.max_b_frames = 10, 0
        s.options = {"crf": "20", "sc_threshold": "0"}
        for i in range(n):
            img = np.full((96, 160, 3), 30, np.uint8)
            img[:, (i * 7) % 140:(i * 7) % 140 + 20] = 255  # a moving bar: every frame differs
            img[i % 96, :] = 120
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    return path
