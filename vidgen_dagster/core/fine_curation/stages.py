"""Fine curation per shard (Dagster-free): caption_checks → curated_clips.

* ``caption_checks``: caption–video alignment (CLIP text embedding of the caption against the clip's stored CLIP
  embedding), the rule detectors for the paper's three errors (always; with the learned detector beside them when
  ``caption_rules.learned`` allows: its verdicts join the ``rule_*`` columns with the reason ``learned p=…``), and
  the LLM judge (when configured; results
  reused for an unchanged caption, judge model and prompt).
* ``curated_clips``: every clip of the shard in exactly one final state — ``kept``, ``rejected`` (with the stage and
  every reason) or ``failed`` (with the error).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter

import numpy as np

from ..common.config import section_hash
from ..common.errors import ConfigError, ModelUnavailableError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store
from ..fine_curation import LABELS

log = logging.getLogger(__name__)
CHUNK = 32  # captions handed to the judge at once (progress granularity)
def build_judge_model(cfg: dict):
    """The LLM judge's chat model, or None for ``none`` (rules only)."""
    backend = cfg.get("backend", "transformers")
    if backend == "none":
        return None
    if backend == "transformers":
        from ..backends.transformers_chat import TransformersChatModel

        return TransformersChatModel.from_config(cfg)
    if backend == "openai":
        from ..backends.openai_client import OpenAIChatModel

        return OpenAIChatModel.from_config(cfg)
    raise ConfigError(f"judge.backend must be transformers, openai or none; got {backend!r}")


