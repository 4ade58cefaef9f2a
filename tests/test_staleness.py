"""The record of up-to-date shards (vidgen_dagster/staleness.py): a no-op curate does not ask Dagster's resolver
again, its answer is the resolver's, and anything that could change that answer voids the record."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from cli_helpers import vidgen

from vidgen_dagster.staleness import STAMP, plan_runs

FILES = ("motion_blurry_vfr__moviepy_fire2.mp4", "motion_1080p__pyscenedetect_issue-236-split-copy.mkv")


@pytest.fixture
def curated(home, media, tmp_path):
    """Two one-file shards curated up to ``clips`` (a real run of the CLI)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in FILES:
        shutil.copy(media / name, folder / name)
    r = vidgen("curate", str(folder), "--home", str(home), "--until", "clips", "--shard-size", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    return folder


def _plan(home):
    from vidgen_dagster.defs.graph import build_definitions
    from vidgen_dagster.runner import upstream_of, use_home

    use_home(str(home))
    instance = dg.DagsterInstance.get()
    defs = build_definitions(str(home))
    shards = sorted(instance.get_dynamic_partitions("video_shards"))
    keys = upstream_of(defs, "clips")
    return instance, shards, plan_runs(defs, instance, shards, keys)


def _names(plan, shard):
    return [k.to_user_string() for k in plan.stale[shard]]


def test_after_a_curate_its_shards_are_recorded_up_to_date_and_dagster_agrees(home, curated):
    instance, shards, plan = _plan(home)
    try:
        assert len(shards) == 2
        assert plan.remembered == set(shards)  # recorded by the curate that ran them: no resolver asked
        assert all(plan.stale[s] == [] for s in shards)
        (home / "dagster" / STAMP).unlink()
        _, _, asked = _plan(home)  # without the record: Dagster's own resolver, shard by shard
        assert asked.remembered == set() and all(asked.stale[s] == [] for s in shards)
        assert (home / "dagster" / STAMP).exists()  # an all-clear answer is recorded again
    finally:
        instance.dispose()
    again = vidgen("curate", str(curated), "--home", str(home), "--until", "clips", "--shard-size", "1")
    assert again.returncode == 0 and "materializing" not in again.stdout, again.stdout + again.stderr
    assert again.stdout.count(": up to date") == 2


def test_a_materialisation_from_elsewhere_or_a_wipe_voids_the_record(home, curated):
    instance, shards, _ = _plan(home)
    first, second = shards
    try:
        # Another process (the UI, a script) materialises scenes of one shard with other data.
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="scenes", partition=first, tags={"dagster/data_version": "written-elsewhere"}))
        _, _, plan = _plan(home)
        assert plan.remembered == set()
        assert _names(plan, first) == ["clips"] and _names(plan, second) == []
    finally:
        instance.dispose()
    r = vidgen("curate", str(curated), "--home", str(home), "--until", "clips", "--shard-size", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{first}: materializing clips\n" in r.stdout and f"{second}: up to date" in r.stdout

    instance, shards, plan = _plan(home)
    try:
        assert plan.remembered == set(shards)
        instance.wipe_assets([dg.AssetKey("clips")])  # deletes records, adds none: the head does not move
        _, _, plan = _plan(home)
        assert plan.remembered == set()
        assert _names(plan, first) == ["clips"] and _names(plan, second) == ["clips"]
    finally:
        instance.dispose()
