"""A new user's path, through the real `vidgen` command in subprocesses: the demo ends in an exported
dataset and a report and says which stages ran with which models; `status`, `report`, `export` (a
materialisation of dataset_export in the home's instance), `--version`; failed warning checks in the
summary naming their shard; progress bars on a real terminal and plain lines elsewhere; `vidgen ui`
stopping its whole process tree on SIGTERM; a quoted query hint, `\\n` CSV, `--until` refused early.

Offline on purpose (empty model caches): no captioner, so clips are kept uncaptioned
(``curation.require_caption: auto``) and the demo still ends in a dataset.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml
from ui_helpers import free_port, group_members, wait_for

pytestmark = pytest.mark.slow


def _env(tmp: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIDGEN_HOME", "VIDGEN_CONFIG", "VIDGEN_PROGRESS")}
    env.update(HF_HUB_CACHE=str(tmp / "empty-hf"), TORCH_HOME=str(tmp / "empty-torch"),
               VIDGEN_MODELS=str(tmp / "empty-models"), PYTHONUNBUFFERED="1", **extra)
    return env


def vidgen(env: dict, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`vidgen demo` into a home whose path has a space, with a coarse kept-rate bound the demo footage
    cannot meet (so a warning check fails on purpose)."""
    root = tmp_path_factory.mktemp("user path")
    config = root / "strict.yaml"
    config.write_text(yaml.safe_dump({"checks": {"coarse_kept_min": 0.9}}))
    home = root / "my home"
    env = _env(root)
    r = vidgen(env, "demo", "--home", str(home), "--config", str(config))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return home, env, r.stdout


def _latest_materialization(home: Path, asset: str):
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        return records[0].asset_materialization if records else None
    finally:
        instance.dispose()


def test_demo_ends_in_a_dataset_and_says_what_ran(demo):
    from vidgen_dagster.core.common.store import Store

    home, _, out = demo
    store = Store(home)
    curated = store.rows("curated_clips")
    coarse_kept = {r["clip_id"] for r in store.rows("coarse_selection") if r["decision"] == "kept"}
    kept = [r for r in curated if r["state"] == "kept"]
    assert kept and {r["clip_id"] for r in kept} == coarse_kept
    assert all(r["caption"] is None and "captions" in r["not_applied"] for r in kept)  # marked uncaptioned

    # the export and the report exist and are the assets' latest records in the home's instance
    export = home / "export"
    lines = (export / "vidgen.jsonl").read_text().splitlines()
    assert len(lines) == len(kept)
    assert sorted(p.name for p in (export / "webdataset").glob("*.tar"))
    html = home / "report" / "report.html"
    assert html.is_file() and "data:image/png;base64," in html.read_text()
    mat = _latest_materialization(home, "dataset_export")
    assert mat is not None and mat.metadata["clips"].value == len(kept)
    assert mat.metadata["out_dir"].value == str(export)
    assert _latest_materialization(home, "dataset_report").metadata["html_report"].value == str(html)

    # which stages ran with which models, which did not, and where to look
    assert "stages and models:" in out
    assert re.search(r"^  scenes +ran +shot detection .* on 5 video\(s\)$", out, re.M)
    assert re.search(r"^  scenes +FAILED .* on 1 video\(s\): decode_failed", out, re.M)  # damaged.mp4
    assert re.search(r"^  motion +ran +\S+", out, re.M) and re.search(r"^  ocr +ran +rapidocr", out, re.M)
    assert re.search(r"^  captions +NOT RUN .*model_unavailable.*kept uncaptioned", out, re.M)
    assert re.search(r"^  judge +- +no captions to check", out, re.M)
    assert f"dataset_export: {len(kept)} clip(s) in {export}" in out
    assert f"the report      {html}" in out
    # paths are quoted for a shell: the home has a space in it
    assert f"vidgen query --home '{home}' \"SELECT * FROM clips\"" in out
    assert f"vidgen status --home '{home}'" in out


def test_failed_warning_check_is_listed_with_its_shard(demo):
    home, env, out = demo
    shard = json.loads(next((home / "manifests").glob("*.json")).read_text())["shard"]
    # in the curate summary ...
    assert "failed checks: 1" in out, out[-3000:]
    line = next(x for x in out.splitlines() if "coarse_selection.kept_rate" in x)
    assert line.strip().startswith(shard) and "[WARN]" in line
    assert re.search(rf"shard {shard}: kept_rate 0\.\d\d \(\d+ of \d+\), outside the bounds \(at least 0\.9", line)
    # ... and in the check result itself (what the UI's check history shows)
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        key = dg.AssetCheckKey(dg.AssetKey("coarse_selection"), "kept_rate")
        rec = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0]
        ev = rec.event.dagster_event.asset_check_evaluation_data
        assert not ev.passed and ev.metadata["shard"].value == shard and ev.description.startswith(f"shard {shard}:")
    finally:
        instance.dispose()