def judge_concurrency(cfg: dict) -> int:
    """Parallel judge requests: ``judge.concurrency`` for an endpoint; 1 for a local model (one
    model instance in this process; threads would only contend for it)."""
    return max(1, int(cfg.get("concurrency", 1))) if cfg.get("backend") == "openai" else 1


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_caption_checks(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    from ..captioning.base import load_prompt
    from .judge import LLMJudge
    from .learned import build_learned_detector
    from .rules import RULES_VERSION, check_captions

    jcfg = config["judge"]
    chash = section_hash(config, "judge", "visual")
    captions = store.by_clip("captions", shard)
    visual = store.by_clip("visual_scores", shard)
    existing = store.by_clip("caption_checks", shard)
    ok = sorted(c for c, r in captions.items() if r["status"] == "ok")
    t0 = time.perf_counter()

    # Alignment: the coarse stage's CLIP model, the stored clip embeddings.
    align_unavailable, clip_scorer = None, None
    if ok:
        from ..coarse.scoring.visual import build_visual_scorer

        try:
            clip_scorer = build_visual_scorer(config["visual"])
            if clip_scorer is None:
                align_unavailable = "visual.backend is none"
        except ModelUnavailableError as exc:
            align_unavailable = exc.record()
    alignment: dict[str, float | None] = {}
    if clip_scorer is not None:
        have = [c for c in ok if visual.get(c, {}).get("embedding") is not None
                and visual[c].get("model_id") == clip_scorer.model_id]
        for start in range(0, len(have), 64):
            chunk = have[start:start + 64]
            text = clip_scorer.embed_texts([captions[c]["caption"] for c in chunk])
            for c, t in zip(chunk, text, strict=True):
                v = np.asarray(visual[c]["embedding"], dtype=np.float32)
                alignment[c] = float(np.dot(t, v / (np.linalg.norm(v) or 1.0)))
        missing = len(ok) - len(have)
        if missing and not align_unavailable:
            align_unavailable = (f"{missing} clip(s) have no CLIP embedding from {clip_scorer.model_id} "
                                 "(re-run visual_scores with this model)")

    # LLM judge.
    judge, judge_unavailable, prompt = None, None, None
    if ok:
        try:
            model = build_judge_model(jcfg)
            if model is None:
                judge_unavailable = "judge.backend is none"
            else:
                prompt = load_prompt(jcfg.get("prompt") or "judge_v1.txt")
                judge = LLMJudge(model, prompt, max_attempts=int(jcfg.get("max_attempts", 3)),
                                 max_tokens=int(jcfg.get("max_tokens", 200)))
        except ModelUnavailableError as exc:
            judge_unavailable = exc.record()
    judge_id = f"{judge.model.model_id}|{prompt.version}" if judge else None
    todo = [c for c in ok if not (judge and (old := existing.get(c)) and old.get("judge_status") == "ok"
                                  and old.get("judge_key") == judge_id
                                  and old.get("caption_sha") == _sha(captions[c]["caption"]))]
    verdicts: dict[str, object] = {}
    if judge:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start:start + CHUNK]
            progress(start, len(todo), f"judging {chunk[0]}")
            results = judge.judge_many([captions[c]["caption"] for c in chunk], concurrency=judge_concurrency(jcfg))
            verdicts.update(zip(chunk, results, strict=True))
        progress(len(todo), len(todo), "done")

    # Rules, and the learned detector beside them (caption_rules.learned; true with its encoder absent fails here).
    learned, learned_unavailable = build_learned_detector(config) if ok else (None, "no captions")
    rules_version = f"{RULES_VERSION}+{learned.version}" if learned else RULES_VERSION
    checked_rules = dict(zip(ok, check_captions([(captions[c]["caption"], captions[c].get("finish_reason"))
                                                 for c in ok], learned), strict=True))

    rows = []
    for cid, cap in sorted(captions.items()):
        row = {"clip_id": cid, "shard": shard, "video_id": cap["video_id"], "config_hash": chash}
        if cap["status"] != "ok":
            rows.append({**row, "status": "skipped", "error": f"no caption ({cap['status']})"})
            continue
        text = cap["caption"]
        rules = checked_rules[cid]
        row.update(status="ok", caption_sha=_sha(text), rules_version=rules_version,
                   alignment=alignment.get(cid), alignment_model=clip_scorer.model_id if clip_scorer else None,
                   rule_reasons=[f"{k}: {r}" for k in LABELS for r in rules.reasons.get(k, [])],
                   **{f"rule_{k}": bool(rules.labels[k]) for k in LABELS})
        if judge is None:
            row.update(judge_status="unavailable", judge_error=judge_unavailable)
        elif cid in verdicts:
            v = verdicts[cid]
            row.update(judge_status=v.status, judge_error=v.error, judge_model=v.model_id or judge.model.model_id,
                       judge_prompt_version=v.prompt_version or prompt.version, judge_rationale=v.rationale,
                       judge_attempts=v.attempts, judge_key=judge_id,
                       **{f"judge_{k}": (bool(v.labels[k]) if v.labels else None) for k in LABELS})
        else:  # reused verdict for the same caption, judge model and prompt
            old = existing[cid]
            row.update({k: old.get(k) for k in ("judge_status", "judge_error", "judge_model", "judge_prompt_version",
                                                "judge_rationale", "judge_attempts", "judge_key")},
                       **{f"judge_{k}": old.get(f"judge_{k}") for k in LABELS})
        for k in LABELS:
            row[k] = bool(row[f"rule_{k}"] or row.get(f"judge_{k}"))
        rows.append(row)
    store.write("caption_checks", shard, rows)
    checked = [r for r in rows if r["status"] == "ok"]
    judged = Counter(r.get("judge_status") for r in checked)
    return {"clips": len(rows), "checked": len(checked), "judged_now": len(verdicts),
            **{f"flag_{k}": sum(bool(r[k]) for r in checked) for k in LABELS},
            **{f"rules_{k}": sum(bool(r[f"rule_{k}"]) for r in checked) for k in LABELS},
            **{f"judge_{s}": n for s, n in sorted(judged.items()) if s},
            "alignment": "computed" if alignment else f"not applied: {align_unavailable}",
            "learned": learned.version if learned else f"not run: {learned_unavailable}",
            **({f"learned_{k}": sum(any(r.startswith(f"{k}: learned ") for r in row["rule_reasons"])
                                    for row in checked) for k in LABELS} if learned else {}),
            "judge": f"{judge.model.backend} ({judge_id})" if judge else f"not run: {judge_unavailable}",
            "seconds": round(time.perf_counter() - t0, 2),
            "failures": {r["clip_id"]: r["judge_error"] for r in checked if r.get("judge_status") == "failed"}}


# ---------------------------------------------------------------------------------------------- curated


