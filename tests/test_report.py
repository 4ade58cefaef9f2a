"""The dataset report on a real curated store (the CLI over a few files of the shared footage, or the demo
footage where that is absent): offline, so the model-bound metrics are missing and must read "not
computed"; then the same store with synthetic full-metric rows pushed through the real selection and
curation code, where every figure must be drawn and every count must match the tables."""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import media_dir

from vidgen_dagster.core.coarse import stages as coarse
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.dataset.report import FIGURE_FILES, FIGURES, build_report
from vidgen_dagster.core.fine_curation import stages as fine_stages

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MEDIA_FILES = [  # failed, duplicate (a copy below), dropped scenes, a rotated video, text and motion rejects
    "synthetic_fades__pyscenedetect_fades.mp4", "synthetic_text_colorcuts__pyscenedetect_counter.mp4",
    "badinput_corrupt__decord_corrupted.mp4", "dim_handheld__decord_flipping_a_pancake.mkv",
    "badinput_startoffset__pyscenedetect_delayed_start.mp4", "cuts_rotated__pyscenedetect_issue-134-rotate.mp4",
]
MODEL_BOUND = {"category", "aesthetic", "consistency", "alignment", "caption_words"}


@pytest.fixture(scope="module")
def curated_home(tmp_path_factory, request) -> Path:
    """A store curated by the real CLI, offline (no CLIP, no VLM): one shard."""
    root = tmp_path_factory.mktemp("report")
    footage = root / "footage"
    footage.mkdir()
    shared = media_dir()
    if shared is not None and all((shared / f).exists() for f in MEDIA_FILES):
        for name in MEDIA_FILES:
            (footage / name).symlink_to(shared / name)
        shutil.copy2(shared / MEDIA_FILES[1], footage / "zz_duplicate_copy.mp4")
    else:
        for f in request.getfixturevalue("demo_footage").iterdir():
            shutil.copy2(f, footage / f.name)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"ingest": {"settle_seconds": 0}}))
    home = root / "home"
    r = subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", "curate", str(footage), "--home", str(home),
                        "--config", str(config)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    return home


def _synthetic_config() -> dict:
    cfg = copy.deepcopy(load_config())
    # Every real clip passes the weight-free filters so the synthetic scores decide each later stage.
    cfg["thresholds"].update(motion_min=None, motion_max=None, ocr_max_area=None)
    cfg["sampling"]["enabled"] = False
    return cfg


@pytest.fixture(scope="module")
def full_home(curated_home, tmp_path_factory) -> tuple[Path, dict]:
    """The curated store plus synthetic CLIP / caption / check rows for every clip, pushed through the real
    coarse selection and curation: one clip lost at each stage, the rest kept."""
    home = tmp_path_factory.mktemp("full") / "home"
    shutil.copytree(curated_home, home)
    store, cfg = Store(home), _synthetic_config()
    names = coarse.categories(cfg)
    shards = sorted({c["shard"] for c in store.rows("clips")})
    assert len(store.rows("clips")) >= 6, "need a clip for every stage plus kept ones"
    i = 0
    for shard in shards:
        clips = sorted(store.rows("clips", shard), key=lambda c: c["clip_id"])
        store.write("visual_scores", shard, [
            {"clip_id": c["clip_id"], "shard": shard, "model_id": "synthetic", "status": "ok",
             "aesthetic": 3.0 if i + k == 0 else 4.6 + 0.37 * (i + k), "consistency": 0.72 + 0.03 * (i + k),
             "category": names[(i + k) % 3], "category_score": 0.5} for k, c in enumerate(clips)])
        coarse.run_selection(store, shard, cfg)
        sel = {r["clip_id"]: r for r in store.rows("coarse_selection", shard)}
        caps, checks = [], []
        for k, c in enumerate(clips):
            n, cid = i + k, c["clip_id"]
            base = {"clip_id": cid, "shard": shard, "video_id": c["video_id"]}
            if sel[cid]["decision"] != "kept":
                caps.append({**base, "status": "skipped", "error": "not kept by coarse selection"})
                checks.append({**base, "status": "skipped", "error": "no caption (skipped)"})
            elif n == 1:
                caps.append({**base, "status": "failed", "error": "synthetic: server error"})
                checks.append({**base, "status": "skipped", "error": "no caption (failed)"})
            else:
                words = " ".join(["word"] * (40 + 9 * n))
                caps.append({**base, "status": "ok", "caption": f"A video showing {words}.", "model_id": "synthetic"})
                frame_level = n == 3
                checks.append({**base, "status": "ok", "alignment": 0.1 if n == 2 else 0.22 + 0.02 * n,
                               "alignment_model": "synthetic", "judge_status": "unavailable",
                               "rule_frame_level": frame_level, "frame_level": frame_level,
                               "rule_reasons": ["frame_level: 'the first frame'"] if frame_level else []})
        store.write("captions", shard, caps)
        store.write("caption_checks", shard, checks)
        fine_stages.run_curated(store, shard, cfg)
        i += len(clips)
    return home, cfg


