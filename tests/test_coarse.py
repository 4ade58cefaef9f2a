"""Coarse curation core: frame sampling (one decode, GOP-selective), motion backends, quality, selection."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
from shard_helpers import curated_until_clips

from vidgen_dagster.core.coarse import frames
from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.coarse.scoring import motion
from vidgen_dagster.core.coarse.selection import Reference, keep_probabilities, select, unit_hash
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.core.ingest import videos as ingest_videos
from vidgen_dagster.core.scenes import stages as scene_stages


def test_plan_keeps_first_middle_last_and_pairs_a_time_gap_apart():
    times = [i / 30 for i in range(300)]
    s = frames.FrameSettings(flow_pairs=3, flow_gap_s=0.066)
    plan = frames.plan_clip("c", 10, 250, times, s)
    roles = {r: i for i, rs in plan.roles.items() for r in rs}
    assert roles["first"] == 10 and roles["last"] == 249 and roles["middle"] == 129
    for k in range(3):
        a, b = roles[f"pair{k}:a"], roles[f"pair{k}:b"]
        assert 10 <= a < b < 250
        assert times[b] - times[a] >= 0.066 - 1e-6 and b - a == 2  # 2 frames at 30 fps
    assert roles["pair1:a"] == roles["middle"]  # the middle pair re-uses the middle frame
    assert len(plan.roles) == 8
    # At 10 fps the gap is one frame; a 2-frame clip still gets a pair inside it.
    slow = [i / 10 for i in range(20)]
    p2 = frames.plan_clip("d", 5, 7, slow, s)
    assert all(5 <= i < 7 for i in p2.roles)


@pytest.mark.parametrize("name", [
    "static_long__intel_one-by-one-person-detection.mp4",  # keyframe every 10 frames: most GOPs skipped
    "text_kinetic__mejs_echo-hereweare.webm",  # VP8
    "hd_30s__moviepy_big_buck_bunny_0_30.webm",
    "cuts_fades__pyscenedetect_testvideo.mp4",  # H.264 with B-frames: a planned frame comes out after later packets
    "motion_yuv444__imageio_cockatoo.mp4",
    "dark_multistream__torchcodec_nasa_13013.mp4",  # two video streams
])
def test_gop_selective_decode_returns_exactly_the_sequential_frames(media, name):
    from vidgen_dagster.core.common.media import analysis_size, decode_frames, probe

    path = media / name

    pr = probe(path)
    times = [f.time_s for f in decode_frames(path, pr.stream_index, (64, 36), pr.start_time_s)]
    s = frames.FrameSettings()
    plans = [frames.plan_clip(f"c{k}", a, min(a + 150, len(times)), times, s)
             for k, a in enumerate(range(0, len(times) - 20, 200))]
    wanted: dict = {}
    for plan in plans:
        for i, roles in plan.roles.items():
            wanted.setdefault(i, []).append((plan.clip_id, roles))
    size = analysis_size(pr.width, pr.height, 160, pr.sample_aspect_ratio)
    seq = sorted(frames._sample_sequential(str(path), pr.stream_index, pr.start_time_s, size, wanted, s),
                 key=lambda k: (k.clip_id, k.frame_index))
    gop = sorted(frames._sample_gops(str(path), pr.stream_index, pr.start_time_s, size, wanted, times, s),
                 key=lambda k: (k.clip_id, k.frame_index))
    assert [(k.clip_id, k.frame_index, k.time_s) for k in gop] == [(k.clip_id, k.frame_index, k.time_s) for k in seq]
    for a, b in zip(seq, gop, strict=True):
        assert np.array_equal(frames.decode_jpeg(a.jpeg), frames.decode_jpeg(b.jpeg))


def test_frames_stage_records_every_clip_and_a_broken_video_fails_only_its_clips(home, demo_footage):
    config = load_config()
    paths = sorted(demo_footage.glob("*.mp4"))
    store, shard = curated_until_clips(home, paths, config)
    summary = coarse.run_frames(store, shard, config)
    clips = store.rows("clips", shard)
    runs = store.rows("frame_runs", shard)
    assert sorted(r["clip_id"] for r in runs) == sorted(c["clip_id"] for c in clips)
    assert summary["clips_ok"] == len(clips)
    kept = store.read("frames", shard).to_pylist()
    by_clip: dict = {}
    for r in kept:
        by_clip.setdefault(r["clip_id"], []).append(r)
        img = frames.decode_jpeg(r["jpeg"])
        assert img.shape == (r["height"], r["width"], 3) and min(r["width"], r["height"]) == 320
    spans = {c["clip_id"]: c for c in clips}
    for cid, rows in by_clip.items():
        roles = {x for r in rows for x in r["roles"]}
        assert {"first", "middle", "last", "pair0:a", "pair0:b"} <= roles
        assert all(spans[cid]["start_frame"] <= r["frame_index"] < spans[cid]["end_frame"] for r in rows)

    # A clip whose frames cannot be decoded any more (file truncated after scene detection) is
    # recorded as failed with the reason; the other clips of the shard are unaffected.
    victim = next(v for v in store.rows("videos", shard) if v["path"].endswith("hard_cuts.mp4"))
    data = open(victim["path"], "rb").read()
    with open(victim["path"], "wb") as f:
        f.write(data[: len(data) // 3])
    try:
        coarse.run_frames(store, shard, config)
    finally:
        with open(victim["path"], "wb") as f:
            f.write(data)
    runs = store.rows("frame_runs", shard)
    failed = [r for r in runs if r["status"] == "failed"]
    assert failed and all(r["video_id"] == victim["video_id"] for r in failed)
    assert all(r["error"] for r in failed)
    assert sum(r["status"] == "ok" for r in runs) >= len(runs) - 3


def test_opencv_flow_measures_a_known_shift():
    rng = np.random.default_rng(0)
    base = (rng.random((180, 320)) * 255).astype(np.uint8)
    base = np.dstack([base] * 3)
    import cv2

    base = cv2.GaussianBlur(base, (5, 5), 1.5)
    shifted = np.roll(base, 4, axis=1)  # 4 px right at 320x180
    for name in ("dis", "farneback"):
        be = motion.OpenCVFlow(name, short_side=180, preset="medium")
        (flow,) = be.flow([(base, shifted)])
        dx = float(np.median(flow[20:-20, 20:-20, 0]))
        assert abs(dx - 4.0) < 0.5, (name, dx)
        stats = motion.motion_stats([flow], [0.1])
        assert stats.motion_mean == pytest.approx(4.0 / 180 / 0.1, rel=0.2)  # short sides per second
    still = motion.motion_stats(motion.OpenCVFlow("dis", 180).flow([(base, base)]), [0.1])
    assert still.motion_mean < 0.01


def test_raft_loads_a_saved_state_dict_through_the_real_loader(tmp_path):
    import torch
    from torchvision.models.optical_flow import raft_small

    weights = tmp_path / "raft_small_test.pth"
    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), weights)
    cfg = {"backend": "raft", "raft_model": "raft_small", "raft_weights": str(weights), "device": "cpu",
           "batch_size": 2, "short_side": 64}
    be = motion.build_flow_backend(cfg)
    assert isinstance(be, motion.RaftFlow) and be.backend == "raft"
    assert be.model_id == "torchvision-raft_small:raft_small_test.pth"
    rng = np.random.default_rng(1)
    imgs = [(rng.random((72, 128, 3)) * 255).astype(np.uint8) for _ in range(3)]
    flows = be.flow([(imgs[0], imgs[1]), (imgs[1], imgs[2]), (imgs[2], imgs[0])])  # 2 batches
    # short_side 64 is raised to RAFT's minimum of 128; 128x72 -> 224x128 (multiples of 8)
    assert len(flows) == 3 and flows[0].shape == (128, 224, 2) and flows[0].dtype == np.float32
    assert np.isfinite(motion.motion_stats(flows, [0.1] * 3).motion_mean)
    # The wrong architecture's file is a clear load error, not a crash later.
    with pytest.raises(ModelUnavailableError, match="cannot load raft_large"):
        motion.build_flow_backend({**cfg, "raft_model": "raft_large"})
    # Explicit raft without weights: unavailable with the path it looked at; auto falls back to DIS.
    missing = {**cfg, "raft_weights": str(tmp_path / "nope.pth")}
    with pytest.raises(ModelUnavailableError, match="nope.pth"):
        motion.build_flow_backend(missing)
    assert motion.build_flow_backend({**missing, "backend": "auto"}).backend == "dis"
    assert motion.build_flow_backend({**cfg, "backend": "none"}) is None
    with pytest.raises(ConfigError):
        motion.build_flow_backend({**cfg, "backend": "optical"})


def test_fixed_camera_scores_lower_motion_than_handheld(home, media):
    config = load_config()
    names = ["static_long__intel_one-by-one-person-detection.mp4", "dim_handheld__decord_flipping_a_pancake.mkv",
             "motion_blurry_vfr__moviepy_fire2.mp4"]
    store, shard = curated_until_clips(home, [media / n for n in names], config)
    coarse.run_frames(store, shard, config)
    cfg = copy.deepcopy(config)
    cfg["motion"]["backend"] = "dis"
    coarse.run_motion(store, shard, cfg)
    video_of = {c["clip_id"]: c["video_id"] for c in store.rows("clips", shard)}
    name_of = {v["video_id"]: v["path"].rsplit("/", 1)[-1] for v in store.rows("videos", shard)}
    per_file: dict = {}
    for r in store.rows("motion_scores", shard):
        assert r["status"] == "ok" and r["backend"] == "dis" and r["pairs"] == 3
        per_file.setdefault(name_of[video_of[r["clip_id"]]], []).append(r["motion_mean"])
    fixed = float(np.mean(per_file[names[0]]))
    assert len(per_file[names[0]]) >= 5  # 139 s split into clips
    for handheld in names[1:]:
        assert fixed * 3 < min(per_file[handheld]), (fixed, per_file)


def _row(cid, **scores):
    base = {"clip_id": cid, "video_id": "v", "shard": "s", "frames_error": None,
            "motion_scores.status": "ok", "text_scores.status": "ok", "visual_scores.status": "ok"}
    return {**base, **scores}


THRESH = {"motion_min": 0.005, "motion_max": 1.5, "ocr_max_area": 0.02, "aesthetic_min": 4.5,
          "consistency_min": 0.7, "sharpness_min": None}


def test_every_failed_reason_is_recorded_and_missing_scores_are_not_applied():
    rows = [
        _row("ok", motion_mean=0.1, text_area=0.0, aesthetic=5.0, consistency=0.9, category="animals"),
        _row("bad", motion_mean=0.001, text_area=0.05, aesthetic=3.0, consistency=0.5, category="animals"),
        # CLIP unavailable: aesthetic / consistency missing -> not applied, not passed silently
        _row("noclip", motion_mean=0.1, text_area=0.0, aesthetic=None, consistency=None, category=None,
             **{"visual_scores.status": "partial"}),
        # motion scoring failed on this clip -> rejected with the failure
        _row("fail", motion_mean=None, text_area=0.0, aesthetic=5.0, consistency=0.9, category="animals",
             **{"motion_scores.status": "failed", "motion_scores.error": "RuntimeError: boom"}),
        _row("noframes", frames_error="decode_failed: bitstream broke", motion_mean=None, text_area=None,
             aesthetic=None, consistency=None, category=None,
             **{"motion_scores.status": "failed", "motion_scores.error": "frames: x",
                "text_scores.status": "failed", "text_scores.error": "frames: x",
                "visual_scores.status": "failed", "visual_scores.error": "frames: x"}),
    ]
    out, summary = select(rows, THRESH, {"enabled": False}, ["animals"], None)
    d = {r["clip_id"]: r for r in out}
    assert d["ok"]["decision"] == "kept" and d["ok"]["reasons"] == []
    assert d["bad"]["decision"] == "rejected"
    assert [r.split(":")[0] for r in d["bad"]["reasons"]] == ["motion_low", "text", "aesthetic_low", "inconsistent"]
    assert d["bad"]["reasons"][0] == "motion_low: 0.001 < 0.005"
    assert d["noclip"]["decision"] == "kept" and d["noclip"]["not_applied"] == ["aesthetic_min", "consistency_min"]
    assert d["fail"]["decision"] == "rejected"
    assert d["fail"]["reasons"] == ["failed: motion_scores: RuntimeError: boom"]
    assert d["noframes"]["reasons"][0].startswith("failed: frames: decode_failed")
    with pytest.raises(ConfigError, match="unknown thresholds"):
        select(rows, {"motion_minimum": 1}, {"enabled": False}, [], None)


def test_category_sampling_is_deterministic_balanced_and_incremental():
    cats = ["people"] * 80 + ["animals"] * 15 + ["food"] * 5
    rows = [_row(f"c{i:03d}", motion_mean=0.1, text_area=0.0, aesthetic=5.0, consistency=0.9, category=c)
            for i, c in enumerate(cats)]
    sampling = {"enabled": True, "target": {}, "strength": 1.0, "seed": 0}
    out, summary = select(rows, THRESH, sampling, ["people", "animals", "food"], None)
    assert summary["sampling"] == "shard reference (generation 0)"
    probs = {r["category"]: r["keep_prob"] for r in out}
    assert probs == {"food": 1.0, "animals": pytest.approx(5 / 15), "people": pytest.approx(5 / 80)}
    kept = [r for r in out if r["decision"] == "kept"]
    for r in out:  # the decision is the hash draw against the category's probability
        assert (r["decision"] == "kept") == (unit_hash(0, r["clip_id"]) < probs[r["category"]])
        if r["decision"] == "rejected":
            assert r["reasons"][0].startswith(f"sampled_out: category {r['category']}")
    assert sum(r["category"] == "food" for r in kept) == 5
    again, _ = select(list(reversed(rows)), THRESH, sampling, ["people", "animals", "food"], None)
    assert {r["clip_id"]: r["decision"] for r in again} == {r["clip_id"]: r["decision"] for r in out}
    # strength 0: no balancing; half strength is between.
    assert keep_probabilities({"a": 0.8, "b": 0.2}, {"a": 1, "b": 1}, 0.0) == {"a": 1.0, "b": 1.0}
    assert keep_probabilities({"a": 0.8, "b": 0.2}, {"a": 1, "b": 1}, 0.5)["a"] == pytest.approx(0.5)
    # A frozen global reference decides a shard independently of the shard's own mix.
    ref = Reference({"people": 0.5, "animals": 0.5}, generation=1, source="global")
    out2, s2 = select(rows[:10], THRESH, sampling, ["people", "animals"], ref)
    assert s2["sampling"] == "global reference (generation 1)"
    assert all(r["keep_prob"] == 1.0 for r in out2)


def test_shard_decisions_do_not_change_when_another_shard_arrives_until_rebalance(home, demo_footage):
    """Run the coarse stages on two shards; shard A's selection file is untouched by shard B, and
    `rebalance` bumps the generation that coarse_selection's code version carries."""
    config = load_config()
    config["visual"]["backend"] = "none"
    paths = sorted(demo_footage.glob("*.mp4"))
    store = Store(home)
    shards = []
    for group in (paths[:3], paths[3:]):
        entries = [shardlib.FileEntry.of(p) for p in group]
        (m,) = shardlib.register(store, entries, shard_size=10)
        shards.append(m.shard)
    a, b = shards
    for shard in shards:
        ingest_videos.run_shard_manifest(store, shard)
        ingest_videos.run_videos(store, shard)
        scene_stages.run_scenes(store, shard, config)
        scene_stages.run_clips(store, shard, config)
        coarse.run_frames(store, shard, config)
        coarse.run_scores(store, shard, config)  # every registered scoring stage
        coarse.run_selection(store, shard, config)
        if shard == a:
            before = open(store.table_file("coarse_selection", a), "rb").read()
    assert open(store.table_file("coarse_selection", a), "rb").read() == before
    assert coarse.reference_generation(store) == 0
    store.refresh_catalog()
    ref = coarse.rebalance(store, config)
    assert ref.generation == 1 and ref.source == "global" and coarse.reference_generation(store) == 1
    assert coarse.account_coarse(store, a) == [] and coarse.account_coarse(store, b) == []


