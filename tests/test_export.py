"""Dataset export: frame-exact cuts (copy vs re-encode), upright square-pixel output, and the four formats.

Everything runs real PyAV on real files: the shared footage (VFR, rotated, anamorphic, a B-frame-free
MKV) and one H.264 file rendered here with a fixed GOP and no B-frames.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from export_helpers import clip_span, render_gop10

from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.errors import ExportError
from vidgen_dagster.core.common.media import decode_frames, probe
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.dataset.cutting import cut_clip, output_geometry
from vidgen_dagster.core.dataset.export import export_dataset, wds_key
from vidgen_dagster.core.dataset.export_schema import FIELD_NAMES, OPENSORA_COLUMNS
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages

VFR = "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4"
ROTATED = "cuts_rotated__pyscenedetect_issue-134-rotate.mp4"
ANAMORPHIC = "cuts_anamorphic__pyscenedetect_issue-195-aspect-ratio.mp4"
NO_BFRAMES_MKV = "dim_handheld__decord_flipping_a_pancake.mkv"  # H.264 Main, keyframes at 0, 150, 300


def _source(path: Path, size=(96, 96)):
    """Probe, plus every frame's time and a small grey thumbnail (upright), indexed like the scene pass."""
    pr = probe(path)
    turns = int(round(pr.rotation / 90)) % 4
    times, thumbs = [], []
    for f in decode_frames(path, pr.stream_index, None, pr.start_time_s):
        times.append(f.time_s)
        thumbs.append(_thumb(np.rot90(f.image, turns), size))
    return pr, times, thumbs


def _thumb(image: np.ndarray, size=(96, 96)) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)