def _funnel(md: str) -> dict[tuple[str, str], int]:
    rows = [line.strip("|").split("|") for line in md.splitlines()[2:]]
    return {(s.strip(), o.strip()): int(n.strip().replace(",", "")) for s, o, n in rows}


def _independent_counts(store: Store) -> dict:
    """The funnel's numbers straight from the tables (not through the catalog or the report)."""
    runs = {r["video_id"]: r["status"] for r in store.rows("scene_runs")}
    states = Counter()
    for v in store.rows("videos"):
        if v["status"] != "ok":
            states[v["status"]] += 1
        else:
            states[{"ok": "processed", "failed": "failed"}.get(runs.get(v["video_id"]), "pending")] += 1
    final = {r["clip_id"]: r for r in store.rows("curated_clips")}
    return {"videos": states, "scenes": len(store.rows("scenes")),
            "dropped": Counter(r["reason"].split(":")[0] for r in store.rows("dropped_scenes")),
            "clips": store.rows("clips"), "final": Counter((r["state"], r["stage"]) for r in final.values()),
            "kept": [r for r in final.values() if r["state"] == "kept"]}


def _check_funnel(report, store: Store) -> None:
    f, ind, n = _funnel(report.tables["funnel"]), _independent_counts(store), report.numbers
    assert f[("videos", "in")] == n["videos"] == sum(ind["videos"].values())
    for s in ("failed", "duplicate", "pending", "processed"):
        assert f[("videos", s)] == n[f"videos_{s}"] == ind["videos"][s]
    assert sum(f[("videos", s)] for s in ("failed", "duplicate", "pending", "processed")) == f[("videos", "in")]
    assert f[("scenes", "detected")] == n["scenes"] == ind["scenes"]
    dropped = {o.removeprefix("dropped: "): c for (s, o), c in f.items() if s == "scenes" and o.startswith("dropped")}
    assert dropped == dict(ind["dropped"]) and n["scenes_dropped"] == sum(ind["dropped"].values())
    assert f[("scenes", "kept (cut into clips)")] + sum(dropped.values()) == f[("scenes", "detected")]
    assert f[("clips", "cut")] == n["clips"] == len(ind["clips"])
    for stage in ("coarse", "captions", "alignment", "fine"):
        for state in ("rejected", "failed"):
            assert f[("clips", f"{state} at {stage}")] == ind["final"].get((state, stage), 0)
    assert f[("clips", "kept")] == n["clips_kept"] == len(ind["kept"])
    losses = sum(c for (s, o), c in f.items() if s == "clips" and o.split(" at ")[0] in ("rejected", "failed"))
    assert losses + f.get(("clips", "pending (no final decision yet)"), 0) + f[("clips", "kept")] == f[("clips", "cut")]
    # the reason table: every reason of every lost clip, grouped by its stage
    reasons = Counter()
    for r in store.rows("curated_clips"):
        if r["state"] != "kept":
            reasons.update((r["stage"], x.split(":")[0].split(" (")[0]) for x in r["reasons"])
    for (stage, reason), count in reasons.items():
        assert n[f"reason_{stage}_{reason.replace(' ', '_')}"] == count


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 8_000, (path, len(data))


def test_offline_store_reports_what_it_has_and_says_what_was_not_computed(curated_home, tmp_path):
    store = Store(curated_home)
    report = build_report(store, tmp_path / "out")
    assert set(report.missing) == MODEL_BOUND
    for name in MODEL_BOUND:
        assert report.missing[name].startswith("not computed (model unavailable"), report.missing[name]
        assert not (tmp_path / "out" / f"fig_{name}.png").exists()
    # the weight-free figures: OCR, motion, first/last-frame similarity, durations (and the funnel)
    assert set(report.figures) == {"text_area", "motion", "first_last", "duration", "funnel"}
    for name, path in report.figures.items():
        assert path == tmp_path / "out" / f"fig_{name}.png"
        _check_png(path)
    page = report.html_path.read_text()
    assert page.count("data:image/png;base64,") == len(report.figures)  # every figure drawn is embedded
    assert page.count("not computed (model unavailable") >= len(MODEL_BOUND)
    assert "| LAION aesthetic score | 0 |" in report.tables["metrics"]
    _check_funnel(report, store)
    n = report.numbers
    # Offline there is no captioner: curation.require_caption auto keeps what coarse selection kept, uncaptioned.
    coarse_kept = sum(r["decision"] == "kept" for r in store.rows("coarse_selection"))
    assert n["clips_kept"] == coarse_kept > 0
    assert n["videos_failed"] >= 1 and n["not_computed"] == ", ".join(sorted(MODEL_BOUND))
    assert all(isinstance(v, str | int | float) for v in n.values())


