"""Captioning per shard (Dagster-free): the configured VLM captions every clip coarse selection kept.

Frames come from the ``frames`` table (no decode). Captions are reused when the clip, model, prompt and frame settings
are unchanged, so re-running after a threshold change only captions newly kept clips.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter

import numpy as np

from ..coarse.stages import clip_frame_runs, iter_clip_frames
from ..common.config import section_hash
from ..common.errors import ConfigError, ModelUnavailableError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store

log = logging.getLogger(__name__)
CHUNK = 32  # requests handed to a backend at once (progress granularity)


def build_captioner(cfg: dict):
    """The configured captioner, or None for ``none``. Raises ModelUnavailableError / ConfigError."""
    backend = cfg.get("backend", "transformers")
    if backend == "none":
        return None
    if backend == "transformers":
        from .transformers_backend import TransformersCaptioner

        return TransformersCaptioner.from_config(cfg)
    if backend == "openai":
        from .openai_backend import OpenAICaptioner

        return OpenAICaptioner(cfg)
    raise ConfigError(f"captions.backend must be transformers, openai or none; got {backend!r}")


def sample_for_caption(frames_rows: list[dict], n: int) -> list[dict]:
    """``n`` of a clip's kept frames spread over it, in time order (all when it has fewer)."""
    unique = sorted({r["frame_index"]: r for r in frames_rows}.values(), key=lambda r: r["frame_index"])
    if len(unique) <= n:
        return unique
    picks = np.linspace(0, len(unique) - 1, n).round().astype(int)
    return [unique[i] for i in sorted(set(picks.tolist()))]


def caption_key(model_id: str, prompt_version: str, cfg: dict) -> str:
    """What a caption depends on besides the clip: reuse a stored caption only when this matches."""
    payload = json.dumps([model_id, prompt_version, cfg.get("frames_per_clip"), cfg.get("max_new_tokens"),
                          cfg.get("temperature"), cfg.get("system_prompt")], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- captions


def run_captions(store: Store, shard: str, config: dict, progress: StepProgress = no_progress) -> dict:
    from ..coarse.frames import decode_jpeg
    from .base import CaptionRequest, load_prompt

    cfg = config["captions"]
    chash = section_hash(config, "captions")
    prompt = load_prompt(cfg.get("prompt") or "caption_v1.txt")
    system = load_prompt(cfg["system_prompt"]).text if cfg.get("system_prompt") else ""
    selection = store.by_clip("coarse_selection", shard)
    existing = store.by_clip("captions", shard)
    with_frames = {c for c, r in clip_frame_runs(store, shard).items() if r["status"] == "ok"}
    t0 = time.perf_counter()
    captioner, unavailable = None, None
    kept = sorted(c for c, s in selection.items() if s["decision"] == "kept")
    if kept:
        try:
            captioner = build_captioner(cfg)
            if captioner is None:
                unavailable = "captions.backend is none"
        except ModelUnavailableError as exc:
            unavailable = exc.record()
    key = caption_key(captioner.model_id, prompt.version, cfg) if captioner else None
    rows: dict[str, dict] = {}
    todo: list[str] = []
    for cid, sel in sorted(selection.items()):
        base = {"clip_id": cid, "shard": shard, "video_id": sel["video_id"], "prompt_version": prompt.version,
                "config_hash": chash}
        if sel["decision"] != "kept":
            rows[cid] = {**base, "status": "skipped", "error": "not kept by coarse selection"}
        elif captioner is None:
            rows[cid] = {**base, "status": "unavailable", "error": unavailable}
        elif (old := existing.get(cid)) and old["status"] == "ok" and old.get("caption_key") == key:
            rows[cid] = {**old, "config_hash": chash, "reused": True}
        elif cid not in with_frames:
            rows[cid] = {**base, "status": "failed", "error": "no frames for this clip"}
        else:
            todo.append(cid)
    reused = sum(1 for r in rows.values() if r.get("reused"))
    n = int(cfg.get("frames_per_clip", 5))
    used: dict[str, int] = {}
    done = 0

    def caption_chunk(requests: list) -> None:
        nonlocal done
        progress(done, len(todo), f"captioning {requests[0].clip_id}")
        results = captioner.caption(requests)
        done += len(requests)
        for req, res in zip(requests, results, strict=True):
            sel = selection[req.clip_id]
            rows[req.clip_id] = {
                "clip_id": req.clip_id, "shard": shard, "video_id": sel["video_id"], "status": res.status,
                "error": res.error, "caption": res.caption if res.status == "ok" else None,
                "model_id": res.model_id or captioner.model_id, "prompt_version": prompt.version,
                "prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
                "finish_reason": res.finish_reason, "truncated": bool(res.truncated),
                "frames_used": used[req.clip_id], "seconds": round(res.seconds, 4), "caption_key": key,
                "config_hash": chash,
            }

    # Frames are streamed from the shard's file; a chunk of CHUNK clips is decoded and captioned at a time.
    requests: list = []
    for cf in iter_clip_frames(store, shard, only=set(todo)):
        picked = sample_for_caption(cf.rows, n)
        used[cf.clip_id] = len(picked)
        requests.append(CaptionRequest(cf.clip_id, [decode_jpeg(r["jpeg"]) for r in picked], prompt.text, system))
        if len(requests) >= CHUNK:
            caption_chunk(requests)
            requests = []
    if requests:
        caption_chunk(requests)
    for cid in todo:  # a frames row set that vanished between the two reads: recorded, not lost
        rows.setdefault(cid, {"clip_id": cid, "shard": shard, "video_id": selection[cid]["video_id"],
                              "status": "failed", "error": "no frames for this clip", "config_hash": chash})
    progress(len(todo), len(todo), "done")
    out = sorted(rows.values(), key=lambda r: r["clip_id"])
    store.write("captions", shard, out)
    status = Counter(r["status"] for r in out)
    ok = [r for r in out if r["status"] == "ok"]
    words = [len((r["caption"] or "").split()) for r in ok]
    return {"clips": len(out), **{f"clips_{k}": v for k, v in sorted(status.items())},
            "captioned_now": len(todo), "reused": reused, "truncated": sum(bool(r.get("truncated")) for r in ok),
            "mean_words": round(float(np.mean(words)), 1) if words else 0.0,
            "backend": f"{captioner.backend} ({captioner.model_id})" if captioner else f"not run: {unavailable}",
            "prompt_version": prompt.version, "seconds": round(time.perf_counter() - t0, 2),
            "unavailable": unavailable if kept else None,
            "failures": {r["clip_id"]: r["error"] for r in out if r["status"] == "failed"}}


# ---------------------------------------------------------------------------------------------- checks