def test_pull_download_is_atomic_and_verified(tmp_path):
    """`models pull` fetches files with an atomic rename and checks the pinned md5 (real HTTP, local)."""
    import hashlib
    import http.server
    import threading

    from vidgen_dagster.core.common.errors import VidgenError
    from vidgen_dagster.models.registry import download, verify_md5

    payload = b"laion-head-bytes" * 1000
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "head.pth").write_bytes(payload)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "srv"), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        dest = tmp_path / "cache" / "laion" / "head.pth"
        download(f"{url}/head.pth", dest)
        assert dest.read_bytes() == payload
        verify_md5(dest, hashlib.md5(payload).hexdigest())
        with pytest.raises(VidgenError, match="does not match"):
            verify_md5(dest, "0" * 32)
        assert not dest.exists()  # a file that fails verification is removed
        with pytest.raises(OSError):
            download(f"{url}/missing.pth", dest)
        assert list(dest.parent.iterdir()) == []  # no partial file left behind
    finally:
        server.shutdown()


def test_scorers_stream_clip_frames_in_small_batches(home, demo_footage):
    """Scorers read the frames file in row batches (one clip's images in memory at a time); the stream
    yields every clip exactly once, complete, whatever the batch size; a file whose clip rows are split
    is an error, not a silent miscount."""
    config = load_config()
    store, shard = curated_until_clips(home, sorted(demo_footage.glob("*.mp4")), config)
    coarse.run_frames(store, shard, config)
    table = store.read("frames", shard).to_pylist()
    whole: dict = {}
    for r in table:
        whole.setdefault(r["clip_id"], []).append(r["frame_index"])
    whole = {cid: sorted(ix) for cid, ix in whole.items()}
    for batch_rows in (1, 3, 1000):
        streamed = [(cf.clip_id, sorted(r["frame_index"] for r in cf.rows))
                    for cf in coarse.iter_clip_frames(store, shard, batch_rows=batch_rows)]
        assert dict(streamed) == whole and len(streamed) == len(whole)
    some = set(list(whole)[:2])
    assert {cf.clip_id for cf in coarse.iter_clip_frames(store, shard, only=some)} == some
    frames_table = store.read("frames", shard)
    moved = list(range(1, frames_table.num_rows)) + [0]  # the first row moved last: its clip is split
    store.write("frames", shard, frames_table.take(moved))
    with pytest.raises(ValueError, match="not contiguous"):
        list(coarse.iter_clip_frames(store, shard))


