"""The Dagster side: definitions load, each asset materialises per shard, the footage sensor."""

from __future__ import annotations

import json
import os
import shutil
import time

import dagster as dg
import pytest

from vidgen_dagster.core.coarse.scoring.registry import STAGES
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.ingest import shards as shardlib
from vidgen_dagster.definitions import build_definitions
from vidgen_dagster.defs.checks import ASSET_TABLES
from vidgen_dagster.defs.resources import video_shards
from vidgen_dagster.models.registry import STEPS

ASSET_ORDER = ["shard_manifest", "videos", "scenes", "clips"]
COARSE = ["frames", *(s.name for s in STAGES), "coarse_selection"]  # one score asset per registered stage
CURATION = ["captions", "caption_checks", "curated_clips"]


def test_definitions_load(home):
    defs = build_definitions(str(home))
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    models = [f"{step}_model" for step in STEPS]  # one source asset per model-bound step (defs/models.py)
    assert keys == set(ASSET_ORDER + COARSE + CURATION + ["dataset_export", "dataset_report", "sampling_reference",
                                                          *models])
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"shard_accounting", "coarse_accounting", "curated_accounting", "schema", "kept_rate",
            "failure_rate"} == checks
    # Blocking accounting checks run in their asset's own step; the others in one step, so a shard run
    # has one check step whatever its assets (a step costs event writes).
    graph = defs.resolve_asset_graph()
    checks_of = {k.asset_key.to_user_string(): k.name for k in graph.asset_check_keys if k.name.endswith("accounting")}
    for asset, name in checks_of.items():
        assert dg.AssetCheckKey(dg.AssetKey(asset), name) in graph.get(dg.AssetKey(asset)).check_keys
    assert defs.resolve_schedule_def("recurate_stale_shards") is not None
    assert defs.resolve_job_def("curate_shard") is not None
    assert defs.resolve_sensor_def("footage_sensor") is not None