def _decode_out(path: Path):
    """(frames as BGR arrays, times relative to the first frame, stream SAR) of an exported clip."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames, pts = [], []
        for f in c.decode(s):
            frames.append(f.to_ndarray(format="bgr24"))
            pts.append(float(f.pts * s.time_base))
        sar = s.sample_aspect_ratio
    return frames, [p - pts[0] for p in pts], sar


def _nearest(thumbs: list[np.ndarray], image: np.ndarray, around: int) -> int:
    """Which source frame (of the five around ``around``) the output frame shows."""
    t = _thumb(image)
    cands = [i for i in range(around - 2, around + 3) if 0 <= i < len(thumbs)]
    return min(cands, key=lambda i: float(np.mean((thumbs[i] - t) ** 2)))




# -- cutting -----------------------------------------------------------------------------------


def test_vfr_cut_is_frame_exact_and_keeps_real_timestamps(media, tmp_path):
    path = media / VFR
    pr, times, thumbs = _source(path)
    assert pr.vfr
    a, b = 63, 93  # not a keyframe (0, 60, 140), B-frames: re-encoded
    info = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, a, b), tmp_path / "vfr.mp4")
    assert info.method == "reencode" and info.num_frames == b - a
    frames, rel, sar = _decode_out(tmp_path / "vfr.mp4")
    assert len(frames) == b - a
    assert (info.width, info.height) == (frames[0].shape[1], frames[0].shape[0]) == (1280, 544)
    # The 1-2-1-2 frame intervals of the source survive (no CFR resampling, no dropped/duplicated frames).
    np.testing.assert_allclose(rel, np.asarray(times[a:b]) - times[a], atol=1e-4)
    assert len({round(d, 3) for d in np.diff(rel)}) == 2
    # The first and last frames are the source's frames a and b-1, not a neighbour.
    assert _nearest(thumbs, frames[0], a) == a
    assert _nearest(thumbs, frames[-1], b - 1) == b - 1
    assert info.duration_s == pytest.approx(times[b] - times[a], abs=1e-6)


def test_rotated_cut_is_upright_and_exact(media, tmp_path):
    path = media / ROTATED
    pr, times, thumbs = _source(path)
    assert pr.rotation == -90 and (pr.width, pr.height) == (1280, 544)
    a, b = 91, 111
    info = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, a, b), tmp_path / "rot.mp4")
    frames, _, _ = _decode_out(tmp_path / "rot.mp4")
    assert len(frames) == info.num_frames == b - a
    assert (info.width, info.height) == (544, 1280) == (frames[0].shape[1], frames[0].shape[0])
    with av.open(str(tmp_path / "rot.mp4")) as c:  # rotated physically: no display matrix left to apply
        assert next(c.decode(video=0)).rotation == 0
    # Turned the way the display matrix says (clockwise for -90), not the other way.
    assert _nearest(thumbs, frames[0], a) == a and _nearest(thumbs, frames[-1], b - 1) == b - 1
    right = float(np.mean((thumbs[a] - _thumb(frames[0])) ** 2))
    wrong = float(np.mean((thumbs[a] - _thumb(np.rot90(frames[0], 2))) ** 2))  # the other quarter turn
    assert right < 0.5 * wrong
    # A clip starting on a keyframe of this B-frame-free stream is still re-encoded: copying would
    # leave the picture sideways (rotation is only metadata in the source).
    info0 = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, 60, 70), tmp_path / "rot0.mp4")
    assert info0.method == "reencode" and (info0.width, info0.height) == (544, 1280)


def test_anamorphic_cut_has_square_pixels(media, tmp_path):
    path = media / ANAMORPHIC
    pr, times, thumbs = _source(path)
    assert pr.sample_aspect_ratio == "16/11" and (pr.width, pr.height) == (704, 576)
    a, b = 75, 95
    info = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, a, b), tmp_path / "ana.mp4")
    frames, _, sar = _decode_out(tmp_path / "ana.mp4")
    assert len(frames) == info.num_frames == b - a
    assert info.width == pytest.approx(704 * 16 / 11, abs=2) and info.height == 576
    assert frames[0].shape[:2] == (576, info.width)
    assert sar in (None, Fraction(1), Fraction(0))
    assert _nearest(thumbs, frames[0], a) == a and _nearest(thumbs, frames[-1], b - 1) == b - 1
    # max_short_side downscales keeping the display aspect ratio.
    small = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, a, b), tmp_path / "ana_s.mp4",
                     max_short_side=144)
    assert (small.width, small.height) == (256, 144) and small.num_frames == b - a


def test_keyframe_start_without_b_frames_is_stream_copied_and_exact(tmp_path):
    src = render_gop10(tmp_path / "gop10.mp4")
    pr = probe(src)
    frames = list(decode_frames(src, pr.stream_index, None, pr.start_time_s))
    times = [f.time_s for f in frames]
    info = cut_clip(src, 0, pr.start_time_s, clip_span(times, 10, 30), tmp_path / "copy.mp4")
    assert info.method == "copy" and info.num_frames == 20 and (info.width, info.height) == (160, 96)
    out = list(decode_frames(tmp_path / "copy.mp4", 0, None, 0.0))
    assert len(out) == 20 and all(np.array_equal(o.image, frames[10 + i].image) for i, o in enumerate(out))
    # One frame later is not a keyframe: re-encoded, still exactly those frames.
    info = cut_clip(src, 0, pr.start_time_s, clip_span(times, 11, 30), tmp_path / "re.mp4")
    out = list(decode_frames(tmp_path / "re.mp4", 0, None, 0.0))
    assert info.method == "reencode" and len(out) == 19
    assert [_nearest([_thumb(f.image) for f in frames], o.image, 11 + i) for i, o in enumerate(out)] == \
        list(range(11, 30))
    # A clip running to the last frame of the stream.
    info = cut_clip(src, 0, pr.start_time_s, clip_span(times, 50, 60), tmp_path / "tail.mp4")
    assert info.method == "copy" and len(list(decode_frames(tmp_path / "tail.mp4", 0, None, 0.0))) == 10
    # Copy can be turned off.
    info = cut_clip(src, 0, pr.start_time_s, clip_span(times, 10, 30), tmp_path / "nocopy.mp4", allow_copy=False)
    assert info.method == "reencode" and info.num_frames == 20


def test_real_mkv_keyframe_clip_is_copied_bit_exact(media, tmp_path):
    path = media / NO_BFRAMES_MKV
    pr = probe(path)
    src = list(decode_frames(path, pr.stream_index, None, pr.start_time_s))
    times = [f.time_s for f in src]
    info = cut_clip(path, pr.stream_index, pr.start_time_s, clip_span(times, 150, 190), tmp_path / "mkv.mp4")
    assert info.method == "copy" and info.num_frames == 40
    out = list(decode_frames(tmp_path / "mkv.mp4", 0, None, 0.0))
    assert len(out) == 40 and all(np.array_equal(o.image, src[150 + i].image) for i, o in enumerate(out))
    np.testing.assert_allclose([o.time_s for o in out], np.asarray(times[150:190]) - times[150], atol=1e-3)


def test_cut_refuses_a_clip_that_does_not_match_the_file(tmp_path):
    src = render_gop10(tmp_path / "gop10.mp4")
    pr = probe(src)
    times = [f.time_s for f in decode_frames(src, 0, (32, 32), pr.start_time_s)]
    bad = {**clip_span(times, 12, 20), "start_s": times[12] + 0.013}  # between two frames
    with pytest.raises(ExportError, match="source changed"):
        cut_clip(src, 0, pr.start_time_s, bad, tmp_path / "bad.mp4")
    with pytest.raises(ExportError, match="stream ended"):
        cut_clip(src, 0, pr.start_time_s, {"start_frame": 55, "end_frame": 70, "start_s": times[55],
                                            "end_s": 9.0}, tmp_path / "long.mp4")
    assert not list(tmp_path.glob("bad.mp4*")) and not list(tmp_path.glob(".*.tmp"))


def test_geometry_and_keys():
    g = output_geometry(1280, 544, Fraction(1), -90, None)
    assert (g.width, g.height, g.turns, g.scale, g.crop) == (544, 1280, 3, None, None)
    g = output_geometry(704, 576, Fraction(16, 11), 0, None)
    assert (g.width, g.height) == (1024, 576)
    g = output_geometry(451, 657, Fraction(1), 180, None)  # odd: cropped to even, not scaled
    assert (g.width, g.height, g.crop, g.turns) == (450, 656, (450, 656), 2)
    g = output_geometry(1920, 1080, Fraction(1), 90, 360)
    assert (g.width, g.height) == (360, 640)
    assert output_geometry(640, 360, Fraction(1), 0, 720).identity  # never upscaled
    assert wds_key("v-12ab.c/d e-0001") == "v-12ab_c_d_e-0001"


# -- export ------------------------------------------------------------------------------------


def _store_with_kept_clips(home: Path, media: Path) -> tuple[Store, dict[str, dict]]:
    """Three real files in two shards, run to clips; curated rows mark one or two clips per file kept."""
    config = load_config()
    store = Store(home)
    entries = [shardlib.FileEntry.of(media / n) for n in (VFR, ROTATED, ANAMORPHIC)]
    manifests = shardlib.register(store, entries, shard_size=2)
    assert len(manifests) == 2
    kept: dict[str, dict] = {}
    for m in manifests:
        ingest_videos.run_shard_manifest(store, m.shard)
        ingest_videos.run_videos(store, m.shard)
        scene_stages.run_scenes(store, m.shard, config)
        scene_stages.run_clips(store, m.shard, config)
        paths = {v["video_id"]: v["path"] for v in store.rows("videos", m.shard)}
        rows, vis, mot, txt = [], [], [], []
        seen: dict[str, int] = {}
        for c in sorted(store.rows("clips", m.shard), key=lambda r: r["clip_id"]):
            k = seen[c["video_id"]] = seen.get(c["video_id"], -1) + 1
            keep = k == 0 or (k == 1 and paths[c["video_id"]].endswith(ANAMORPHIC))
            uncaptioned = k == 1  # kept without a caption (captioning off offline): exported, marked so
            row = {"clip_id": c["clip_id"], "shard": m.shard, "video_id": c["video_id"],
                   "state": "kept" if keep else "rejected", "stage": "fine",
                   "caption": f"Clip {c['clip_id']}: a scene, \"quoted\", with commas."
                   if keep and not uncaptioned else None,
                   "alignment": 0.31, "category": "film", "start_s": c["start_s"], "end_s": c["end_s"],
                   "duration_s": c["duration_s"]}
            rows.append(row)
            vis.append({"clip_id": c["clip_id"], "shard": m.shard, "aesthetic": 5.25, "consistency": 0.9,
                        "status": "ok"})
            mot.append({"clip_id": c["clip_id"], "shard": m.shard, "motion_mean": 1.5, "status": "ok"})
            txt.append({"clip_id": c["clip_id"], "shard": m.shard, "text_area": 0.01, "box_count": 2,
                        "status": "ok"})
            if keep:
                kept[c["clip_id"]] = {**row, "frames": c["end_frame"] - c["start_frame"]}
        store.write("curated_clips", m.shard, rows)
        store.write("visual_scores", m.shard, vis)
        store.write("motion_scores", m.shard, mot)
        store.write("text_scores", m.shard, txt)
    return store, kept


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _load_back(out: Path) -> dict[str, dict]:
    tars = sorted((out / "webdataset").glob("shard-*.tar"))
    samples: dict[str, dict] = {}
    for t in tars:
        with tarfile.open(t) as tar:
            for member in tar.getmembers():
                assert member.mtime == 0 and member.uid == 0 and member.uname == ""
                key, ext = member.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return samples


def _check_loaders(out: Path, kept: dict[str, dict], cache: Path, monkeypatch) -> None:
    """The folder as the libraries a trainer uses read it: webdataset's tuples, HF datasets' loader."""
    import webdataset as wds

    urls = [str(p) for p in sorted((out / "webdataset").glob("shard-*.tar"))]
    pairs = list(wds.WebDataset(urls, shardshuffle=False).decode().to_tuple("mp4", "txt", "json"))
    assert len(pairs) == len(kept)
    for mp4, txt, meta in pairs:
        assert txt == (kept[meta["clip_id"]]["caption"] or "") and mp4[4:8] == b"ftyp"

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    ds = datasets.load_dataset(str(out), cache_dir=str(cache))["train"]
    assert ds.num_rows == len(kept) and {"video", "caption", "captioned", "aesthetic", "alignment"} <= set(
        ds.column_names)
    # Decoding the video column needs torchcodec (FFmpeg shared libraries), not installed here: read the
    # files it points at instead, which is what the decoder would open.
    rows = ds.cast_column("video", datasets.Video(decode=False)).to_list()
    assert sorted(r["clip_id"] for r in rows) == sorted(kept)
    for r in rows:
        assert r["caption"] == (kept[r["clip_id"]]["caption"] or "") and r["aesthetic"] == 5.25
        assert Path(r["video"]["path"]).resolve() == (out / r["file"]).resolve()


def test_export_all_formats_idempotent_and_removal(home, media, tmp_path, monkeypatch):
    store, kept = _store_with_kept_clips(home, media)
    assert len({r["shard"] for r in kept.values()}) == 2 and len(kept) == 4
    assert sum(r["caption"] is None for r in kept.values()) == 1
    out = tmp_path / "dataset"
    s1 = export_dataset(store, out, clips_per_tar=2, max_short_side=144)
    assert s1["clips"] == len(kept) and s1["cut"] == len(kept) and s1["reused"] == 0 and not s1["failed"]
    assert sum(s1["methods"].values()) == len(kept) and s1["tars"] == (len(kept) + 1) // 2

    # WebDataset: every sample's mp4 decodes to the recorded frame count; its json is the record, its txt
    # the caption (empty for the uncaptioned clip, which the record marks captioned: false).
    samples = _load_back(out)
    assert set(samples) == {wds_key(c) for c in kept}
    for sample in samples.values():
        meta = json.loads(sample["json"])
        clip = kept[meta["clip_id"]]
        assert tuple(meta) == tuple(sorted(FIELD_NAMES))  # the one schema, nothing else
        assert meta["caption"] == (clip["caption"] or "") == sample["txt"].decode()
        assert meta["captioned"] is (clip["caption"] is not None)
        assert meta["num_frames"] == clip["frames"]
        assert meta["aesthetic"] == 5.25 and meta["motion"] == 1.5 and meta["text_area"] == 0.01
        assert meta["text_boxes"] == 2 and meta["alignment"] == 0.31 and meta["category"] == "film"
        with av.open(io.BytesIO(sample["mp4"])) as c:
            decoded = [f for f in c.decode(video=0)]
        assert len(decoded) == meta["num_frames"]
        assert (decoded[0].width, decoded[0].height) == (meta["width"], meta["height"])
        assert min(meta["width"], meta["height"]) == 144
        if meta["video_path"].endswith(ROTATED):
            assert meta["height"] > meta["width"]  # the rotated source comes out portrait

    # CSV (Open-Sora's columns) / JSONL / Parquet / HF metadata agree with each other and with the tars.
    with open(out / "opensora.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0])[:len(OPENSORA_COLUMNS)] == OPENSORA_COLUMNS == (
        "path", "text", "num_frames", "height", "width", "aspect_ratio", "fps", "resolution", "aes", "flow",
        "ocr", "match")
    lines = [json.loads(x) for x in (out / "vidgen.jsonl").read_text().splitlines()]
    table = pq.read_table(out / "clips.parquet").to_pylist()
    hf = [json.loads(x) for x in (out / "clips" / "metadata.jsonl").read_text().splitlines()]
    assert [r["clip_id"] for r in rows] == [x["clip_id"] for x in lines] == [t["clip_id"] for t in table] \
        == [h["clip_id"] for h in hf] == sorted(kept)
    assert list(pq.read_schema(out / "clips.parquet").names) == list(FIELD_NAMES)
    for r, x, t, h in zip(rows, lines, table, hf, strict=True):
        meta = json.loads(samples[t["key"]]["json"])
        assert x == t == meta == {k: v for k, v in h.items() if k != "file_name"}
        assert (out / "clips" / h["file_name"]).is_file() and f"clips/{h['file_name']}" == t["file"]
        assert r["text"] == t["caption"] and r["captioned"] == str(t["captioned"])
        h_, w_ = int(r["height"]), int(r["width"])
        assert int(r["num_frames"]) == t["num_frames"] and [h_, w_] == [t["height"], t["width"]]
        assert int(r["resolution"]) == h_ * w_ and float(r["aspect_ratio"]) == pytest.approx(h_ / w_, abs=1e-6)
        assert float(r["fps"]) == t["fps"] and float(r["aes"]) == 5.25 and float(r["flow"]) == 1.5
        assert int(r["ocr"]) == 2 and float(r["match"]) == 0.31 and float(r["text_area"]) == 0.01
        assert r["path"] == str(out / t["file"]) and Path(r["path"]).is_file()
        assert Path(r["path"]).read_bytes() == samples[t["key"]]["mp4"]
        assert t["tar"].startswith("webdataset/shard-")
    _check_loaders(out, kept, tmp_path / "hf_cache", monkeypatch)

    # Exporting again: nothing cut, every byte the same.
    before = _hashes(out)
    s2 = export_dataset(store, out, clips_per_tar=2, max_short_side=144)
    assert s2["cut"] == 0 and s2["reused"] == len(kept) and s2["removed"] == 0
    assert _hashes(out) == before

    # Un-keep one clip: it leaves every output.
    gone = sorted(kept)[1]
    shard = kept[gone]["shard"]
    rows = store.rows("curated_clips", shard)
    for r in rows:
        if r["clip_id"] == gone:
            r.update(state="rejected", caption=None)
    store.write("curated_clips", shard, rows)
    s3 = export_dataset(store, out, clips_per_tar=2, max_short_side=144)
    assert s3["removed"] == 1 and s3["cut"] == 0 and s3["clips"] == len(kept) - 1
    key = wds_key(gone)
    assert not (out / "clips" / f"{key}.mp4").exists()
    assert key not in _load_back(out)
    assert gone not in (out / "opensora.csv").read_text() and gone not in (out / "vidgen.jsonl").read_text()
    assert gone not in (out / "clips" / "metadata.jsonl").read_text()
    assert gone not in pq.read_table(out / "clips.parquet").column("clip_id").to_pylist()
    assert gone not in json.loads((out / "manifest.json").read_text())["clips"]
    assert len(list((out / "webdataset").glob("*.tar"))) == s3["tars"] == (len(kept) - 1 + 1) // 2

    # Other cut settings re-cut everything; a format left out is removed rather than left stale.
    s4 = export_dataset(store, out, formats=("csv",), clips_per_tar=2, max_short_side=128)
    assert s4["cut"] == len(kept) - 1 and s4["reused"] == 0
    assert not (out / "webdataset").exists() or not list((out / "webdataset").iterdir())
    assert not (out / "vidgen.jsonl").exists() and not (out / "clips.parquet").exists()
    assert {int(r["height"]) if int(r["height"]) < int(r["width"]) else int(r["width"])
            for r in csv.DictReader(open(out / "opensora.csv", newline=""))} == {128}


def test_export_copies_where_exact_and_reports_clips_it_cannot_cut(home, tmp_path):
    src = render_gop10(tmp_path / "gop10.mp4")
    pr = probe(src)
    times = [f.time_s for f in decode_frames(src, 0, (32, 32), pr.start_time_s)]
    store = Store(home)
    store.write("videos", "s1", [
        {"video_id": "v-gop", "shard": "s1", "path": str(src), "status": "ok", "stream_index": 0,
         "start_time_s": pr.start_time_s, "sha256": "a" * 64},
        {"video_id": "v-gone", "shard": "s1", "path": str(tmp_path / "missing.mp4"), "status": "ok",
         "stream_index": 0, "start_time_s": 0.0, "sha256": "b" * 64},
    ])
    spans = {"v-gop-0000": ("v-gop", 10, 30), "v-gop-0001": ("v-gop", 31, 45), "v-gone-0000": ("v-gone", 10, 30)}
    store.write("clips", "s1", [{"clip_id": cid, "video_id": vid, "shard": "s1", **clip_span(times, a, b)}
                                for cid, (vid, a, b) in spans.items()])
    store.write("curated_clips", "s1", [{"clip_id": cid, "video_id": vid, "shard": "s1", "state": "kept",
                                         "caption": "A white bar slides right."}
                                        for cid, (vid, _, _) in spans.items()])
    (tmp_path / "out" / "clips").mkdir(parents=True)
    # A temporary name in our pattern but not this folder's export id: someone else's, left alone.
    (tmp_path / "out" / "clips" / ".x.mp4.0123456789ab.tmp").write_bytes(b"left by someone")
    summary = export_dataset(store, tmp_path / "out")
    assert summary["clips"] == 2 and summary["methods"] == {"copy": 1, "reencode": 1}
    assert list(summary["failed"]) == ["v-gone-0000"] and summary["failed"]["v-gone-0000"].startswith("open_failed")
    assert sorted(p.name for p in (tmp_path / "out" / "clips").iterdir()) == \
        [".x.mp4.0123456789ab.tmp", "metadata.jsonl", "v-gop-0000.mp4", "v-gop-0001.mp4"]
    assert (tmp_path / "out" / "clips" / ".x.mp4.0123456789ab.tmp").read_bytes() == b"left by someone"
    table = pq.read_table(tmp_path / "out" / "clips.parquet").to_pylist()
    assert [(t["clip_id"], t["method"], t["num_frames"]) for t in table] == \
        [("v-gop-0000", "copy", 20), ("v-gop-0001", "reencode", 14)]
    assert table[0]["aesthetic"] is None  # no score rows: null, not invented


def test_export_never_prunes_files_in_a_folder_it_did_not_create(tmp_path):
    from vidgen_dagster.core.common.store import Store
    from vidgen_dagster.core.dataset.export import export_dataset

    theirs = tmp_path / "my_footage"
    (theirs / "clips").mkdir(parents=True)
    (theirs / "webdataset").mkdir()
    (theirs / "clips" / "holiday.mp4").write_bytes(b"not ours")
    (theirs / "webdataset" / "notes.txt").write_text("not ours")
    for _ in range(2):  # the second run finds its own manifest there: still nothing of theirs is touched
        summary = export_dataset(Store(tmp_path / "home"), theirs)  # an empty store: nothing kept
        assert summary["clips"] == 0
        assert (theirs / "clips" / "holiday.mp4").read_bytes() == b"not ours"
        assert (theirs / "webdataset" / "notes.txt").read_text() == "not ours"