# --- first/last-frame similarity (a stage added through the registry) -----------------------------------


def _frames_at(path, indices, short_side=320):
    from vidgen_dagster.core.common import media

    p = media.probe(path)
    size = media.analysis_size(p.width, p.height, short_side, p.sample_aspect_ratio)
    out = {}
    for d in media.decode_frames(path, p.stream_index, size, p.start_time_s or 0.0):
        if d.index in indices:
            out[d.index] = frames.decode_jpeg(frames.encode_jpeg(d.image, 92))  # as the frames stage keeps them
        if d.index >= max(indices):
            break
    return out


def test_first_last_similarity_is_high_within_a_shot_and_low_across_a_cut(media, cuts_truth):
    """PySceneDetect's test video has published cuts at 30, 180 and 394: frames inside one shot correlate,
    a span over two cuts does not (the measure is symmetric and 1 for a frame with itself)."""
    from vidgen_dagster.core.coarse.scoring.similarity import hist_correlation, ssim

    name = "cuts_fades__pyscenedetect_testvideo.mp4"
    assert cuts_truth[name]["published_goldens_scene_starts"]["ContentDetector.default"][:2] == [30, 180]
    f = _frames_at(media / name, {2, 27, 32, 177, 391})
    assert hist_correlation(f[2], f[2]) == pytest.approx(1.0) and ssim(f[2], f[2]) == pytest.approx(1.0)
    for a, b in ((2, 27), (32, 177)):  # one shot each
        assert hist_correlation(f[a], f[b]) > 0.9 and ssim(f[a], f[b]) > 0.9
    for a, b in ((2, 177), (32, 391)):  # first frame of one shot, last frame of another
        assert hist_correlation(f[a], f[b]) < 0.2 and ssim(f[a], f[b]) < 0.2
        assert hist_correlation(f[a], f[b]) == pytest.approx(hist_correlation(f[b], f[a]))


