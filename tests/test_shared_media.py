"""Curate every file in ../shared/media through the CLI: each video ends in one recorded state."""

from __future__ import annotations

import os

from vidgen_dagster.core.common.store import Store
from vidgen_dagster.runner import curate

EXPECTED_FAILED = {"badinput_corrupt__decord_corrupted.mp4": "decode_failed"}


def test_every_shared_file_is_accounted_for(media, tmp_path):
    home = tmp_path / "home"
    result = curate([str(media)], home=str(home), shard_size=8, echo=lambda s: None)
    assert result.ok and len(result.runs) == 3  # 23 files in shards of 8
    store = Store(home)
    states = store.query("SELECT path, state, stage, reason FROM video_states").to_pylist()
    files = sorted(p for p in os.listdir(media) if not p.endswith(".md") and (media / p).is_file())
    assert sorted(os.path.basename(s["path"]) for s in states) == files
    for s in states:
        name = os.path.basename(s["path"])
        if name in EXPECTED_FAILED:
            assert s["state"] == "failed" and s["reason"].startswith(EXPECTED_FAILED[name]), s
        else:
            assert s["state"] == "processed", s
    # Scenes that became no clip are recorded with a reason; clips obey the length rules.
    clips = store.query("SELECT min(duration_s) AS lo, max(duration_s) AS hi, count(*) AS n FROM clips").to_pylist()[0]
    assert clips["n"] > 20 and clips["lo"] >= 2.0 and clips["hi"] <= 20.0
    reasons = store.query("SELECT DISTINCT split_part(reason, ':', 1) AS r FROM dropped_scenes").column("r")
    assert set(reasons.to_pylist()) <= {"too_short", "transition_only"}
    # The whole gif (0.82 s) is too short: dropped, with the reason, not lost.
    gif = store.query("SELECT d.reason FROM dropped_scenes d JOIN videos v USING (video_id) "
                      "WHERE v.path LIKE '%newtonscradle.gif'").to_pylist()
    assert gif and gif[0]["reason"].startswith("too_short")
