"""An object-store home for real: a moto S3 server subprocess on 127.0.0.1, pyarrow's S3 client, DuckDB
views over Arrow datasets, and the `vidgen` command in subprocesses (curate, query, export, report)."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("moto.server", reason="moto[server] (the dev extra) provides the S3 server")

from s3_server import S3Server, StallingProxy  # noqa: E402

from vidgen_dagster.core.common.errors import StoreError
from vidgen_dagster.core.common.store import Store

BUCKET = "vidgen-test"


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def s3_env(s3, monkeypatch):
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    return s3


def _keys(s3, prefix: str) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _manifest_rows(n, tag, shard="s1"):
    return [{"shard": shard, "path": f"/x/{tag}{i}.mp4", "size_bytes": i, "mtime_ns": i, "registered_at": tag}
            for i in range(n)]


def test_store_round_trip_on_s3(s3_env, request):
    home = f"s3://{BUCKET}/{request.node.name}"
    store = Store(home)
    assert not store.is_local and not store.exists()
    with pytest.raises(StoreError, match="no vidgen home"):
        store.require()
    with pytest.raises(StoreError, match="local disk"):
        store.catalog_path  # noqa: B018 - the property is the thing under test
    store.write("shard_manifest", "s1", _manifest_rows(3, "a"))
    store.write("shard_manifest", "s1", _manifest_rows(2, "b"))  # replaces, never appends
    store.write("shard_manifest", "s2", _manifest_rows(1, "c", "s2"))
    with store.writer("frame_runs", "s1") as write:
        write([{"clip_id": "c0", "video_id": "v", "shard": "s1", "status": "ok"}])
        write([{"clip_id": "c1", "video_id": "v", "shard": "s1", "status": "failed"}])
    store.write_bytes("manifests/s1.json", b"{}")
    assert store.exists() and Store(home).require()
    assert store.read("shard_manifest").num_rows == 3
    got = store.query("SELECT registered_at, count(*) AS n FROM shard_manifest GROUP BY 1 ORDER BY 1").to_pylist()
    assert got == [{"registered_at": "b", "n": 2}, {"registered_at": "c", "n": 1}]
    assert store.query("SELECT count(*) AS n FROM clips").to_pylist() == [{"n": 0}]  # typed empty view
    assert store.query("SELECT status FROM frame_runs ORDER BY clip_id").column("status").to_pylist() == \
        ["ok", "failed"]
    # Only the final objects exist: no temporary keys, no directory markers, nothing spooled left behind.
    prefix = f"{request.node.name}/"
    assert _keys(s3_env, prefix) == [prefix + k for k in (
        "manifests/s1.json", "tables/frame_runs/s1.parquet", "tables/shard_manifest/s1.parquet",
        "tables/shard_manifest/s2.parquet")]
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f".vidgen-spool-*.{os.getpid()}@*.tmp"))
    store.delete("manifests/s1.json")
    assert "manifests/s1.json" not in [k[len(prefix):] for k in _keys(s3_env, prefix)]


def test_user_query_on_s3_is_locked_down(s3_env, request):
    store = Store(f"s3://{BUCKET}/{request.node.name}")
    store.write("shard_manifest", "s1", _manifest_rows(4, "a"))
    assert store.user_query("SELECT count(*) AS n FROM shard_manifest").to_pylist() == [{"n": 4}]
    for sql in ("SELECT * FROM read_csv('/etc/passwd')",
                f"SELECT * FROM read_parquet('s3://{BUCKET}/{request.node.name}/tables/shard_manifest/s1.parquet')",
                "COPY (SELECT 1) TO '/tmp/vidgen-s3-escape.csv'",
                "SET enable_external_access = true"):
        with pytest.raises(Exception):  # noqa: B017 - DuckDB's permission, IO or our StoreError: all refusals
            store.user_query(sql)
    assert not os.path.exists("/tmp/vidgen-s3-escape.csv")


def test_failed_streamed_write_keeps_the_old_object(s3_env, request):
    """Arrow's S3 stream completes its upload when closed, also on an exception: the store must never
    open it before the whole file exists, or a failure mid-way would publish half a file."""
    store = Store(f"s3://{BUCKET}/{request.node.name}")
    rows = [{"clip_id": f"c{i}", "video_id": "v", "shard": "s1", "status": "ok"} for i in range(5)]
    with store.writer("frame_runs", "s1") as write:
        write(rows)
    key = f"{request.node.name}/tables/frame_runs/s1.parquet"
    before = s3_env.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with pytest.raises(RuntimeError):
        with store.writer("frame_runs", "s1") as write:
            write(rows[:2])
            raise RuntimeError("failed mid-write")
    with pytest.raises(RuntimeError):
        with store.writer("frame_runs", "s2") as write:
            write(rows[:2])
            raise RuntimeError("failed mid-write")
    assert s3_env.client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == before
    assert _keys(s3_env, f"{request.node.name}/") == [key]
    assert len(store.rows("frame_runs")) == 5
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f".vidgen-spool-*.{os.getpid()}@*.tmp"))


def test_writer_killed_mid_upload_leaves_no_object(s3_env, request, tmp_path, monkeypatch):
    """A writer frozen in the last part of uploading a 24 MiB shard file (a multipart upload is open on
    the server and holds its first parts) and then SIGKILLed: at no point is there an object under the
    final key, and the table reads as before."""
    name = request.node.name
    store = Store(f"s3://{BUCKET}/{name}")
    small = [{"clip_id": "c0", "video_id": "v", "shard": "s1", "frame_index": 0, "jpeg": b"x"}]
    store.write("frames", "s1", small)
    # Arrow uploads 10 MiB parts side by side (10 + 10 + 4 MiB here): at 22 MiB the small one is stored.
    proxy = StallingProxy(s3_env.port, limit=22 * 2**20)
    script = textwrap.dedent(f"""
        import os, sys
        from vidgen_dagster.core.common.store import Store
        store = Store("s3://{BUCKET}/{name}")
        with store.writer("frames", "big") as write:
            for i in range(24):  # incompressible: the file is as large as the payload
                write([{{"clip_id": f"c{{i}}", "video_id": "v", "shard": "big", "frame_index": i,
                        "jpeg": os.urandom(2**20)}}])
            print("spooled", flush=True)
        print("uploaded", flush=True)
    """)
    env = {**os.environ, **s3_env.env(proxy.endpoint), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    final = f"{name}/tables/frames/big.parquet"
    client = s3_env.client()
    try:
        assert proc.stdout.readline().strip() == "spooled"
        assert proxy.stalled.wait(120), "the upload never reached the proxy's limit"
        uploads, parts = [], []
        deadline = time.time() + 60
        while time.time() < deadline and not parts:  # the server may still be storing the part it got
            uploads = [u for u in client.list_multipart_uploads(Bucket=BUCKET, Prefix=name).get("Uploads", [])
                       if u["Key"] == final]
            if uploads:
                parts = client.list_parts(Bucket=BUCKET, Key=final, UploadId=uploads[0]["UploadId"]).get("Parts", [])
            time.sleep(0.1)
        assert uploads, "no multipart upload open on the server while the writer is stalled\n" + s3_env.log_tail()
        assert parts, "no part stored before the stall: the writer was not caught mid-upload\n" + s3_env.log_tail()
        assert proc.poll() is None  # still writing, frozen mid-upload
        assert final not in _keys(s3_env, f"{name}/")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proxy.close()
    assert _keys(s3_env, f"{name}/") == [f"{name}/tables/frames/s1.parquet"]
    assert [r["clip_id"] for r in store.rows("frames")] == ["c0"]
    assert store.query("SELECT count(*) AS n FROM frames").to_pylist() == [{"n": 1}]
    # The dead writer's local spool file is debris a later curate sweeps (its pid is gone).
    spooled = glob.glob(str(tmp_path / f".vidgen-spool-big.{proc.pid}@*.tmp"))
    assert len(spooled) == 1
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert store.sweep_temp_files() == spooled and not os.path.exists(spooled[0])
    print(f"killed mid-upload: {proxy.forwarded / 2**20:.0f} MiB sent, parts stored "
          f"{[(p['PartNumber'], p['Size']) for p in parts]}, no object")


def _vidgen(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=1800)


@pytest.mark.media
def test_vidgen_commands_on_an_s3_home(s3_env, media, tmp_path):
    """curate, query, a second curate, export and report through the real command on s3://bucket/prefix,
    with the Dagster instance in $DAGSTER_HOME; nothing of the home lands on local disk."""
    prefix = "cli/home"
    home = f"s3://{BUCKET}/{prefix}"
    files = [str(media / "bw_oldfilm__moviepy_chaplin.mp4"), str(media / "dim_handheld__decord_flipping_a_pancake.mkv")]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIDGEN_HOME", "DAGSTER_HOME", "AWS_ENDPOINT_URL_S3")}
    env.update(s3_env.env(), VIDGEN_PROGRESS="plain")

    r = _vidgen(env, "curate", *files, "--home", home, cwd=cwd)  # no $DAGSTER_HOME: refused, nothing written
    assert r.returncode == 2 and "DAGSTER_HOME" in r.stderr, r.stderr
    assert _keys(s3_env, f"{prefix}/") == []

    env["DAGSTER_HOME"] = str(tmp_path / "dagster")
    timings = {}
    t0 = time.perf_counter()
    r = _vidgen(env, "curate", *files, "--home", home, cwd=cwd)
    timings["curate"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"catalog: in-memory views over {home}/tables" in r.stdout
    keys = _keys(s3_env, f"{prefix}/")
    for table in ("videos", "clips", "frames", "coarse_selection", "curated_clips"):
        assert sum(k.startswith(f"{prefix}/tables/{table}/") and k.endswith(".parquet") for k in keys) == 1, keys
    assert not [k for k in keys if k.rsplit("/", 1)[-1].startswith(".")]  # no temporary objects
    assert (tmp_path / "dagster" / "dagster.yaml").is_file()
    assert list(cwd.iterdir()) == []  # no "s3:" folder or catalog file made locally

    store = Store(home)
    curated = store.rows("curated_clips")
    kept = sorted(c["clip_id"] for c in curated if c["state"] == "kept")
    assert kept, "the two files should leave at least one clip to export"
    videos = sorted(v["path"] for v in store.rows("videos"))
    assert videos == sorted(str(Path(f).parent.resolve() / Path(f).name) for f in files)  # folders resolved

    t0 = time.perf_counter()
    r = _vidgen(env, "query", "--home", home, "--format", "json",
                "SELECT clip_id FROM curated_clips WHERE state = 'kept' ORDER BY clip_id", cwd=cwd)
    timings["query"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert [row["clip_id"] for row in json.loads(r.stdout)] == kept
    r = _vidgen(env, "query", "--home", home, "SELECT * FROM read_csv('/etc/passwd')", cwd=cwd)
    assert r.returncode == 2 and "root:" not in r.stdout

    t0 = time.perf_counter()
    r = _vidgen(env, "curate", *files, "--home", home, cwd=cwd)
    timings["curate again"] = time.perf_counter() - t0
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stdout[-2000:]

    r = _vidgen(env, "export", "--home", home, cwd=cwd)  # the default <home>/export is not a local folder
    assert r.returncode == 2 and "object store" in r.stderr, r.stderr
    out = tmp_path / "export"
    t0 = time.perf_counter()
    r = _vidgen(env, "export", str(out), "--home", home, cwd=cwd)
    timings["export"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    import pyarrow.parquet as pq

    exported = sorted(pq.read_table(out / "clips.parquet").column("clip_id").to_pylist())
    assert exported == kept
    assert len(list((out / "clips").glob("*.mp4"))) == len(kept)

    t0 = time.perf_counter()
    r = _vidgen(env, "report", "--home", home, cwd=cwd)
    timings["report"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    html_uri = f"{home}/report/report.html"
    assert f"report: {html_uri}" in r.stdout
    html = store.read_bytes("report/report.html").decode()
    assert "<html" in html and "Curation funnel" in html
    assert f"{prefix}/report/fig_funnel.png" in _keys(s3_env, f"{prefix}/report/")
    assert list(cwd.iterdir()) == []
    print("s3 home timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