def test_a_missed_cut_is_caught_by_the_first_last_filter(home, media):
    """Cut detection switched off: the test video's clips span its hard cuts. The similarity stage scores
    every clip, and ``thresholds.first_last_min`` rejects the spanning ones with the reason; with the cut
    detector on, the same threshold keeps every clip."""
    name = media / "cuts_fades__pyscenedetect_testvideo.mp4"
    results = {}
    for label in ("missed", "detected"):
        config = load_config()
        config["visual"]["backend"] = "none"
        config["thresholds"].update(first_last_min=0.15, motion_min=None, ocr_max_area=None)
        if label == "missed":  # hard cuts go unseen (fades are still found by the threshold detector)
            config["scenes"].update(cut_detector="content", content_threshold=255.0)
        store, shard = curated_until_clips(home / label, [name], config)
        coarse.run_frames(store, shard, config)
        summary = coarse.run_stage("similarity_scores", store, shard, config)
        rows = store.rows("similarity_scores", shard)
        assert summary["clips"] == len(rows) == store.read("clips", shard).num_rows and summary["unavailable"] is None
        assert all(r["status"] == "ok" and -1 <= r["first_last_hist"] <= 1 for r in rows)
        for stage_name in coarse.BY_NAME:  # the other registered stages
            if stage_name != "similarity_scores":
                coarse.run_stage(stage_name, store, shard, config)
        coarse.run_selection(store, shard, config)
        assert coarse.account_coarse(store, shard) == []
        results[label] = {r["clip_id"]: r["reasons"] for r in store.rows("coarse_selection", shard)}
    spanning = [r for r in results["missed"].values() if any(x.startswith("first_last_dissimilar: ") for x in r)]
    assert spanning, results["missed"]
    assert not any(x.startswith("first_last_dissimilar") for r in results["detected"].values() for x in r)


