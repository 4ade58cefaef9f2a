"""Model registry: which backend each model-bound step will run, with which weights, from where.

``vidgen models check`` prints :func:`check`; ``vidgen models pull`` runs :func:`pull` (in
:mod:`.pull`) on a networked machine (HF snapshots at the pinned revisions, torchvision RAFT weights
into the torch hub cache, the LAION aesthetic head into the vidgen models cache). Nothing here
downloads unless ``pull`` is called.

:func:`fingerprint` is a short hash of what :func:`check` resolves for a step (backend, weights
location and size). It is part of the score assets' code versions, so pulling a model (or removing
one) makes exactly the scores it affects stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..core.backends.hf_models import looks_like_path
from ..core.coarse.scoring.registry import BY_STEP, STAGES
from ..core.coarse.scoring.stage import ModelStatus, model_fingerprint
from ..core.common.errors import ConfigError

__all__ = ["STEPS", "ModelStatus", "check", "download", "fingerprint", "plan_pull", "pull", "verify_md5"]


def _llm_step(step: str, cfg: dict, resolve, default: str, revision: str) -> list[ModelStatus]:
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
    if Path(model).expanduser().exists() or looks_like_path(model):
        revision = ""  # a local folder has no revision
    return [ModelStatus(step, "transformers", model, revision, folder is not None,
                        str(folder) if folder else where,
                        "" if folder else f"{step} will be recorded as unavailable")]


def _captions(cfg: dict) -> list[ModelStatus]:
    from ..core.captioning.transformers_backend import DEFAULT_VLM, resolve_vlm, vlm_revision

    return _llm_step("captions", cfg, resolve_vlm, DEFAULT_VLM, vlm_revision(cfg))


def _judge(cfg: dict) -> list[ModelStatus]:
    from ..core.backends.transformers_chat import DEFAULT_JUDGE_LLM, chat_model_revision, resolve_chat_model

    def resolve(c):
        src = resolve_chat_model(c)
        return src.folder, src.where

    return _llm_step("judge", cfg, resolve, DEFAULT_JUDGE_LLM, chat_model_revision(cfg))


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
# Fetching lives in .pull; these names stay importable from the registry.
from .pull import download, plan_pull, pull, verify_md5  # noqa: E402
