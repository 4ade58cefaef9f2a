"""Model registry: which backend each model-bound step will run, with which weights, from where.

``vidgen models check`` prints :func:`check`; ``vidgen models pull`` runs :func:`pull` on a networked
machine (HF snapshot at the pinned revision, torchvision RAFT weights into the torch hub cache, the
LAION aesthetic head into the vidgen models cache). Nothing here downloads unless ``pull`` is called.

:func:`fingerprint` is a short hash of what :func:`check` resolves for a step (backend, weights
location and size). It is part of the score assets' code versions, so pulling a model (or removing
one) makes exactly the scores it affects stale.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..core.coarse.scoring.registry import BY_STEP, STAGES
from ..core.coarse.scoring.stage import ModelStatus, model_fingerprint
from ..core.common.errors import ConfigError, VidgenError

__all__ = ["STEPS", "ModelStatus", "check", "download", "fingerprint", "plan_pull", "pull", "verify_md5"]


def _llm_step(step: str, cfg: dict, resolve, default: str) -> list[ModelStatus]:
    backend = cfg.get("backend", "transformers")
    if backend == "none":
        note = "clips are recorded as uncaptioned" if step == "captions" else "rule detectors only"
        return [ModelStatus(step, "none", "", "", False, f"{step}.backend is none", note)]
    if backend == "openai":
        model = cfg.get("openai_model") or cfg.get("model") or default
        return [ModelStatus(step, "openai", model, "", True, cfg.get("openai_base_url", ""),
                            "served by an OpenAI-compatible endpoint (reachability is checked when the asset runs)")]
    folder, where = resolve(cfg)
    model = cfg.get("model") or default
    return [ModelStatus(step, "transformers", model, cfg.get("revision") or "", folder is not None,
                        str(folder) if folder else where,
                        "" if folder else f"{step} will be recorded as unavailable")]


def _captions(cfg: dict) -> list[ModelStatus]:
    from ..core.captioning.transformers_backend import DEFAULT_VLM, resolve_vlm

    return _llm_step("captions", cfg, resolve_vlm, DEFAULT_VLM)


def _judge(cfg: dict) -> list[ModelStatus]:
    from ..core.backends.transformers_chat import DEFAULT_JUDGE_LLM, resolve_chat_model

    def resolve(c):
        src = resolve_chat_model(c)
        return src.folder, src.where

    return _llm_step("judge", cfg, resolve, DEFAULT_JUDGE_LLM)


# step -> its status from the whole configuration: every registered scoring stage (under its config
# section's name), then the caption and judge models.
STEPS: dict[str, Callable[[dict], list[ModelStatus]]] = {
    **{s.step: s.model_status for s in STAGES},
    "captions": lambda config: _captions(config["captions"]), "judge": lambda config: _judge(config["judge"]),
}


def check(config: dict, steps: list[str] | None = None) -> list[ModelStatus]:
    out = []
    for step in steps or list(STEPS):
        if step not in STEPS:
            raise ConfigError(f"unknown step {step!r}; choose from {', '.join(STEPS)}")
        out += STEPS[step](config)
    return out


def fingerprint(config: dict, step: str) -> str:
    """Short hash of the resolved backend and weights for ``step`` (cheap: no model is loaded), and of what
    else changes a stage's scores (the visual stage's taxonomy)."""
    fp = model_fingerprint(check(config, [step]))
    extra = BY_STEP[step].version_extra(config) if step in BY_STEP else ""
    return hashlib.sha256(f"{fp}|{extra}".encode()).hexdigest()[:8] if extra else fp


# ------------------------------------------------------------------------------------------- pull


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` atomically (temp file in the same folder, then rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def verify_md5(path: Path, expected: str) -> None:
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != expected:
        path.unlink(missing_ok=True)
        raise VidgenError(f"{path.name}: md5 {digest} does not match the pinned {expected}; removed")


def plan_pull(config: dict) -> list[tuple[str, str, str]]:
    """(step, what, destination) for each model ``pull`` would fetch for the configuration."""
    from ..core.coarse.scoring import visual
    from ..core.coarse.scoring.motion import raft_weights_file, raft_weights_url

    plan = []
    m = config["motion"]
    if m.get("backend") in ("raft", "auto") and not m.get("raft_weights"):
        import torch

        dest = Path(torch.hub.get_dir()) / "checkpoints" / raft_weights_file(m.get("raft_model", "raft_small"))
        plan.append(("motion", raft_weights_url(m.get("raft_model", "raft_small")), str(dest)))
    v = config["visual"]
    if v.get("backend") == "transformers":
        model = v.get("clip_model") or visual.DEFAULT_CLIP
        if not Path(os.path.expanduser(model)).exists():
            rev = v.get("clip_revision") or (visual.CLIP_REVISION if model == visual.DEFAULT_CLIP else "main")
            plan.append(("visual", f"hf://{model}@{rev}", "HF cache"))
        if not v.get("aesthetic_head"):
            plan.append(("aesthetic", visual.AESTHETIC_HEAD_URL, str(visual.default_head_path())))
    for step in ("captions", "judge"):
        c = config[step]
        if c.get("backend") == "transformers" and not Path(os.path.expanduser(c.get("model") or "")).exists():
            from ..core.backends.transformers_chat import DEFAULT_JUDGE_LLM
            from ..core.captioning.transformers_backend import DEFAULT_VLM

            model = c.get("model") or (DEFAULT_VLM if step == "captions" else DEFAULT_JUDGE_LLM)
            plan.append((step, f"hf://{model}@{c.get('revision') or 'main'}", "HF cache"))
    o = config["ocr"]
    if o.get("backend") == "paddleocr":
        plan.append(("ocr", f"paddleocr:{o.get('paddleocr_model')}", "PaddleX cache"))
    return plan


def pull(config: dict, echo: Callable[[str], None] = print) -> list[str]:
    """Fetch every pinned model the configuration uses that is not present. Returns failures."""
    from ..core.coarse.scoring import visual

    failures = []
    for step, what, dest in plan_pull(config):
        have = Path(dest).is_file() if dest.startswith("/") else any(
            s.present for s in check(config, [step if step != "aesthetic" else "visual"]) if s.step == step)
        if have:
            echo(f"{step}: already present ({dest})")
            continue
        echo(f"{step}: fetching {what} -> {dest}")
        try:
            if what.startswith("hf://"):
                from huggingface_hub import snapshot_download

                from ..core.backends.transformers_chat import LLM_ALLOW_PATTERNS
                from ..core.captioning.transformers_backend import VLM_ALLOW_PATTERNS

                repo, rev = what[5:].rsplit("@", 1)
                patterns = {"visual": visual.CLIP_ALLOW_PATTERNS, "captions": VLM_ALLOW_PATTERNS,
                            "judge": LLM_ALLOW_PATTERNS}[step]
                path = snapshot_download(repo, revision=rev, allow_patterns=list(patterns))
                echo(f"{step}: {path}")
            elif what.startswith("paddleocr:"):
                from ..core.coarse.scoring.text import build_text_detector

                build_text_detector({**config["ocr"], "allow_download": True})
            else:
                download(what, Path(dest))
                if step == "aesthetic":
                    verify_md5(Path(dest), visual.AESTHETIC_HEAD_MD5)
        except (OSError, VidgenError, Exception) as exc:  # noqa: BLE001 - report every failure, go on
            failures.append(f"{step}: {what}: {type(exc).__name__}: {exc}")
            echo(f"{step}: FAILED: {exc}")
    return failures