@pytest.mark.parametrize("key,value", [("thresholds.first_last_min", 1.5), ("thresholds.first_last_min", "low"),
                                       ("thresholds.ocr_max_area", -0.1), ("similarity.hue_bins", 1)])
def test_a_stage_declares_the_ranges_of_its_threshold_and_settings(tmp_path, key, value):
    """The registry's stages declare their thresholds' and settings' ranges; a bad value is refused when the
    configuration loads, naming the key (before anything runs)."""
    import yaml

    section, name = key.split(".")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({section: {name: value}}))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path)
    path.write_text(yaml.safe_dump({section: {name: None if section == "thresholds" else 30}}))
    assert load_config(path)[section][name] == (None if section == "thresholds" else 30)


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "/tmp/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"}])
def test_raft_weights_are_located_without_importing_torch(env, tmp_path):
    """Where RAFT's weights live is asked at every curate (the motion model's fingerprint): it must not cost a
    torch import, and must say what torch itself would."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from vidgen_dagster.core.coarse.scoring import motion\n"
        "ours = motion.torch_hub_dir()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "import torch\n"
        "from torchvision.models import optical_flow as o\n"
        "assert str(ours) == torch.hub.get_dir(), (ours, torch.hub.get_dir())\n"
        "assert motion.raft_weights_url('raft_small') == o.Raft_Small_Weights.DEFAULT.url\n"
        "assert motion.raft_weights_url('raft_large') == o.Raft_Large_Weights.DEFAULT.url\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    r = subprocess.run([sys.executable, "-c", script], env={**base, "HOME": str(tmp_path), **env},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
