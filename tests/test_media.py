"""PyAV probing against ffprobe ground truth, and every bad-input / unusual file."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from vidgen_dagster.core.common import media as vm
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.errors import DecodeError, GeometryError, VideoOpenError
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

GOOD = [
    "badinput_startoffset__pyscenedetect_delayed_start.mp4",
    "badinput_unorderedpts__decord_unordered.mov",
    "bw_oldfilm__moviepy_chaplin.mp4",
    "cuts_anamorphic__pyscenedetect_issue-195-aspect-ratio.mp4",
    "cuts_fades__pyscenedetect_testvideo.mp4",
    "cuts_rotated__pyscenedetect_issue-134-rotate.mp4",
    "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4",
    "dark_static_noduration__moviepy_no_duration.webm",
    "dim_handheld__decord_flipping_a_pancake.mkv",
    "hd_30s__moviepy_big_buck_bunny_0_30.webm",
    "motion_blurry_vfr__moviepy_fire2.mp4",
    "static_long__intel_one-by-one-person-detection.mp4",
    "synthetic_fades__pyscenedetect_fades.mp4",
    "unusual_gif__imageio_newtonscradle.gif",
    "unusual_swf__imageio_stent.swf",
]


@pytest.mark.parametrize("name", GOOD, ids=lambda n: n.split("__")[0])
def test_probe_matches_ffprobe(media, probe_truth, name):
    truth = probe_truth[name]
    p = vm.probe(media / name)
    assert p.frame_count == truth["decoded_frames"]
    assert (p.width, p.height) == (truth["width"], truth["height"])
    assert p.rotation == (truth["rotation"] or 0)
    assert p.codec == truth["vcodec"]
    if truth["duration"]:
        # ffprobe's container duration may include audio, padding or (edit lists) the start offset.
        tol = max(2.5 / p.fps, 0.12)
        span = float(truth["duration"])
        assert abs(p.duration_s - span) <= tol or abs(p.start_time_s + p.duration_s - span) <= tol
    assert p.duration_s > 0 and p.fps > 0
    assert vm.sha256_file(media / name) == truth["sha256"]


def test_vfr_file_is_detected_with_real_rate(media):
    p = vm.probe(media / "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4")
    assert p.vfr
    assert p.fps_nominal == pytest.approx(23.976, abs=0.01)
    assert p.fps == pytest.approx(160 / 9.969, abs=0.1)  # 160 frames over the real span, not 23.976
    cfr = vm.probe(media / "cuts_fades__pyscenedetect_testvideo.mp4")
    assert not cfr.vfr


def test_start_offset_is_recorded(media):
    p = vm.probe(media / "badinput_startoffset__pyscenedetect_delayed_start.mp4")
    assert p.start_time_s == pytest.approx(1.075, abs=0.001)
    frames = list(vm.decode_frames(media / "badinput_startoffset__pyscenedetect_delayed_start.mp4",
                                      p.stream_index, (32, 32), p.start_time_s))
    assert frames[0].time_s == 0.0 and len(frames) == 24


def test_multistream_picks_largest_stream_with_true_timestamps(media):
    name = "dark_multistream__torchcodec_nasa_13013.mp4"
    p = vm.probe(media / name)
    assert p.video_streams == 2 and p.streams > 2
    assert (p.width, p.height) == (480, 270) and p.stream_index == 3
    truth = json.loads((media / "groundtruth" / "torchcodec_nasa_13013.mp4.stream3.all_frames_info.json").read_text())
    assert p.frame_count == len(truth)
    times = [f.time_s for f in vm.decode_frames(media / name, 3, (64, 36), p.start_time_s)]
    expected = sorted(float(f["pts_time"]) for f in truth)
    assert len(times) == len(expected)
    assert max(abs(a - (b - expected[0])) for a, b in zip(times, expected, strict=True)) < 1e-3


def test_anamorphic_analysis_size_uses_sample_aspect_ratio(media):
    p = vm.probe(media / "cuts_anamorphic__pyscenedetect_issue-195-aspect-ratio.mp4")
    assert p.sample_aspect_ratio == "16/11"
    w, h = vm.analysis_size(p.width, p.height, 144, p.sample_aspect_ratio)
    assert h == 144 and w == pytest.approx(144 * 704 * 16 / 11 / 576, abs=2)


def test_corrupt_file_probes_but_decode_fails_with_frame_index(media):
    path = media / "badinput_corrupt__decord_corrupted.mp4"
    p = vm.probe(path)
    with pytest.raises(DecodeError, match=r"after frame \d+"):
        for _ in vm.decode_frames(path, p.stream_index, (64, 36)):
            pass


def test_not_a_video_is_a_clear_open_error(tmp_path):
    bogus = tmp_path / "notes; 'quoted' ünïcode.mp4"
    bogus.write_text("this is not a video")
    with pytest.raises(VideoOpenError) as info:
        vm.probe(bogus)
    assert info.value.record().startswith("open_failed:")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoOpenError):
        vm.probe(empty)


def _strip_video(path, width: int, height: int, frames: int = 20) -> None:
    """A real lossless video of odd size (FFV1 allows any width), a grey ramp over time."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for i in range(frames):
            image = np.full((height, width, 3), 40 + 8 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_scaled_sizes_are_bounded_by_the_long_side_too():
    assert vm.analysis_size(1920, 1080, 144) == (256, 144)
    # A 3x4001 strip used to become 144x192048 for scene detection; now its long side is capped.
    assert vm.analysis_size(3, 4001, 144) == (2, vm.MAX_LONG_OVER_SHORT * 144)
    assert vm.analysis_size(4001, 3, 320) == (vm.MAX_LONG_OVER_SHORT * 320, 2)
    w, h = vm.analysis_size(90, 720, 144)  # 8:1, allowed: the short side shrinks to keep the shape
    assert (w, h) == (72, 576)


def test_absurd_aspect_ratio_fails_the_video_with_a_typed_reason(tmp_path):
    strip, tall = tmp_path / "strip_3x4001.mkv", tmp_path / "tall_90x720.mkv"
    _strip_video(strip, 3, 4001)
    _strip_video(tall, 90, 720)
    store = Store(tmp_path / "home")
    (m,) = shardlib.register(store, [shardlib.FileEntry.of(p) for p in (strip, tall)], shard_size=2)
    ingest_videos.run_shard_manifest(store, m.shard)
    ingest_videos.run_videos(store, m.shard)
    scene_stages.run_scenes(store, m.shard, load_config())
    runs = {Path(v["path"]).name: v["video_id"] for v in store.rows("videos", m.shard)}
    by_id = {r["video_id"]: r for r in store.rows("scene_runs", m.shard)}
    failed, ok = by_id[runs["strip_3x4001.mkv"]], by_id[runs["tall_90x720.mkv"]]
    assert failed["status"] == "failed" and failed["error"].startswith(f"{GeometryError.code}:")
    assert ok["status"] == "ok" and (ok["analysis_width"], ok["analysis_height"]) == (72, 576)
    assert ok["frames_decoded"] == 20