def test_code_version_follows_the_config(home, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("clips: {min_seconds: 3.0}\n")
    a = build_definitions(str(home)).resolve_asset_graph()
    b = build_definitions(str(home), str(cfg)).resolve_asset_graph()
    ver = lambda g, k: g.get(dg.AssetKey(k)).code_version  # noqa: E731
    assert ver(a, "clips") != ver(b, "clips")
    assert ver(a, "scenes") == ver(b, "scenes")
    # A threshold changes the decision asset's version only, never a score's.
    cfg.write_text("thresholds: {motion_min: 0.02}\n")
    c = build_definitions(str(home), str(cfg)).resolve_asset_graph()
    changed = [k for k in ASSET_ORDER + COARSE + CURATION if ver(a, k) != ver(c, k)]
    assert changed == ["coarse_selection"]


@pytest.fixture
def shard(home, demo_footage, tmp_path):
    """A registered shard of the demo footage plus a copy under a hostile name and an exact duplicate."""
    folder = tmp_path / "footage"
    shutil.copytree(demo_footage, folder)
    shutil.copy(folder / "hard_cuts.mp4", folder / "it's a \"cut\"; rm -rf ünïcödé 日本.mp4")
    entries = [shardlib.FileEntry.of(p) for p in shardlib.discover([folder], [".mp4"])]
    (m,) = shardlib.register(Store(home), entries, shard_size=50)
    return m.shard


def test_each_asset_materialises_for_a_shard(home, shard):
    defs = build_definitions(str(home))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(video_shards.name, [shard])
    assets = [*defs.assets, *defs.asset_checks]
    store = Store(home)
    for name in ASSET_ORDER:
        res = dg.materialize(assets, selection=[name], partition_key=shard, instance=instance,
                             resources=defs.resources)
        assert res.success
        mat = res.asset_materializations_for_node(name)[0]
        assert mat.partition == shard
        assert mat.metadata["dagster/row_count"].value == store.read(name, shard).num_rows

    videos = {os.path.basename(r["path"]): r for r in store.rows("videos", shard)}
    assert len(videos) == 7
    assert videos["damaged.mp4"]["status"] == "ok"  # the header probes fine ...
    runs = {r["video_id"]: r for r in store.rows("scene_runs", shard)}
    assert runs[videos["damaged.mp4"]["video_id"]]["status"] == "failed"  # ... the bitstream does not
    assert runs[videos["damaged.mp4"]["video_id"]]["error"].startswith("decode_failed: bitstream broke after frame")
    # The hostile name is the duplicate or the original of hard_cuts.mp4: exactly one of them is ok.
    pair = [videos["hard_cuts.mp4"], videos["it's a \"cut\"; rm -rf ünïcödé 日本.mp4"]]
    assert sorted(v["status"] for v in pair) == ["duplicate", "ok"]
    dup = next(v for v in pair if v["status"] == "duplicate")
    assert dup["duplicate_of"] == next(v for v in pair if v["status"] == "ok")["video_id"]

    scenes = store.rows("scenes", shard)
    hard = [s for s in scenes if s["video_id"] == videos["hard_cuts.mp4"]["video_id"] or
            s["video_id"] == dup["duplicate_of"]]
    assert [s["start_frame"] for s in hard] == [0, 72, 144]
    assert [s["boundary"] for s in hard] == ["start", "cut", "cut"]
    fade = [s for s in scenes if s["video_id"] == videos["fade.mp4"]["video_id"]]
    assert [s["boundary"] for s in fade] == ["start", "fade"]

    clips = store.rows("clips", shard)
    assert clips and all(2.0 <= c["duration_s"] <= 20.0 for c in clips)
    assert len({c["clip_id"] for c in clips}) == len(clips)

    # Every video in exactly one state: the blocking accounting check passed with the clips ...
    checks = [e.asset_check_evaluation_data for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert sorted((c.check_name, c.passed) for c in checks) == [
        ("schema", True), ("shard_accounting", True)]
    # The clips' own check ran with clips; the coarse graph's check runs with coarse_selection.
    # ... and fails when a row goes missing.
    from vidgen_dagster.core.scenes.stages import account_shard

    assert account_shard(store, shard) == []
    all_clips = store.read("clips", shard)
    store.write("clips", shard, all_clips.slice(1))
    assert any("in clips False and dropped 0 times" in p for p in account_shard(store, shard))
    store.write("clips", shard, all_clips)
    # In a real run the failed check stops the run at clips: recorded, and nothing below it runs.
    runs_table = store.read("scene_runs", shard)
    store.write("scene_runs", shard, runs_table.slice(1))
    res = dg.materialize(assets, selection=["clips", "frames"], partition_key=shard, instance=instance,
                         resources=defs.resources, raise_on_error=False)
    assert not res.success
    failed = [e.asset_check_evaluation_data for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [(c.check_name, c.passed) for c in failed if c.check_name == "shard_accounting"] == [
        ("shard_accounting", False)]
    assert res.asset_materializations_for_node("clips") and not res.asset_materializations_for_node("frames")
    store.write("scene_runs", shard, runs_table)
    assert dg.materialize(assets, selection=["clips"], partition_key=shard, instance=instance,
                          resources=defs.resources).success  # repaired: the check passes again
    store.refresh_catalog()
    states = store.query("SELECT state, count(*) AS n FROM video_states GROUP BY 1 ORDER BY 1").to_pylist()
    assert states == [{"state": "duplicate", "n": 1}, {"state": "failed", "n": 1}, {"state": "processed", "n": 5}]

    # A re-run gives the same rows.
    before = {t: store.read(t, shard).drop_columns(["seconds"]) if t == "scene_runs" else store.read(t, shard)
              for t in ["videos", "scene_runs", "scenes", "clips", "dropped_scenes"]}
    assert dg.materialize(assets, selection=ASSET_ORDER[1:], partition_key=shard, instance=instance,
                          resources=defs.resources).success
    for t, table in before.items():
        again = store.read(t, shard)
        again = again.drop_columns(["seconds"]) if t == "scene_runs" else again
        assert again.equals(table), t


def test_footage_sensor_waits_for_settled_files_and_registers_once(home, demo_footage, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("VIDGEN_INBOX", str(inbox))
    # Only "unchanged since the previous tick" settles a file here: with an hour of settle time the test
    # does not depend on how fast this machine gets from copying a file to the next tick.
    home.mkdir(parents=True)
    (home / "vidgen.yaml").write_text("ingest: {settle_seconds: 3600}\n")
    defs = build_definitions(str(home))
    sensor = defs.resolve_sensor_def("footage_sensor")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources)
        return sensor(ctx)

    empty = tick(None)
    assert not empty.run_requests

    # A file still being written (fresh mtime) is not registered on first sight...
    for name in ["static.mp4", "fade.mp4", "burned_text.mp4"]:
        shutil.copy(demo_footage / name, inbox / name)
    first = tick(None)
    assert not first.run_requests
    cursor = first.cursor
    assert len(json.loads(cursor)["seen"]) == 3
    # ... it is once it has not changed since the previous tick.
    second = tick(cursor)
    assert len(second.run_requests) == 1
    shard = second.run_requests[0].partition_key
    assert second.dynamic_partitions_requests[0].partition_keys == [shard]
    manifest = shardlib.load_manifest(Store(home), shard)
    assert sorted(os.path.basename(f.path) for f in manifest.files) == ["burned_text.mp4", "fade.mp4", "static.mp4"]
    instance.add_dynamic_partitions(video_shards.name, [shard])
    # Nothing new: nothing requested, nothing registered twice.
    third = tick(second.cursor)
    assert not third.run_requests
    # A file that keeps growing stays pending.
    growing = inbox / "growing.mp4"
    growing.write_bytes(b"\0" * 10)
    c = tick(third.cursor or second.cursor).cursor
    with open(growing, "ab") as f:
        f.write(b"\0" * 10)
    os.utime(growing, ns=(time.time_ns(), time.time_ns()))
    assert not tick(c).run_requests


def test_coarse_graph_offline_reports_filters_not_applied_and_accounts_for_every_clip(home, shard, tmp_path,
                                                                                      monkeypatch):
    """Default configuration with no model weights: DIS motion, rapidocr OCR, quality measures; CLIP
    scores are missing, so the aesthetic/consistency filters and category sampling are reported as
    not applied (in metadata), never silently passed."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch"))
    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path / "empty-models"))
    defs = build_definitions(str(home))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(video_shards.name, [shard])
    res = dg.materialize([*defs.assets, *defs.asset_checks], partition_key=shard, instance=instance,
                         resources=defs.resources)
    assert res.success
    meta = {k: res.asset_materializations_for_node(k)[0].metadata for k in COARSE}
    store = Store(home)
    n_clips = store.read("clips", shard).num_rows
    assert meta["frames"]["dagster/row_count"].value == n_clips
    assert meta["motion_scores"]["backend"].value.startswith("dis (opencv")
    assert meta["text_scores"]["backend"].value.startswith("rapidocr (PP-OCRv6_det")
    assert meta["visual_scores"]["unavailable"].value.startswith("model_unavailable: CLIP model")
    sel = meta["coarse_selection"]
    assert "aesthetic_min" in sel["filters_not_applied"].value and "consistency_min" in sel["filters_not_applied"].value
    assert sel["sampling"].value == "not applied: category scores missing" or sel["kept"].value == 0
    rows = store.rows("visual_scores", shard)
    assert all(r["status"] == "partial" and r["aesthetic"] is None and r["sharpness"] is not None for r in rows)
    checks = {(e.asset_check_evaluation_data.asset_key.to_user_string(), e.asset_check_evaluation_data.check_name):
              e.asset_check_evaluation_data.passed
              for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    accounting = {k: v for k, v in checks.items() if k[1].endswith("accounting")}
    assert accounting == {("clips", "shard_accounting"): True, ("coarse_selection", "coarse_accounting"): True,
                          ("curated_clips", "curated_accounting"): True}
    schema = {k[0]: v for k, v in checks.items() if k[1] == "schema"}
    assert set(schema) == set(ASSET_TABLES) and all(schema.values())
    # A stage's version is one hash: its asset's code version and its rows' config_hash.
    graph = defs.resolve_asset_graph()
    for stage in STAGES:
        version = stage.version(load_config())
        assert graph.get(dg.AssetKey(stage.name)).code_version == f"1-{version}"
        assert {r["config_hash"] for r in store.rows(stage.name, shard)} == {version}
    # Warning-level rate checks ran too.
    assert ("curated_clips", "kept_rate") in checks and checks[("videos", "failure_rate")] is True
    # No VLM offline: with curation.require_caption auto, the clips coarse selection kept are kept
    # uncaptioned, and curated_clips says so ("captions" not applied).
    caps = store.rows("captions", shard)
    assert {r["status"] for r in caps} <= {"skipped", "unavailable"}
    assert all(r["error"].startswith("model_unavailable: captioning VLM") for r in caps if r["status"] == "unavailable")
    final = store.rows("curated_clips", shard)
    coarse_kept = {r["clip_id"] for r in store.rows("coarse_selection", shard) if r["decision"] == "kept"}
    kept = [r for r in final if r["state"] == "kept"]
    assert len(final) == n_clips and {r["clip_id"] for r in kept} == coarse_kept
    assert all(r["caption"] is None and "captions" in r["not_applied"] for r in kept)
    # The check is not a formality: a lost score row is caught.
    from vidgen_dagster.core.coarse.stages import account_coarse

    full = store.read("text_scores", shard)
    store.write("text_scores", shard, full.slice(1))
    assert any("missing from text_scores" in p for p in account_coarse(store, shard))
