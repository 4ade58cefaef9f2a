"""Safety and integrity (issue 9): ordinary mistakes and crafted input lose nothing and reach nowhere.

Every test drives the real `vidgen` command in a subprocess on real footage and a real Dagster instance."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from cli_helpers import vidgen

from vidgen_dagster.core.common.store import TEMP_HOST, Store
from vidgen_dagster.core.ingest import shards as shardlib

pytestmark = pytest.mark.media

SHORT = "motion_blurry_vfr__moviepy_fire2.mp4"          # 2.4 s, one scene
OTHER = "synthetic_text_colorcuts__pyscenedetect_counter.mp4"  # 3 s, different content
LONG = "static_long__intel_one-by-one-person-detection.mp4"    # 139 s: a scene pass long enough to kill




def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vidgen_dagster.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def states(home: Path) -> dict[str, tuple[str, str]]:
    rows = Store(home).query("SELECT path, state, reason FROM video_states").to_pylist()
    return {Path(r["path"]).name: (r["state"], r["reason"] or "") for r in rows}


@pytest.fixture
def inbox(tmp_path, media) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(media / SHORT, folder / "a.mp4")
    return folder


# -- case 2: a mistyped --home ----------------------------------------------------------------------
def test_commands_refuse_a_home_that_does_not_exist(tmp_path):
    typo = tmp_path / "typo"
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for args in (["export", str(out)], ["query", "SELECT 1"], ["rebalance"], ["config", "show"],
                 ["models", "check"]):
        r = vidgen(*args, "--home", str(typo))
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert f"no vidgen home at {typo}" in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # one line, no traceback
    assert not typo.exists()
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # An existing folder that is not a home is refused the same way.
    r = vidgen("query", "SELECT 1", "--home", str(out))
    assert r.returncode == 2 and "no vidgen home" in r.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


# -- case 8: configuration validated before anything is written --------------------------------------
@pytest.mark.parametrize("config, key", [
    ({"thresholds": {"motion_min": "high"}}, "thresholds.motion_min"),
    ({"clips": {"min_seconds": -5}}, "clips.min_seconds"),
    ({"ingest": {"extensions": ".mp4"}}, "ingest.extensions"),
    ({"ocr": {"frames": ["first", "centre"]}}, "ocr.frames"),
    ({"clips": {"min_seconds": 30, "max_seconds": 20}}, "clips.min_seconds"),
    ({"captions": {"seed": 1.5}}, "captions.seed"),
])
def test_bad_config_values_exit_2_before_anything_is_written(tmp_path, inbox, config, key):
    home = tmp_path / "home"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config))
    r = vidgen("curate", str(inbox), "--home", str(home), "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    assert key in r.stderr and "Traceback" not in r.stderr
    assert not home.exists()


def test_bad_arguments_exit_2_before_anything_is_written(tmp_path, inbox):
    home = tmp_path / "home"
    for args in (["--shard-size", "0"], ["--jobs", "0"], ["--until", "clipz"]):
        r = vidgen("curate", str(inbox), "--home", str(home), *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert not home.exists(), args


# -- the home's configuration of record (issue 10) -----------------------------------------------------
def test_config_is_recorded_in_the_home_and_applied_explicitly(tmp_path, inbox):
    home = tmp_path / "home"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"clips": {"min_seconds": 1.5}}))
    r = vidgen("curate", str(inbox), "--home", str(home), "--config", str(cfg), "--until", "clips")
    assert r.returncode == 0, r.stderr
    assert "clips.min_seconds: 2.0 -> 1.5" in r.stdout
    assert yaml.safe_load((home / "vidgen.yaml").read_text()) == {"clips": {"min_seconds": 1.5}}
    shown = vidgen("config", "show", "--home", str(home), "--format", "json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["clips"]["min_seconds"] == 1.5
    # Without --config the record applies: nothing is stale, nothing re-runs.
    again = vidgen("curate", str(inbox), "--home", str(home), "--until", "clips")
    assert again.returncode == 0, again.stderr
    assert ": up to date" in again.stdout and "materializing" not in again.stdout
    assert "configuration of" not in again.stdout


# -- case 4: bad links and folders named like videos -------------------------------------------------
def test_bad_links_and_folders_are_recorded_and_the_batch_goes_on(tmp_path, inbox):
    home = tmp_path / "home"
    (inbox / "broken.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (inbox / "loop.mp4").symlink_to(inbox / "loop.mp4")
    (inbox / "folder.mp4").mkdir()
    r = vidgen("curate", str(inbox), "--home", str(home), "--until", "scenes")
    assert r.returncode == 0, r.stdout + r.stderr
    got = states(home)
    assert got["a.mp4"][0] == "processed"
    assert got["broken.mp4"][0] == "failed" and "broken symbolic link" in got["broken.mp4"][1]
    assert got["loop.mp4"][0] == "failed" and "loop" in got["loop.mp4"][1]
    assert got["folder.mp4"][0] == "skipped" and "not a file" in got["folder.mp4"][1]


# -- case 3: a source file changed in place or gone -------------------------------------------------
def test_changed_source_is_recurated_and_the_old_version_superseded(tmp_path, inbox, media):
    home = tmp_path / "home"
    assert vidgen("curate", str(inbox), "--home", str(home), "--until", "clips").returncode == 0
    store = Store(home)
    (old,) = store.rows("videos")
    old_clips = {c["clip_id"] for c in store.rows("clips")}
    assert old_clips and all(c.startswith(old["video_id"]) for c in old_clips)

    shutil.copy(media / OTHER, inbox / "a.mp4")  # other footage under the same name
    r = vidgen("curate", str(inbox), "--home", str(home), "--until", "clips")
    assert r.returncode == 0, r.stderr
    assert "changed or gone since registration" in r.stdout and "up to date" not in r.stdout
    rows = {v["status"]: v for v in store.rows("videos")}
    assert set(rows) == {"ok", "superseded"}
    assert rows["superseded"]["video_id"] == old["video_id"] and rows["superseded"]["sha256"] == old["sha256"]
    assert rows["superseded"]["superseded_by"] == rows["ok"]["video_id"] != old["video_id"]
    assert rows["ok"]["sha256"] != old["sha256"]
    new_clips = {c["clip_id"] for c in store.rows("clips")}
    assert not new_clips & old_clips and all(c.startswith(rows["ok"]["video_id"]) for c in new_clips)

    (inbox / "a.mp4").unlink()
    (inbox / "b.mp4").symlink_to(media / SHORT)  # the folder still has footage
    r = vidgen("curate", str(inbox), "--home", str(home), "--until", "clips")
    assert r.returncode == 0, r.stderr
    by_id = {v["video_id"]: v for v in store.rows("videos")}
    assert by_id[rows["ok"]["video_id"]]["status"] == "missing"
    a_states = Store(home).query("SELECT state, reason FROM video_states WHERE path LIKE '%/a.mp4'").to_pylist()
    assert sorted(r["state"] for r in a_states) == ["missing", "superseded"]
    assert {"state": "missing", "reason": "missing: the file disappeared after registration"} in a_states
    assert not [c for c in store.rows("clips") if c["video_id"] == rows["ok"]["video_id"]]


# -- case 5: vidgen query is read-only -----------------------------------------------------------------
def test_query_is_read_only_and_sees_only_the_home(tmp_path, inbox):
    home = tmp_path / "home"
    assert vidgen("curate", str(inbox), "--home", str(home), "--until", "videos").returncode == 0
    victim = Store(home).table_file("videos", Store(home).rows("videos")[0]["shard"])
    before = Path(victim).read_bytes()
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n")
    for sql in (f"COPY (SELECT 1 AS x) TO '{victim}' (FORMAT parquet)",
                f"COPY (SELECT 1 AS x) TO '{tmp_path / 'x.csv'}'",
                f"SELECT * FROM read_csv('{outside}')",
                "SELECT * FROM read_csv('/etc/passwd')",
                "CREATE TEMP TABLE t AS SELECT 1",
                "SET enable_external_access = true",
                f"ATTACH '{tmp_path / 'other.duckdb'}'",
                "SELECT 1; SELECT 2"):
        r = vidgen("query", sql, "--home", str(home))
        assert r.returncode == 2, (sql, r.stdout)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert Path(victim).read_bytes() == before
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "other.duckdb").exists()
    ok = vidgen("query", "SELECT count(*) AS n FROM videos", "--home", str(home))
    assert ok.returncode == 0 and ok.stdout.split() == ["n", "1"]


# -- case 6: manifests are validated ---------------------------------------------------------------
def test_crafted_and_broken_manifests_are_refused_by_name(tmp_path, inbox):
    home = tmp_path / "home"
    assert vidgen("curate", str(inbox), "--home", str(home), "--until", "videos").returncode == 0
    # A well-formed manifest (its shard id even matches) naming a file outside every registered input.
    entry = shardlib.FileEntry.of("/etc/passwd")
    crafted = shardlib.ShardManifest(shardlib.shard_id([entry]), "2026-01-01T00:00:00+00:00", (entry,))
    (home / "manifests" / f"{crafted.shard}.json").write_bytes(crafted.to_json())
    (home / "manifests" / "sh-000000000000.json").write_text("{not json")
    traversal = {"shard": "../../../tmp/x", "registered_at": "", "files": []}
    (home / "manifests" / "sh-111111111111.json").write_text(json.dumps(traversal))

    (inbox / "b.mp4").symlink_to(inbox / "a.mp4")  # new footage: the rest goes on
    r = vidgen("curate", str(inbox), "--home", str(home), "--until", "videos")
    assert r.returncode == 0, r.stdout + r.stderr
    skipped = [line for line in r.stdout.splitlines() if line.startswith("SKIPPED manifest")]
    assert len(skipped) == 3, r.stdout
    assert any(crafted.shard in s and "outside every registered input" in s for s in skipped)
    assert any("sh-000000000000.json" in s and "not a vidgen shard manifest" in s for s in skipped)
    assert any("sh-111111111111.json" in s and "shard id" in s for s in skipped)
    paths = {v["path"] for v in Store(home).rows("videos")}
    assert "/etc/passwd" not in paths and str(inbox / "b.mp4") in paths
    with pytest.raises(shardlib.ManifestError):
        shardlib.load_manifest(Store(home), "../../../tmp/x")


# -- case 7: two first runs at once ----------------------------------------------------------------
def test_two_curates_at_once_on_a_fresh_home_both_succeed(tmp_path, media):
    home = tmp_path / "home"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(media / SHORT, a / "x.mp4")
    shutil.copy(media / OTHER, b / "y.mp4")
    procs = [spawn("curate", str(folder), "--home", str(home), "--until", "clips") for folder in (a, b)]
    queries = []
    while any(p.poll() is None for p in procs):  # queries during the runs never hit a lock
        if (home / "manifests").exists():
            queries.append(vidgen("query", "SELECT count(*) AS n FROM videos", "--home", str(home)))
        time.sleep(0.5)
    outs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
    assert all(q.returncode == 0 for q in queries), [q.stderr for q in queries if q.returncode]
    assert len(Store(home).rows("videos")) == 2
    # Same input, twice at once, on the now-existing home: both succeed and agree there is nothing to do.
    procs = [spawn("curate", str(a), str(b), "--home", str(home), "--until", "clips") for _ in range(2)]
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, out + err
        assert "Traceback" not in err and out.count(": up to date") == 2


# -- case 9: a killed run and its debris -----------------------------------------------------------
def test_a_killed_run_is_marked_failed_and_its_debris_swept(tmp_path, media):
    home = tmp_path / "home"
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(media / LONG, src / "long.mp4")
    proc = spawn("curate", str(src), "--home", str(home), "--until", "scenes", "--jobs", "1")
    instance = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # wait until the scene pass of a real run is under way
            if (home / "tables" / "videos").exists():
                if instance is None:
                    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
                runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
                if runs:
                    break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        (run,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # Debris a killed writer leaves: a temp file whose writer (this dead pid) is gone.
    debris = home / "tables" / "scenes" / f".sh-000000000000.{proc.pid}@{TEMP_HOST}.{'0' * 32}.tmp"
    debris.parent.mkdir(parents=True, exist_ok=True)
    debris.write_bytes(b"half a parquet file")
    live = home / "tables" / "scenes" / f".sh-000000000000.{os.getpid()}@{TEMP_HOST}.{'1' * 32}.tmp"
    live.write_bytes(b"a live writer's file")

    r = vidgen("curate", str(src), "--home", str(home), "--until", "scenes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"marked 1 run(s) failed whose process had died: {run.run_id}" in r.stdout
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not debris.exists() and live.exists()
    assert states(home)["long.mp4"][0] == "processed"
    instance.dispose()


def test_a_file_named_through_a_linked_folder_stays_the_same_file(tmp_path, inbox):
    """Registration resolves the folders of a path (not the file itself): naming the same file again through
    a symlinked folder finds its shard instead of treating it as outside every shard."""
    home = tmp_path / "home"
    link = tmp_path / "link"
    link.symlink_to(inbox)
    first = vidgen("curate", str(link / "a.mp4"), "--home", str(home), "--until", "videos")
    assert first.returncode == 0, first.stderr
    again = vidgen("curate", str(link / "a.mp4"), "--home", str(home), "--until", "videos")
    assert "1 file(s) in 1 shard(s) (0 new)" in again.stdout and ": up to date" in again.stdout, again.stdout