def test_full_metrics_draw_every_figure_and_the_html_embeds_them(full_home, tmp_path):
    home, cfg = full_home
    store = Store(home)
    out = tmp_path / "out"
    report = build_report(store, out, config=cfg)
    assert report.missing == {}
    assert list(report.figures) == [*FIGURES, "funnel"]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(FIGURE_FILES)
    for path in report.figures.values():
        _check_png(path)
    _check_funnel(report, store)
    n = report.numbers
    # one clip lost at each stage (synthetic rows), the rest kept
    assert n["clips_rejected_coarse"] == 1 and n["reason_coarse_aesthetic_low"] == 1
    assert n["clips_failed_captions"] == 1 and n["reason_captions_caption_failed"] == 1
    assert n["clips_rejected_alignment"] == 1 and n["reason_alignment_misaligned"] == 1
    assert n["clips_rejected_fine"] == 1 and n["reason_fine_frame_level"] == 1
    assert n["clips_kept"] == n["clips"] - 4 >= 2

    # Table 1 numbers, computed here from the tables
    clips = store.rows("clips")
    kept = {r["clip_id"] for r in store.rows("curated_clips") if r["state"] == "kept"}
    words = [len(r["caption"].split()) for r in store.rows("captions") if r["status"] == "ok"]
    mean_dur = sum(c["duration_s"] for c in clips) / len(clips)
    assert n["mean_caption_words"] == pytest.approx(sum(words) / len(words), abs=1e-4)
    assert n["mean_clip_seconds"] == pytest.approx(mean_dur, abs=1e-4)
    t1 = report.tables["table1"]
    assert f"| videos (kept: with a kept clip) | {len(store.rows('videos'))} |" in t1 and f"| clips | {len(clips)} | {len(kept)} |" in t1
    assert f"| mean clip duration (s) | {mean_dur:.4g} |" in t1
    assert f"| mean caption words | {sum(words) / len(words):.4g} |" in t1

    page = report.html_path.read_text()
    assert report.html_path == out / "report.html"
    assert str(store.home) in page and re.search(r"Generated <time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", page)
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(report.figures)
    assert {base64.b64decode(b) for b in embedded} == {p.read_bytes() for p in report.figures.values()}
    for value in (len(clips), len(kept), len(store.rows("videos"))):
        assert f'<td class="num">{value:,}</td>' in page
    assert f'<td class="num">{mean_dur:.4g}</td>' in page and "not computed" not in page
    assert 'src="http' not in page and "<link" not in page  # self-contained
    # resolutions are as displayed (rotation applied) and taken from the source videos
    shown = {f"{v['width']}x{v['height']}" if (v["rotation"] or 0) % 180 == 0 else f"{v['height']}x{v['width']}"
             for v in store.rows("videos") if v["status"] == "ok"}
    assert n["top_resolution"] in shown and n["top_resolution_kept"] in shown

    # re-running overwrites the same files with the same pictures
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}
    again = build_report(store, out, config=cfg)
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == before
    assert again.tables == report.tables

    # the same folder reused for the offline store: stale model-bound figures are removed, not left behind
    offline = build_report(Store(tmp_path / "empty_home"), out)
    assert offline.figures == {} and not list(out.glob("*.png"))


def _pixels_of(path: Path, hex_colour: str, tol: int = 12) -> int:
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - want).max(axis=2) <= tol).sum())


@pytest.mark.parametrize("kept_share", [1.0, 0.5])
def test_histogram_shows_all_clips_behind_kept_clips(tmp_path, kept_share):
    """Where every clip of a bin was kept the total must still be visible: the all-clips outline and
    fill are drawn, not hidden under the kept bars."""
    import numpy as np

    from vidgen_dagster.core.dataset.report import ALL_EDGE, ALL_FILL, KEPT_COLOR, _histogram

    values = np.random.default_rng(0).normal(5.0, 1.0, 400)
    kept = values[: int(len(values) * kept_share)]
    path = _histogram(tmp_path / "h.png", "motion", "x", values, kept, [("min", 3.0)])
    outline, fill, bars = (_pixels_of(path, c) for c in (ALL_EDGE, ALL_FILL, KEPT_COLOR))
    assert bars > 2_000 and outline > 500 and fill > 1_000, (bars, outline, fill)


def test_empty_store(tmp_path):
    report = build_report(Store(tmp_path / "nothing"), tmp_path / "out")
    assert report.figures == {} and report.html_path.exists()
    assert set(report.missing) == {*FIGURES, "funnel"}
    assert all(v.startswith("not computed") for v in report.missing.values())
    assert report.numbers["videos"] == 0 and report.numbers["clips"] == 0 and report.numbers["clips_kept"] == 0
    page = report.html_path.read_text()
    assert "not computed" in page and "data:image" not in page and "<table>" in page
    assert (tmp_path / "out" / "report.md").read_text().startswith("# VidGen curation report")
