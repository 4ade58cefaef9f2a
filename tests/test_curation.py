"""Captioning and fine curation through the real graph: tiny random-weight VLM, judge LM and CLIP built
here and loaded by the real loaders; every clip ends in one state; prompt and threshold edits re-run
exactly what depends on them; captions and verdicts are reused for unchanged inputs."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from cli_helpers import vidgen, write_config

from vidgen_dagster.core.captioning import stage as caption_stage
from vidgen_dagster.core.captioning.base import load_prompt
from vidgen_dagster.core.common.config import ASSETS_DIR, load_config
from vidgen_dagster.core.common.store import Store
from vidgen_dagster.core.fine_curation import stages as fine_stages
from vidgen_dagster.definitions import build_definitions

DATA = Path(__file__).parent / "data"






def test_full_graph_with_tiny_models_accounts_for_every_clip(home, demo_footage, tmp_path, tiny_models):
    config = write_config(tmp_path / "a.yaml", tiny_models)
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", config)
    assert r.returncode == 0, r.stderr
    assert "captions, caption_checks, curated_clips" in r.stdout and "curated: kept=" in r.stdout
    store = Store(home)
    clips = {c["clip_id"] for c in store.rows("clips")}
    sel = {r["clip_id"]: r for r in store.rows("coarse_selection")}
    caps = {r["clip_id"]: r for r in store.rows("captions")}
    checks = {r["clip_id"]: r for r in store.rows("caption_checks")}
    final = {r["clip_id"]: r for r in store.rows("curated_clips")}
    assert set(caps) == set(checks) == set(final) == clips
    prompt = load_prompt("caption_v1.txt")
    for cid, c in caps.items():
        if sel[cid]["decision"] != "kept":
            assert c["status"] == "skipped" and final[cid]["stage"] == "coarse"
            continue
        assert c["status"] == "ok" and c["model_id"] == tiny_models["vlm"]
        assert c["prompt_version"] == prompt.version and c["completion_tokens"] > 0 and c["frames_used"] == 5
        assert c["finish_reason"] in ("length", "stop") and c["truncated"] == (c["finish_reason"] == "length")
        k = checks[cid]
        assert k["status"] == "ok" and k["alignment"] is not None and -1 <= k["alignment"] <= 1
        assert k["judge_status"] in ("ok", "failed") and k["judge_model"] == tiny_models["lm"]
        if c["truncated"]:  # a caption cut by the token limit is flagged by the rules
            assert k["rule_reduplication"] and any("finish_reason" in x for x in k["rule_reasons"])
    for r in final.values():
        assert r["state"] in ("kept", "rejected", "failed") and (r["state"] == "kept") == (not r["reasons"])
    assert fine_stages.account_curated(store, next(iter(final.values()))["shard"]) == []

    # Loosen alignment: only curated_clips re-runs; captions and checks are untouched.
    before = {t: open(store.table_file(t, r["shard"]), "rb").read() for t in ("captions", "caption_checks")}
    looser = write_config(tmp_path / "b.yaml", tiny_models, thresholds={"alignment_min": -1.0})
    r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", looser)
    assert r.returncode == 0, r.stderr
    assert "materializing curated_clips\n" in r.stdout
    for t, data in before.items():
        assert open(store.table_file(t, next(iter(final.values()))["shard"]), "rb").read() == data
    after = {r["clip_id"]: r for r in store.rows("curated_clips")}
    assert not any(x.startswith("misaligned") for r in after.values() for x in r["reasons"])


def test_prompt_edits_make_captions_stale_and_thresholds_do_not(home, tmp_path, tiny_models):
    base = write_config(tmp_path / "a.yaml", tiny_models)
    prompt = tmp_path / "my_prompt.txt"
    prompt.write_text("Describe the video.")
    edited = write_config(tmp_path / "b.yaml", tiny_models, captions={"prompt": str(prompt)})
    ver = lambda g, k: g.get(dg.AssetKey(k)).code_version  # noqa: E731
    a = build_definitions(str(home), base).resolve_asset_graph()
    b = build_definitions(str(home), edited).resolve_asset_graph()
    prompt.write_text("Describe the video in detail.")
    c = build_definitions(str(home), edited).resolve_asset_graph()
    keys = [k.to_user_string() for k in a.get_all_asset_keys()]
    assert sorted(k for k in keys if ver(a, k) != ver(b, k)) == ["captions"]
    assert sorted(k for k in keys if ver(b, k) != ver(c, k)) == ["captions"]  # the file's content counts
    judge_prompt = tmp_path / "judge.txt"
    judge_prompt.write_text(Path(load_prompt("judge_v1.txt").path).read_text() + "\nBe strict.")
    d = build_definitions(str(home), write_config(tmp_path / "d.yaml", tiny_models,
                                                  judge={"prompt": str(judge_prompt)})).resolve_asset_graph()
    assert sorted(k for k in keys if ver(a, k) != ver(d, k)) == ["caption_checks"]
    e = build_definitions(str(home), write_config(tmp_path / "e.yaml", tiny_models,
                                                  thresholds={"alignment_min": 0.5})).resolve_asset_graph()
    assert sorted(k for k in keys if ver(a, k) != ver(e, k)) == ["curated_clips"]


def test_captions_and_verdicts_are_reused_for_unchanged_inputs(home, demo_footage, tmp_path, tiny_models):
    from shard_helpers import curated_until_clips

    from vidgen_dagster.core.coarse import stages as coarse

    config = load_config(write_config(tmp_path / "a.yaml", tiny_models))
    store, shard = curated_until_clips(home, sorted(demo_footage.glob("*.mp4")), config)
    for step in (coarse.run_frames, coarse.run_motion, coarse.run_text, coarse.run_visual, coarse.run_selection):
        step(store, shard, config)
    first = caption_stage.run_captions(store, shard, config)
    assert first["captioned_now"] > 0 and first["reused"] == 0
    checks = fine_stages.run_caption_checks(store, shard, config)
    assert checks["judged_now"] == first["captioned_now"]
    again = caption_stage.run_captions(store, shard, config)
    assert again["captioned_now"] == 0 and again["reused"] == first["captioned_now"]
    assert fine_stages.run_caption_checks(store, shard, config)["judged_now"] == sum(
        r["judge_status"] != "ok" for r in store.rows("caption_checks", shard) if r["status"] == "ok")
    # A different token limit is a different caption: nothing reused.
    config["captions"]["max_new_tokens"] = 8
    assert caption_stage.run_captions(store, shard, config)["reused"] == 0


def _decide(sel=None, cap=None, chk=None, **curation_cfg):
    config = {"thresholds": {"alignment_min": 0.2},
              "curation": {"require_caption": True, "flag_sources": ["rules", "judge"], **curation_cfg}}
    sel = sel or {"decision": "kept", "reasons": [], "not_applied": []}
    return fine_stages.decide(sel, cap, chk, config)


OK_CAP = {"status": "ok", "caption": "A dog runs.", "error": None}
CLEAN = {"alignment": 0.3, "judge_status": "ok", "rule_reasons": [],
         **{f"{s}_{k}": False for s in ("rule", "judge") for k in ("scene_transition", "frame_level", "reduplication")}}


def test_decisions_cover_every_path():
    assert _decide(cap=OK_CAP, chk=CLEAN) == {"state": "kept", "stage": "fine", "reasons": [], "not_applied": []}
    d = _decide(sel={"decision": "rejected", "reasons": ["motion_low: 0.001 < 0.005"], "not_applied": []})
    assert d["state"] == "rejected" and d["stage"] == "coarse"
    d = _decide(sel={"decision": "rejected", "reasons": ["failed: frames: decode_failed: x"], "not_applied": []})
    assert d["state"] == "failed" and d["stage"] == "coarse"
    assert _decide(cap={"status": "failed", "error": "scoring_failed: boom"})["state"] == "failed"
    d = _decide(cap={"status": "unavailable", "error": "model_unavailable: no VLM"})
    assert d["state"] == "rejected" and d["reasons"] == ["uncaptioned: model_unavailable: no VLM"]
    d = _decide(cap={"status": "unavailable", "error": "off"}, require_caption=False)
    assert d["state"] == "kept" and "captions" in d["not_applied"]
    d = _decide(cap=OK_CAP, chk={**CLEAN, "alignment": 0.1})
    assert d["state"] == "rejected" and d["stage"] == "alignment" and d["reasons"] == ["misaligned: 0.100 < 0.2"]
    d = _decide(cap=OK_CAP, chk={**CLEAN, "alignment": None})
    assert d["state"] == "kept" and d["not_applied"] == ["alignment_min"]
    flagged = {**CLEAN, "rule_scene_transition": True, "rule_reasons": ['scene_transition: scene change: "cuts to"']}
    d = _decide(cap=OK_CAP, chk=flagged)
    assert d["state"] == "rejected" and d["reasons"] == ['scene_transition (rules: scene change: "cuts to")']
    judged = {**CLEAN, "judge_frame_level": True, "judge_rationale": "lists frames"}
    assert _decide(cap=OK_CAP, chk=judged)["reasons"] == ["frame_level (judge: lists frames)"]
    assert _decide(cap=OK_CAP, chk=judged, flag_sources=["rules"])["state"] == "kept"
    assert _decide(cap=OK_CAP, chk=flagged, flag_sources=[])["state"] == "kept"  # flags off: recorded, not applied
    d = _decide(cap=OK_CAP, chk={**CLEAN, "judge_status": "failed"})
    assert d["state"] == "kept" and d["not_applied"] == ["judge"]


def test_captions_check_cli_rules(tmp_path):
    labelled = ASSETS_DIR / "caption_labels" / "captions_labelled.jsonl"
    items = [json.loads(line) for line in labelled.read_text().splitlines() if line.strip()]
    src = tmp_path / "caps.jsonl"
    src.write_text("\n".join(json.dumps({"id": i["id"], "caption": i["caption"],
                                         **({"finish_reason": i["finish_reason"]} if "finish_reason" in i else {})})
                             for i in items))
    r = vidgen("captions", "check", str(src), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = {row["id"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert set(out) == {i["id"] for i in items}
    for label in ("scene_transition", "frame_level", "reduplication"):
        agree = sum(out[i["id"]][label] == i[label] for i in items)
        assert agree / len(items) >= 0.9, label
    csv_out = vidgen("captions", "check", str(src))
    assert csv_out.stdout.splitlines()[0] == "id,scene_transition,frame_level,reduplication,evidence"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    r = vidgen("captions", "check", str(bad))
    assert r.returncode == 2 and "bad.jsonl:1" in r.stderr


def test_full_graph_through_openai_compatible_servers(home, demo_footage, tmp_path, tiny_models):
    """Captions and the judge through real local HTTP servers speaking the OpenAI protocol and
    generating with a tiny LM; the captioning server fails its first requests with 500s (retried)."""
    from openai_server import Faults, TinyOpenAIServer

    with TinyOpenAIServer(tiny_models["lm"], faults=Faults(fail_first=2, fail_status=500)) as cap_srv, \
            TinyOpenAIServer(tiny_models["lm"], faults=Faults(judge_json=True), model_name="judge") as judge_srv:
        config = write_config(
            tmp_path / "o.yaml", tiny_models,
            captions={"backend": "openai", "openai_base_url": cap_srv.base_url, "openai_model": "tiny-lm",
                      "max_new_tokens": 24, "concurrency": 3, "max_retries": 3, "timeout_s": 30},
            judge={"backend": "openai", "openai_base_url": judge_srv.base_url, "openai_model": "judge",
                   "concurrency": 2, "timeout_s": 30},
        )
        r = vidgen("curate", str(demo_footage), "--home", str(home), "--config", config)
        assert r.returncode == 0, r.stderr
        cap_requests = [q for q in cap_srv.requests if q.index >= 0]
        cap_url = cap_srv.base_url
    store = Store(home)
    caps = [c for c in store.rows("captions") if c["status"] != "skipped"]
    assert caps and all(c["status"] == "ok" for c in caps)
    assert all(c["model_id"].startswith("tiny-lm@") and "127.0.0.1" in c["model_id"] for c in caps), cap_url
    assert [q.status for q in cap_requests[:2]] == [500, 500]  # injected failures, then retried
    assert sum(q.status == 200 for q in cap_requests) == len(caps)
    assert all(q.n_images == 5 for q in cap_requests if q.status == 200)  # frames sent as image parts
    checks = [k for k in store.rows("caption_checks") if k["status"] == "ok"]
    assert checks and all(k["judge_status"] == "ok" and k["judge_model"].startswith("judge@") for k in checks)
    final = store.rows("curated_clips")
    assert {r["clip_id"] for r in final} == {c["clip_id"] for c in store.rows("clips")}


def test_captions_check_cli_with_the_llm_judge_backends(tmp_path, tiny_models):
    """`vidgen captions check --backend transformers|openai` goes through the real judge: the tiny LM
    loaded locally (its random output rarely parses: recorded as failed, with the reason) and a real
    OpenAI-protocol server whose replies are valid judge JSON."""
    from openai_server import Faults, TinyOpenAIServer

    src = tmp_path / "caps.jsonl"
    src.write_text('{"id": "a", "caption": "A dog runs on a beach."}\n'
                   '{"id": "b", "caption": "In the first frame a cat sits. In the second frame it jumps."}\n')
    local = write_config(tmp_path / "t.yaml", tiny_models)
    r = vidgen("captions", "check", str(src), "--backend", "transformers", "--config", local, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in rows] == ["a", "b"]
    for x in rows:
        assert x["status"] in ("ok", "failed")
        if x["status"] == "failed":
            assert x["rationale"].startswith("unparsable judge output after 2 attempts")
            assert x["scene_transition"] is None
    with TinyOpenAIServer(tiny_models["lm"], faults=Faults(judge_json=True), model_name="judge") as srv:
        remote = write_config(tmp_path / "o.yaml", tiny_models,
                              judge={"openai_base_url": srv.base_url, "openai_model": "judge"})
        r = vidgen("captions", "check", str(src), "--backend", "openai", "--config", remote, "--format", "json")
        served = sum(q.status == 200 for q in srv.requests if q.index >= 0)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["status"] for x in rows] == ["ok", "ok"] and served == 2
    assert all(isinstance(x[k], bool) for x in rows for k in ("scene_transition", "frame_level", "reduplication"))