def curated_hash(config: dict) -> str:
    payload = json.dumps({"alignment_min": config["thresholds"].get("alignment_min"),
                          "curation": config["curation"]}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def caption_required(curation: dict, status: str) -> bool:
    """``curation.require_caption``: true, false, or auto (required unless captioning was unavailable,
    i.e. backend ``none`` or its model absent: an offline run keeps clips uncaptioned and says so)."""
    value = curation.get("require_caption", "auto")
    if value == "auto":
        return status != "unavailable"
    if isinstance(value, bool):
        return value
    raise ConfigError(f"curation.require_caption must be true, false or auto; got {value!r}")


def decide(sel: dict, cap: dict | None, chk: dict | None, config: dict) -> dict:
    """One clip's final state, stage, reasons and the filters that could not be applied."""
    reasons: list[str] = []
    not_applied: list[str] = list(sel.get("not_applied") or [])
    if sel["decision"] != "kept":
        failed = [r for r in sel["reasons"] if r.startswith("failed:")]
        state = "failed" if failed and len(failed) == len(sel["reasons"]) else "rejected"
        return {"state": state, "stage": "coarse", "reasons": list(sel["reasons"]), "not_applied": not_applied}
    if cap is None or cap["status"] != "ok":
        status = cap["status"] if cap else "missing"
        why = (cap or {}).get("error") or status
        if status == "failed":
            return {"state": "failed", "stage": "captions", "reasons": [f"caption failed: {why}"],
                    "not_applied": not_applied}
        if caption_required(config["curation"], status):
            return {"state": "rejected", "stage": "captions", "reasons": [f"uncaptioned: {why}"],
                    "not_applied": not_applied}
        return {"state": "kept", "stage": "captions", "reasons": [], "not_applied": [*not_applied, "captions"]}
    sources = set(config["curation"].get("flag_sources", ["rules", "judge"]) or [])
    if sources - {"rules", "judge"}:
        raise ConfigError(f"curation.flag_sources may hold rules and judge, got {sorted(sources)}")
    stage = "fine"
    limit = config["thresholds"].get("alignment_min")
    if chk is None:
        not_applied += ["alignment_min", "rules", "judge"]
    else:
        if limit is not None:
            if chk.get("alignment") is None:
                not_applied.append("alignment_min")
            elif chk["alignment"] < limit:
                reasons.append(f"misaligned: {chk['alignment']:.3f} < {limit:g}")
                stage = "alignment"
        if "judge" in sources and chk.get("judge_status") != "ok":
            not_applied.append("judge")
        for k in LABELS:
            if "rules" in sources and chk.get(f"rule_{k}"):
                evidence = "; ".join(r.split(": ", 1)[1] for r in chk.get("rule_reasons") or [] if r.startswith(k))
                reasons.append(f"{k} (rules: {evidence})" if evidence else f"{k} (rules)")
            elif "judge" in sources and chk.get(f"judge_{k}"):
                reasons.append(f"{k} (judge: {(chk.get('judge_rationale') or '')[:160]})")
    return {"state": "rejected" if reasons else "kept", "stage": stage if reasons else "fine",
            "reasons": reasons, "not_applied": list(dict.fromkeys(not_applied))}


def run_curated(store: Store, shard: str, config: dict) -> dict:
    chash = curated_hash(config)
    selection = store.by_clip("coarse_selection", shard)
    captions = store.by_clip("captions", shard)
    checks = store.by_clip("caption_checks", shard)
    clips = {c["clip_id"]: c for c in store.rows("clips", shard)}
    rows = []
    for cid, clip in sorted(clips.items()):
        sel = selection.get(cid) or {"decision": "rejected", "reasons": ["failed: no coarse decision"],
                                     "not_applied": []}
        d = decide(sel, captions.get(cid), checks.get(cid), config)
        cap = captions.get(cid) or {}
        chk = checks.get(cid) or {}
        rows.append({"clip_id": cid, "shard": shard, "video_id": clip["video_id"], **d,
                     "caption": cap.get("caption") if cap.get("status") == "ok" else None,
                     "alignment": chk.get("alignment"), "category": sel.get("category"),
                     "start_s": clip["start_s"], "end_s": clip["end_s"], "duration_s": clip["duration_s"],
                     "config_hash": chash})
    store.write("curated_clips", shard, rows)
    states = Counter(r["state"] for r in rows)
    stages = Counter(f"{r['state']}_{r['stage']}" for r in rows if r["state"] != "kept")
    reasons = Counter(x.split(":")[0].split(" (")[0] for r in rows for x in r["reasons"])
    not_applied = Counter(k for r in rows if r["state"] == "kept" for k in r["not_applied"])
    return {"clips": len(rows), **{f"state_{k}": v for k, v in sorted(states.items())},
            **{k: v for k, v in sorted(stages.items())}, **{f"reason_{k}": v for k, v in sorted(reasons.items())},
            "kept_seconds": round(sum(r["duration_s"] for r in rows if r["state"] == "kept"), 2),
            "filters_not_applied": ", ".join(f"{k} ({n} kept clips)" for k, n in sorted(not_applied.items()))
            or "none"}


def account_curated(store: Store, shard: str) -> list[str]:
    """Every clip of the shard has exactly one captions, caption_checks and curated_clips row and one
    terminal state; a rejected or failed clip has a reason, a kept one none."""
    problems: list[str] = []
    clips = {c["clip_id"] for c in store.rows("clips", shard)}
    for table in ("captions", "caption_checks", "curated_clips"):
        seen = Counter(r["clip_id"] for r in store.rows(table, shard)) if store.has(table, shard) else Counter()
        if set(seen) != clips:
            problems.append(f"{table}: {len(clips - set(seen))} clip(s) missing, {len(set(seen) - clips)} unknown")
        problems += [f"{table}: {c} repeated" for c, n in seen.items() if n > 1]
    for r in store.rows("curated_clips", shard) if store.has("curated_clips", shard) else []:
        if r["state"] not in ("kept", "rejected", "failed"):
            problems.append(f"{r['clip_id']}: state {r['state']!r}")
        elif (r["state"] == "kept") == bool(r["reasons"]):
            problems.append(f"{r['clip_id']}: {r['state']} with reasons {r['reasons']}")
    return problems
