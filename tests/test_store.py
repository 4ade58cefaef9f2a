"""Per-shard Parquet store: atomic replacement, no partial files after a kill, DuckDB catalog views."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from vidgen_dagster.core.errors import StoreError
from vidgen_dagster.core.store import Store, resolve_home


def _rows(n, tag="a"):
    return [{"shard": "s1", "path": f"/x/{tag}{i}.mp4", "size_bytes": i, "mtime_ns": i, "registered_at": tag}
            for i in range(n)]


def test_rewrite_replaces_rows_never_appends(tmp_path):
    store = Store(tmp_path)
    store.write("shard_manifest", "s1", _rows(3))
    store.write("shard_manifest", "s1", _rows(2, "b"))
    store.write("shard_manifest", "s2", _rows(1, "c"))
    assert store.read("shard_manifest", "s1").num_rows == 2
    assert store.read("shard_manifest").num_rows == 3
    store.refresh_catalog()
    got = store.query("SELECT registered_at, count(*) AS n FROM shard_manifest GROUP BY 1 ORDER BY 1").to_pylist()
    assert got == [{"registered_at": "b", "n": 2}, {"registered_at": "c", "n": 1}]
    assert sorted(os.listdir(tmp_path / "tables" / "shard_manifest")) == ["s1.parquet", "s2.parquet"]


def test_empty_tables_have_typed_views(tmp_path):
    store = Store(tmp_path)
    store.refresh_catalog()
    assert store.query("SELECT count(*) AS n FROM clips").to_pylist() == [{"n": 0}]
    cols = store.query("DESCRIBE videos").column("column_name").to_pylist()
    assert cols[:4] == ["video_id", "shard", "path", "status"]


def test_killed_write_leaves_old_file_and_no_partial(tmp_path):
    store = Store(tmp_path)
    store.write("shard_manifest", "s1", _rows(5, "old"))
    # A child process writes a big table over and over; kill -9 it while a temp file exists.
    script = textwrap.dedent(f"""
        from vidgen_dagster.core.store import Store
        s = Store({str(tmp_path)!r})
        rows = [{{"shard": "s1", "path": "/y/" + "z" * 200 + str(i), "size_bytes": i, "mtime_ns": i,
                  "registered_at": "new"}} for i in range(400_000)]
        print("ready", flush=True)
        while True:
            s.write("shard_manifest", "s1", rows)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    folder = tmp_path / "tables" / "shard_manifest"
    deadline = time.time() + 60
    while time.time() < deadline and not any(n.endswith(".tmp") for n in os.listdir(folder)):
        time.sleep(0.005)
    assert any(n.endswith(".tmp") for n in os.listdir(folder)), "never caught the writer mid-write"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Whatever the kill interrupted, the visible file is one complete version.
    table = store.read("shard_manifest", "s1")
    assert table.num_rows in (5, 400_000)
    assert set(table.column("registered_at").to_pylist()) in ({"old"}, {"new"})
    store.refresh_catalog()
    n = store.query("SELECT count(*) AS n FROM shard_manifest").to_pylist()[0]["n"]
    assert n == table.num_rows  # the catalog glob does not see the hidden temp file


def test_bad_names_are_refused(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StoreError):
        store.write("no_such_table", "s1", [])
    with pytest.raises(StoreError):
        store.write("clips", "../escape", [])


def test_home_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_HOME", str(tmp_path / "h"))
    assert resolve_home(None) == str(tmp_path / "h")
    assert resolve_home(tmp_path / "x") == str(tmp_path / "x")
    assert resolve_home("s3://bucket/prefix/") == "s3://bucket/prefix"
    monkeypatch.delenv("VIDGEN_HOME")
    monkeypatch.chdir(tmp_path)
    assert resolve_home(None) == str(tmp_path / "vidgen_home")


def test_writer_streams_row_groups_and_is_atomic(tmp_path):
    store = Store(tmp_path / "home")
    rows = [{"clip_id": f"c{i}", "video_id": "v", "shard": "sh-1", "status": "ok"} for i in range(5)]
    with store.writer("frame_runs", "sh-1") as write:
        write(rows[:2])
        write([])
        write(rows[2:])
    assert [r["clip_id"] for r in store.rows("frame_runs", "sh-1")] == [f"c{i}" for i in range(5)]
    # A failure inside the block keeps the previous file and leaves no temp file behind.
    with pytest.raises(RuntimeError):
        with store.writer("frame_runs", "sh-1") as write:
            write(rows[:1])
            raise RuntimeError("killed mid-write")
    assert len(store.rows("frame_runs", "sh-1")) == 5
    folder = tmp_path / "home" / "tables" / "frame_runs"
    assert sorted(p.name for p in folder.iterdir()) == ["sh-1.parquet"]
