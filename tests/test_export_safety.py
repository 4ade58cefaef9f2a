"""The export touches only files an export of this tool wrote into OUT (issue 9, case 1).

A real store over one H.264 file rendered here (two kept clips, stream-copied: fast), real exports into
folders prepared the way a careless or hostile user would leave them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from export_helpers import clip_span, render_gop10

from vidgen_dagster.core.common.errors import ExportRefusedError
from vidgen_dagster.core.common.media import decode_frames, probe
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.dataset.export import export_dataset


@pytest.fixture()
def store(home, tmp_path) -> Store:
    src = render_gop10(tmp_path / "gop10.mp4")
    pr = probe(src)
    times = [f.time_s for f in decode_frames(src, 0, (32, 32), pr.start_time_s)]
    store = Store(home)
    store.write("videos", "s1", [{"video_id": "v-gop", "shard": "s1", "path": str(src), "status": "ok",
                                  "stream_index": 0, "start_time_s": pr.start_time_s, "sha256": "a" * 64}])
    spans = {"v-gop-0000": (10, 20), "v-gop-0001": (30, 40), "v-gop-0002": (40, 50)}
    store.write("clips", "s1", [{"clip_id": cid, "video_id": "v-gop", "shard": "s1", **clip_span(times, a, b)}
                                for cid, (a, b) in spans.items()])
    set_kept(store, spans)
    return store


def set_kept(store: Store, clip_ids) -> None:
    store.write("curated_clips", "s1", [{"clip_id": cid, "video_id": "v-gop", "shard": "s1", "state": "kept",
                                         "caption": f"A bar slides ({cid})."} for cid in clip_ids])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and symlink under ``folder`` (symlinks not followed) with its content hash."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(folder))] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _crafted(out: Path, name: str) -> None:
    """A manifest in the old (unproven) shape naming ``name`` as a clip no longer kept."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(
        {"version": 1, "clips": {"gone": {"file": name, "cut_key": "x", "bytes": 6}}, "tars": {}, "formats": []}))


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_a_crafted_manifest_deletes_nothing_outside_out(store, tmp_path, where):
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    out = tmp_path / "out"
    _crafted(out, "../victim" if where == "relative" else str(victim))
    before = snapshot(out)
    with pytest.raises(ExportRefusedError, match="manifest.json is not a manifest this tool's export wrote"):
        export_dataset(store, out)
    assert victim.read_bytes() == b"victim" and snapshot(out) == before


def test_a_manifest_of_our_shape_naming_a_path_outside_is_refused(store, tmp_path):
    """Even with the export id and the record fields right, a name outside our own layout is refused."""
    out = tmp_path / "out"
    export_dataset(store, out)
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("../victim", str(victim), "clips/../../victim"):
        bad = {**manifest, "files": {**manifest["files"], name: {
            "sha256": hashlib.sha256(b"victim").hexdigest(), "bytes": 6, "mtime_ns": victim.stat().st_mtime_ns}}}
        (out / "manifest.json").write_text(json.dumps(bad))
        before = snapshot(out)
        with pytest.raises(ExportRefusedError, match="not a file an export writes"):
            export_dataset(store, out)
        assert victim.read_bytes() == b"victim" and snapshot(out) == before


def test_unrelated_files_in_out_are_left_byte_identical(store, tmp_path):
    out = tmp_path / "out"
    (out / "webdataset").mkdir(parents=True)
    (out / "clips").mkdir()
    theirs = {"x.tmp": b"mine", "shard-000000.tar": b"my tar", "webdataset/shard-000007.tar": b"my other tar",
              "webdataset/.shard-000000.tar.0123456789ab.tmp": b"tmp", "clips/holiday.mp4": b"my clip",
              ".opensora.csv.0123456789ab.tmp": b"tmp", "notes.txt": b"notes"}
    for name, data in theirs.items():
        (out / name).write_bytes(data)
    for _ in range(2):  # the second export finds its own manifest: still nothing of theirs is touched
        s = export_dataset(store, out, clips_per_tar=2)
        assert s["clips"] == 3 and not s["failed"]
        assert {n: (out / n).read_bytes() for n in theirs} == theirs


@pytest.mark.parametrize("name", ["manifest.json", "opensora.csv", "webdataset/shard-000000.tar",
                                  "clips/v-gop-0001.mp4", "README.md", "clips/metadata.jsonl"])
