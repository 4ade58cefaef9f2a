"""The `vidgen` command end to end on a real Dagster instance under <home>."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml
from cli_helpers import vidgen

from vidgen_dagster.cli import main
from vidgen_dagster.core.common.store import Store

ALL = ["shard_manifest", "videos", "scenes", "clips", "frames", "motion_scores", "perceptual_hashes",
       "similarity_scores", "text_scores",
       "visual_scores",
       "coarse_selection", "captions", "caption_checks", "curated_clips"]
SCORES = ["frames", "frame_runs", "motion_scores", "text_scores", "visual_scores"]


def materializations(home, keys=ALL) -> int:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return sum(len(instance.fetch_materializations(dg.AssetKey(k), limit=1000).records) for k in keys)
    finally:
        instance.dispose()


@pytest.fixture
def tiny_visual(tiny_models):
    """The visual section for the tiny random-weight CLIP and LAION head (see conftest)."""
    return {"clip_model": tiny_models["clip"], "aesthetic_head": tiny_models["head"], "device": "cpu"}


def _config(path, **sections) -> str:
    path.write_text(yaml.safe_dump(sections))
    return str(path)


def test_curate_twice_then_a_threshold_change_reuses_every_score(home, demo_footage, tmp_path, tiny_visual):
    base = _config(tmp_path / "a.yaml", visual=tiny_visual)
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--shard-size", "4", "--config", base)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("materializing " + ", ".join(ALL) + "\n") == 2, r.stdout
    assert "failed: " in r.stdout and "damaged.mp4" in r.stdout  # the damaged file is reported, run still ok
    assert "coarse selection: " in r.stdout
    first = materializations(home)
    assert first == 2 * len(ALL)  # two shards (6 files / 4), every asset once

    r = vidgen("curate", str(demo_footage), "--home", str(home), "--shard-size", "4", "--config", base)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": up to date") == 2 and materializations(home) == first

    store = Store(home)
    shards = sorted({r["shard"] for r in store.rows("clips")})
    score_bytes = {(t, s): open(store.table_file(t, s), "rb").read() for t in SCORES for s in shards}
    before = {r["clip_id"]: r for r in store.rows("coarse_selection")}
    name_of = {v["video_id"]: v["path"].rsplit("/", 1)[-1] for v in store.rows("videos")}
    decided = {name_of[r["video_id"]]: r for r in before.values()}
    assert any(x.startswith("motion_low") for x in decided["static.mp4"]["reasons"])
    assert any(x.startswith("text:") for x in decided["burned_text.mp4"]["reasons"])
    assert not any(x.startswith("motion_") for x in decided["fast_motion.mp4"]["reasons"])

    # A stricter motion threshold: the selection and what follows it re-run; every score file is
    # byte-identical (the scores are not recomputed).
    strict = _config(tmp_path / "b.yaml", visual=tiny_visual, thresholds={"motion_min": 100.0, "motion_max": None})
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", strict)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("materializing coarse_selection, captions, caption_checks, curated_clips\n") == 2
    assert materializations(home) == first + 2 * 4
    for (t, s), data in score_bytes.items():
        assert open(store.table_file(t, s), "rb").read() == data, (t, s)
    after = {r["clip_id"]: r for r in store.rows("coarse_selection")}
    assert after.keys() == before.keys()
    assert all(r["decision"] == "rejected" and any(x.startswith("motion_low") for x in r["reasons"])
               for r in after.values())
    assert [r for r in before.values() if r["decision"] == "kept"] or any(
        before[c]["reasons"] != after[c]["reasons"] for c in before)

    # A clip-length change re-runs clips and everything below it, never scenes.
    clips_before = store.read("clips")
    longer = _config(tmp_path / "c.yaml", visual=tiny_visual, clips={"min_seconds": 3.5})
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", longer)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("materializing " + ", ".join(ALL[3:]) + "\n") == 2
    clips_after = store.read("clips")
    assert clips_after.num_rows < clips_before.num_rows
    assert min(clips_after.column("duration_s").to_pylist()) >= 3.5
    assert {r["clip_id"] for r in store.rows("coarse_selection")} == set(clips_after.column("clip_id").to_pylist())


def test_until_stops_early_and_query_reads_the_catalog(home, demo_footage):
    r = vidgen("curate", str(demo_footage / "static.mp4"), "--home", str(home), "--until", "videos")
    assert r.returncode == 0, r.stderr
    assert "materializing shard_manifest, videos\n" in r.stdout
    out = vidgen("query", "--home", str(home), "--format", "json",
                 "SELECT status, width, height, frame_count FROM videos")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"status": "ok", "width": 320, "height": 180, "frame_count": 96}]
    csv_out = vidgen("query", "--home", str(home), "SELECT count(*) AS n FROM clips")
    assert csv_out.stdout.splitlines() == ["n", "0"]


def test_usage_errors_are_clear_and_nonzero(home, tmp_path, capsys):
    assert main(["curate", str(tmp_path / "missing"), "--home", str(home)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["curate", str(tmp_path / "empty"), "--home", str(home)]) == 2
    assert "no video files found" in capsys.readouterr().err
    assert main(["query", "--home", str(home), "SELECT * FROM nope"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("clips: {min_secs: 1}\n")
    assert main(["config", "show", "--config", str(bad)]) == 2
    assert "unknown configuration key 'clips.min_secs'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["curate"])


def test_config_show_merges_user_file(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ingest: {shard_size: 3}\n")
    assert main(["config", "show", "--config", str(cfg)]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["ingest"]["shard_size"] == 3 and shown["clips"]["min_seconds"] == 2.0
    assert main(["config", "show", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenes"]["cut_detector"] == "cascade"


def test_models_check_reports_backend_weights_and_location(tmp_path, tiny_visual):
    import torch
    from torchvision.models.optical_flow import raft_small

    weights = tmp_path / "raft.pth"
    torch.save(raft_small(weights=None).state_dict(), weights)
    cfg = _config(tmp_path / "m.yaml", visual=tiny_visual, motion={"backend": "raft", "raft_weights": str(weights)})
    r = vidgen("models", "check", "--config", cfg, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {x["step"]: x for x in json.loads(r.stdout)}
    assert rows["motion"]["backend"] == "raft" and rows["motion"]["present"] and rows["motion"]["where"] == str(weights)
    assert rows["ocr"]["backend"] == "rapidocr" and rows["ocr"]["present"]
    assert rows["visual"]["present"] and rows["visual"]["where"].startswith(tiny_visual["clip_model"])
    assert rows["aesthetic"]["present"] and rows["aesthetic"]["where"] == tiny_visual["aesthetic_head"]

    # The defaults offline: RAFT absent (auto -> DIS), CLIP and the LAION head missing, with where to get them.
    env_cfg = _config(tmp_path / "d.yaml", motion={"raft_weights": str(tmp_path / "none.pth")})
    r = vidgen("models", "check", "--config", env_cfg)
    assert r.returncode == 0, r.stderr
    assert "motion     dis" in r.stdout and "does not exist" in r.stdout
    assert "MISSING" in r.stdout and "openai/clip-vit-large-patch14@" in r.stdout
    dry = vidgen("models", "pull", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "hf://openai/clip-vit-large-patch14@" in dry.stdout and "improved-aesthetic-predictor" in dry.stdout


def _now():
    import datetime

    return datetime.datetime.now(datetime.UTC)


def test_recurate_schedule_requests_exactly_the_stale_assets(home, demo_footage, tmp_path, monkeypatch):
    from vidgen_dagster.definitions import build_definitions
    from vidgen_dagster.runner import use_home

    r = vidgen("curate", str(demo_footage), "--home", str(home), "--shard-size", "10")
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    use_home(str(home))
    instance = dg.DagsterInstance.get()
    try:
        defs = build_definitions(str(home))
        schedule = defs.resolve_schedule_def("recurate_stale_shards")
        data = schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=_now(), repository_def=defs.get_repository_def(),
            resources=defs.resources))
        assert not data.run_requests and "up to date" in (data.skip_message or "")
        # ocr.early_exit stops a clip's text scoring at this threshold: text_scores depends on it too.
        strict = _config(tmp_path / "s.yaml", thresholds={"ocr_max_area": 0.5})
        defs = build_definitions(str(home), strict)
        schedule = defs.resolve_schedule_def("recurate_stale_shards")
        data = schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=_now(), repository_def=defs.get_repository_def(),
            resources=defs.resources))
        (req,) = data.run_requests
        assert req.partition_key == Store(home).rows("clips")[0]["shard"]
        assert [k.to_user_string() for k in req.asset_selection] == [
            "text_scores", "coarse_selection", "captions", "caption_checks", "curated_clips"]
    finally:
        instance.dispose()


def test_a_pulled_model_makes_exactly_its_assets_stale(home, media, tmp_path, tiny_models, monkeypatch):
    """Which model runs is the data version of its source asset (`models/<step>`), recorded when curate runs,
    never probed when the code loads: weights appearing at the configured path re-run exactly the scores that
    use them and what lies below; nothing else."""
    from vidgen_dagster.core.coarse.scoring.registry import STAGES
    from vidgen_dagster.defs.graph import build_definitions
    from vidgen_dagster.models import registry

    head = tmp_path / "head.pth"
    config = _config(tmp_path / "c.yaml", visual={"clip_model": tiny_models["clip"], "aesthetic_head": str(head),
                                                  "device": "cpu"})
    clip = str(media / "motion_blurry_vfr__moviepy_fire2.mp4")
    first = vidgen("curate", clip, "--home", str(home), "--config", config, "--until", "coarse_selection")
    assert first.returncode == 0, first.stderr
    head.write_bytes(Path(tiny_models["head"]).read_bytes())  # the user pulls the aesthetic head
    again = vidgen("curate", clip, "--home", str(home), "--until", "coarse_selection")
    assert again.returncode == 0, again.stderr
    assert "materializing visual_scores, coarse_selection\n" in again.stdout, again.stdout
    third = vidgen("curate", clip, "--home", str(home), "--until", "coarse_selection")
    assert ": up to date" in third.stdout and "materializing" not in third.stdout

    def probe(*a, **k):
        raise AssertionError("a model cache was probed while the code loaded")

    # every model status (what `models check` resolves, what a fingerprint hashes) goes through these
    monkeypatch.setattr(registry, "STEPS", {step: probe for step in registry.STEPS})
    for stage in STAGES:
        monkeypatch.setattr(type(stage), "model_status", probe)
    build_definitions(str(home))  # loads without looking at any model


def test_rebalance_makes_the_selections_stale_through_dagster(home, media):
    """The sampling reference is a source asset: `vidgen rebalance` records its new generation and Dagster's
    own staleness re-runs exactly coarse_selection (nothing reads the reference when the code loads)."""
    clip = str(media / "motion_blurry_vfr__moviepy_fire2.mp4")
    assert vidgen("curate", clip, "--home", str(home), "--until", "coarse_selection").returncode == 0
    r = vidgen("rebalance", "--home", str(home))
    assert r.returncode == 0 and "generation 1" in r.stdout, r.stdout + r.stderr
    again = vidgen("curate", clip, "--home", str(home), "--until", "coarse_selection")
    assert again.returncode == 0, again.stderr
    assert "materializing coarse_selection\n" in again.stdout
    third = vidgen("curate", clip, "--home", str(home), "--until", "coarse_selection")
    assert ": up to date" in third.stdout and "materializing" not in third.stdout
