"""Per-shard Parquet store: atomic replacement, no partial files after a kill, DuckDB catalog views."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vidgen_dagster.core.common.errors import StoreError
from vidgen_dagster.core.common.store import Store, resolve_home


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
    # A child process is stopped for good in the middle of a streaming write (one row group written, the
    # file still a hidden temp file), then killed: no polling race, the kill always lands mid-write.
    script = textwrap.dedent(f"""
        import time
        from vidgen_dagster.core.common.store import Store
        s = Store({str(tmp_path)!r})
        rows = [{{"shard": "s1", "path": "/y/" + str(i), "size_bytes": i, "mtime_ns": i,
                  "registered_at": "new"}} for i in range(1000)]
        with s.writer("shard_manifest", "s1") as write:
            write(rows)
            print("mid-write", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"mid-write"
        folder = tmp_path / "tables" / "shard_manifest"
        assert [n for n in os.listdir(folder) if n.endswith(".tmp")], "the writer's temp file is there"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The visible file is the old, complete version; the catalog glob does not see the temp file.
    table = store.read("shard_manifest", "s1")
    assert table.num_rows == 5 and set(table.column("registered_at").to_pylist()) == {"old"}
    store.refresh_catalog()
    assert store.query("SELECT count(*) AS n FROM shard_manifest").to_pylist()[0]["n"] == 5
    # The dead writer's debris is swept; nothing else is.
    removed = store.sweep_temp_files()
    assert len(removed) == 1 and not [n for n in os.listdir(folder) if n.endswith(".tmp")]
    assert store.read("shard_manifest", "s1").num_rows == 5


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


def test_content_version_is_kept_in_the_footer_and_ignores_timings(tmp_path):
    """The data version Dagster records is the rows' hash, computed while writing: the same rows (timings apart)
    give the same version, other rows another, a streamed write the same as one write of the same parts, and a
    file written without it (an older version of this tool) is hashed from its rows to the same value."""
    import pyarrow.parquet as pq

    from vidgen_dagster.core.common.store import CONTENT_VERSION_KEY

    store = Store(tmp_path / "home")
    run = {"video_id": "v1", "shard": "sh-1", "status": "ok", "frames_decoded": 10, "config_hash": "c"}
    store.write("scene_runs", "sh-1", [{**run, "seconds": 1.5}])
    rows, first = store.footer("scene_runs", "sh-1")
    store.write("scene_runs", "sh-1", [{**run, "seconds": 9.25}])
    assert store.footer("scene_runs", "sh-1") == (rows, first) == (1, first)
    store.write("scene_runs", "sh-1", [{**run, "frames_decoded": 11, "seconds": 1.5}])
    assert store.footer("scene_runs", "sh-1")[1] != first

    parts = [[{"clip_id": f"c{i}", "video_id": "v", "shard": "sh-1", "status": "ok"}] for i in range(3)]
    with store.writer("frame_runs", "sh-1") as write:
        for part in parts:
            write(part)
    streamed = store.footer("frame_runs", "sh-1")
    with store.writer("frame_runs", "sh-1") as write:
        for part in parts:
            write(part)
    assert store.footer("frame_runs", "sh-1") == streamed and streamed[0] == 3

    path = tmp_path / "home" / "tables" / "scene_runs" / "sh-1.parquet"
    store.write("scene_runs", "sh-1", [{**run, "seconds": 1.5}])
    table = pq.read_table(path)
    legacy = table.replace_schema_metadata({k: v for k, v in (table.schema.metadata or {}).items()
                                            if k != CONTENT_VERSION_KEY})
    pq.write_table(legacy, path)
    assert CONTENT_VERSION_KEY not in (pq.read_metadata(path).metadata or {})
    assert store.footer("scene_runs", "sh-1") == (1, first)
