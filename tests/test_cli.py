"""The `vidgen` command end to end on a real Dagster instance under <home>."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import pytest
import yaml

from vidgen_dagster.cli import main
from vidgen_dagster.core.store import Store


def vidgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", *args], capture_output=True, text=True)


def materializations(home) -> int:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return sum(
            len(instance.fetch_materializations(dg.AssetKey(k), limit=1000).records)
            for k in ["shard_manifest", "videos", "scenes", "clips"]
        )
    finally:
        instance.dispose()


def test_curate_twice_materialises_nothing_new_and_config_change_reruns_only_clips(home, demo_footage, tmp_path):
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--shard-size", "4")
    assert r.returncode == 0, r.stderr
    assert "materializing shard_manifest, videos, scenes, clips" in r.stdout
    assert "failed: " in r.stdout and "damaged.mp4" in r.stdout  # the damaged file is reported, run still ok
    first = materializations(home)
    assert first == 2 * 4  # two shards (6 files / 4), four assets each

    r = vidgen("curate", str(demo_footage), "--home", str(home), "--shard-size", "4")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": up to date") == 2 and materializations(home) == first

    clips_before = Store(home).read("clips")
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("clips: {min_seconds: 3.5, max_seconds: 20.0}\n")
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("materializing clips\n") == 2
    assert materializations(home) == first + 2
    clips_after = Store(home).read("clips")
    assert clips_after.num_rows < clips_before.num_rows
    assert min(clips_after.column("duration_s").to_pylist()) >= 3.5


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
    assert json.loads(capsys.readouterr().out)["scenes"]["cut_detector"] == "content"