def test_a_file_of_someone_else_where_the_export_writes_is_refused(store, tmp_path, name):
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(b'{"their": "file"}')
    before = snapshot(out)
    with pytest.raises(ExportRefusedError, match="not written by an export|not a manifest") as err:
        export_dataset(store, out)
    assert "\n" not in str(err.value) and str(out.resolve() / name) in str(err.value)
    assert snapshot(out) == before


def test_symlinks_are_never_followed(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "v-gop-0000.mp4").write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clips").symlink_to(elsewhere)  # a clips folder that leads out of OUT
    with pytest.raises(ExportRefusedError, match="symlink"):
        export_dataset(store, out)
    assert snapshot(elsewhere) == {"v-gop-0000.mp4": hashlib.sha256(b"precious").hexdigest()}
    (out / "clips").unlink()

    export_dataset(store, out)
    victim = tmp_path / "victim.csv"
    victim.write_bytes(b"victim")
    (out / "opensora.csv").unlink()
    (out / "opensora.csv").symlink_to(victim)  # one of our names now points outside
    before = snapshot(out)
    with pytest.raises(ExportRefusedError, match="symlink"):
        export_dataset(store, out)
    assert victim.read_bytes() == b"victim" and snapshot(out) == before


def test_reexport_is_idempotent_prunes_what_is_no_longer_kept_and_spares_changed_files(store, tmp_path):
    out = tmp_path / "out"
    s1 = export_dataset(store, out, clips_per_tar=1)
    assert s1["cut"] == 3 and s1["tars"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "vidgen-dagster export" and len(manifest["export_id"]) == 32
    for rel, rec in manifest["files"].items():
        assert rec["sha256"] == hashlib.sha256((out / rel).read_bytes()).hexdigest()
    before = snapshot(out)
    s2 = export_dataset(store, out, clips_per_tar=1)
    assert (s2["cut"], s2["reused"], s2["export_id"]) == (0, 3, s1["export_id"]) and snapshot(out) == before

    # One clip no longer kept: its clip file goes. Someone edited the tar that held it: no longer written
    # (fewer clips) but changed since it was exported, so it is left and forgotten, not removed.
    set_kept(store, ["v-gop-0000", "v-gop-0001"])
    (out / "webdataset" / "shard-000002.tar").write_bytes(b"edited by hand")
    s3 = export_dataset(store, out, clips_per_tar=1)
    assert s3["removed"] == 1 and s3["clips"] == 2 and s3["left"] == ["webdataset/shard-000002.tar"]
    assert not (out / "clips" / "v-gop-0002.mp4").exists()
    assert (out / "webdataset" / "shard-000002.tar").read_bytes() == b"edited by hand"
    assert "webdataset/shard-000002.tar" not in json.loads((out / "manifest.json").read_text())["files"]

    # A file of ours edited since, where the export must write again: refused, nothing touched.
    (out / "vidgen.jsonl").write_text("my notes\n")
    set_kept(store, ["v-gop-0000"])
    before = snapshot(out)
    with pytest.raises(ExportRefusedError, match="vidgen.jsonl exists and was not written by an export"):
        export_dataset(store, out, clips_per_tar=1)
    assert snapshot(out) == before


def test_a_killed_export_still_owns_what_it_wrote(store, tmp_path):
    """Cuts renamed into place after the last manifest save are proven by the journal; its own temp files
    are swept, nobody else's."""
    out = tmp_path / "out"
    s1 = export_dataset(store, out)
    manifest = json.loads((out / "manifest.json").read_text())
    tag = manifest["export_id"][:12]
    # As a kill between cuts leaves it: the manifest from before the clip was cut, the journal line for it,
    # and a half-written temporary file.
    journal = out / f".vidgen-export-{tag}.journal"
    rel = "clips/v-gop-0001.mp4"
    line = {"file": rel, **manifest["files"][rel], "clip": ["v-gop-0001", manifest["clips"]["v-gop-0001"]]}
    journal.write_text(json.dumps(line) + "\n" + '{"file": "clips/v-gop')  # the last line cut short
    del manifest["files"][rel], manifest["clips"]["v-gop-0001"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "clips" / f".v-gop-0002.mp4.{tag}.tmp").write_bytes(b"half a clip")
    s2 = export_dataset(store, out)
    assert s2["reused"] == s1["clips"] and s2["cut"] == 0
    assert not journal.exists() and not (out / "clips" / f".v-gop-0002.mp4.{tag}.tmp").exists()
