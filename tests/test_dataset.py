"""The unpartitioned dataset assets over a real curated store: export (and report) through Dagster and
the CLI, read back with tarfile + PyAV."""

from __future__ import annotations

import io
import json
import tarfile

import av
import dagster as dg
import pytest
from cli_helpers import vidgen, write_config

from vidgen_dagster.core.common.store import Store
from vidgen_dagster.definitions import build_definitions


@pytest.fixture(scope="module")
def curated_home(tmp_path_factory, demo_footage, tiny_models):
    """The demo footage curated with tiny models; alignment and caption flags off so clips are kept."""
    root = tmp_path_factory.mktemp("dataset")
    config = write_config(root / "c.yaml", tiny_models, thresholds={"alignment_min": None},
                          curation={"flag_sources": []}, judge={"backend": "none"})
    home = root / "home"
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", config)
    assert r.returncode == 0, r.stderr
    return home, config


def materialize(home, config, name: str, monkeypatch) -> dict:
    """Materialise one unpartitioned dataset asset on the home's instance; its metadata."""
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    defs = build_definitions(str(home), config)
    instance = dg.DagsterInstance.get()
    try:
        res = dg.materialize([a for a in defs.assets if a.key.to_user_string() == name],
                             instance=instance, resources=defs.resources)
        assert res.success
        return res.asset_materializations_for_node(name)[0].metadata
    finally:
        instance.dispose()


def test_dataset_export_asset_and_cli_read_back(curated_home, tmp_path, monkeypatch):
    home, config = curated_home
    store = Store(home)
    kept = {r["clip_id"]: r for r in store.rows("curated_clips") if r["state"] == "kept"}
    assert kept, "the fixture must keep some clips"
    meta = materialize(home, config, "dataset_export", monkeypatch)
    assert meta["clips"].value == len(kept) and meta["failed"].value == 0
    out = home / "export"
    with tarfile.open(out / "webdataset" / "shard-000000.tar") as tar:
        names = tar.getnames()
        members = {n.rsplit(".", 1)[0] for n in names}
        assert len(members) == len(kept) and len(names) == 3 * len(kept)  # .mp4 .json .txt
        for key in sorted(members):
            info = json.loads(tar.extractfile(f"{key}.json").read())
            assert info["caption"] == kept[info["clip_id"]]["caption"] == tar.extractfile(f"{key}.txt").read().decode()
            with av.open(io.BytesIO(tar.extractfile(f"{key}.mp4").read())) as c:
                assert sum(1 for _ in c.decode(video=0)) == info["num_frames"]
    lines = [json.loads(x) for x in (out / "vidgen.jsonl").read_text().splitlines()]
    assert {x["clip_id"] for x in lines} == set(kept)

    # The CLI writes the same dataset elsewhere; a second run re-cuts nothing.
    other = tmp_path / "ds"
    r = vidgen("export", str(other), "--home", str(home), "--format", "csv", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert f"exported {len(kept)} clips" in r.stdout
    assert (other / "opensora.csv").read_text().splitlines()[0].startswith(
        "path,text,num_frames,height,width,aspect_ratio,fps,resolution,aes,flow,ocr,match,")
    again = vidgen("export", str(other), "--home", str(home), "--format", "csv", "--format", "jsonl")
    assert f"cut 0, reused {len(kept)}" in again.stdout

    # A folder whose manifest.json is not an export's: refused with one line naming it, exit 2, untouched.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "manifest.json").write_text('{"clips": {"x": {"file": "../victim"}}}')
    refused = vidgen("export", str(theirs), "--home", str(home))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "manifest.json" in refused.stderr
    assert sorted(p.name for p in theirs.iterdir()) == ["manifest.json"]


def test_dataset_report_asset_shows_tables_and_plots_in_metadata(curated_home, monkeypatch):
    home, config = curated_home
    meta = materialize(home, config, "dataset_report", monkeypatch)
    html = home / "report" / "report.html"
    assert html.is_file() and meta["html_report"].value == str(html)
    assert "funnel" in meta and "table1" in meta
    # Every plot in one markdown entry (one click in the UI), each scaled to fit the metadata dialog.
    import base64
    import re

    from PIL import Image

    from vidgen_dagster.defs.dataset import PLOT_WIDTH

    md = meta["plots"].value
    names = re.findall(r"!\[(\w+)\]\(data:image/png;base64,", md)
    assert {"motion", "funnel", "category", "aesthetic"} <= set(names)
    for data in re.findall(r"base64,([A-Za-z0-9+/=]+)\)", md):
        assert Image.open(io.BytesIO(base64.b64decode(data))).width <= PLOT_WIDTH
    assert not [k for k in meta if k.startswith("plot_") and "data:image" in str(meta[k].value)]
    store = Store(home)
    kept = sum(r["state"] == "kept" for r in store.rows("curated_clips"))
    assert str(kept) in meta["table1"].value