def test_status_report_export_version(demo, tmp_path):
    home, env, _ = demo
    shard = json.loads(next((home / "manifests").glob("*.json")).read_text())["shard"]

    r = vidgen(env, "status", "--home", str(home))
    assert r.returncode == 0, r.stderr
    assert f"{shard}  {home / 'demo_footage'} (burned_text.mp4 + 5 more)  [6 file(s)]" in r.stdout
    assert re.search(r"materialized (\d+)/\1\n", r.stdout), r.stdout  # every per-shard asset
    assert "stale:" not in r.stdout and "FAILED" not in r.stdout
    assert "check failed: coarse_selection.kept_rate [WARN]" in r.stdout

    r = vidgen(env, "report", "--home", str(home))
    assert r.returncode == 0 and r.stdout.strip().endswith(f"report: {home / 'report' / 'report.html'}"), r.stderr

    # an export elsewhere is a materialisation of dataset_export too, recording where it went
    out = tmp_path / "elsewhere"
    r = vidgen(env, "export", str(out), "--home", str(home), "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert re.search(r"exported (\d+) clips to .*: cut \1, reused 0", r.stdout), r.stdout
    mat = _latest_materialization(home, "dataset_export")
    assert mat.metadata["out_dir"].value == str(out) and (out / "vidgen.jsonl").is_file()
    assert "\r" not in r.stdout  # not a terminal: plain lines
    assert re.search(r"^  export: (\d+)/\1$", r.stdout, re.M), r.stdout

    from vidgen_dagster import __version__

    r = vidgen(env, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"vidgen {__version__}"


def test_query_csv_uses_newlines(demo):
    home, env, _ = demo
    r = subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", "query", "--home", str(home),
                        "SELECT clip_id, state FROM curated_clips ORDER BY clip_id"],
                       capture_output=True, env=env)
    assert r.returncode == 0, r.stderr
    assert b"\r" not in r.stdout and r.stdout.startswith(b"clip_id,state\n") and r.stdout.count(b"\n") > 2


def test_until_typo_is_refused_before_anything_is_registered(demo, tmp_path):
    _, env, _ = demo
    home = tmp_path / "h"
    r = vidgen(env, "curate", str(demo[0] / "demo_footage"), "--home", str(home), "--until", "clipz")
    assert r.returncode == 2 and "clipz" in r.stderr
    assert not (home / "manifests").exists() or not list((home / "manifests").iterdir())


def _read_pty(fd: int, proc: subprocess.Popen, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def test_progress_bars_on_a_terminal(demo, tmp_path):
    """The same export on a real pseudo-terminal draws a bar with counts (and a rate/ETA field)."""
    home, env, _ = demo
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "vidgen_dagster.cli", "export", str(tmp_path / "tty"),
                             "--home", str(home), "--format", "csv"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        out = _read_pty(master, proc, 600).decode(errors="replace")
        assert proc.wait(timeout=60) == 0, out[-3000:]
    finally:
        os.close(master)
    assert "\r" in out and re.search(r"export: 100%\|.*\| (\d+)/\1 \[", out), out[-3000:]


def test_progress_console_modes(tmp_path, capsys, monkeypatch):
    """Bars only on a terminal; without one, `lines` mode prints plain throttled lines, else nothing."""
    from vidgen_dagster.core.common import progress

    monkeypatch.delenv("VIDGEN_PROGRESS", raising=False)
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as tty, open(tmp_path / "log", "w") as plain:
            assert progress.use_bars(tty) and not progress.use_bars(plain)
    finally:
        os.close(master)
        os.close(slave)
    with progress.console(1, bars=False, lines=True):
        for i in range(6):
            progress.report("scenes", i, 5)
    assert capsys.readouterr().out == "  scenes: 0/5\n  scenes: 5/5\n"
    with progress.console(1, bars=False):
        progress.report("scenes", 5, 5)
    progress.report("scenes", 5, 5)  # no console installed: nothing
    assert capsys.readouterr().out == ""


def test_ui_stops_its_whole_process_tree_on_sigterm(tmp_path):
    """`vidgen ui` starts dagster dev (webserver, daemon, code server) in its own process group; a SIGTERM to
    `vidgen ui` must leave none of them running."""
    home = tmp_path / "home"
    port = free_port()
    env = _env(tmp_path)
    log = open(tmp_path / "ui.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "vidgen_dagster.cli", "ui", "--home", str(home),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    group = None
    try:
        def up():
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as resp:
                return resp.status == 200

        wait_for(up, 300, "dagster dev to answer", interval=1)
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(children) == 1, children
        group = children[0]  # start_new_session: dagster dev leads its own group
        assert os.getpgid(group) == group and len(group_members(group)) >= 2  # dev + webserver/daemon
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        wait_for(lambda: not group_members(group), 30, "every process of the group to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
        if group is not None and group_members(group):
            os.killpg(group, signal.SIGKILL)
        log.close()


@pytest.mark.parametrize("value,ok", [(True, True), (False, True), ("auto", True), ("maybe", False), (1, False)])
def test_require_caption_accepts_true_false_auto(tmp_path, value, ok):
    from vidgen_dagster.core.common.config import load_config
    from vidgen_dagster.core.common.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"curation": {"require_caption": value}}))
    if ok:
        assert load_config(path)["curation"]["require_caption"] == value
    else:
        with pytest.raises(ConfigError, match="true, false or auto"):
            load_config(path)


def test_require_caption_auto_keeps_only_when_no_captioner_could_run():
    from vidgen_dagster.core.fine_curation.stages import decide

    sel = {"decision": "kept", "reasons": [], "not_applied": []}

    def d(status, require):
        config = {"thresholds": {"alignment_min": None},
                  "curation": {"require_caption": require, "flag_sources": ["rules"]}}
        return decide(sel, {"status": status, "error": "why"} if status else None, None, config)

    assert d("unavailable", "auto") == {"state": "kept", "stage": "captions", "reasons": [],
                                        "not_applied": ["captions"]}
    assert d(None, "auto")["state"] == "rejected"  # a captioner ran but this clip has no caption row
    assert d("unavailable", True)["reasons"] == ["uncaptioned: why"]
    assert d("failed", "auto")["state"] == "failed" and d("unavailable", False)["state"] == "kept"
