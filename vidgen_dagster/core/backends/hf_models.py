"""Offline resolution of Hugging Face models: a local folder or an HF id looked up only in the local HF
cache (never downloaded). Shared by CLIP, the captioning VLM and the judge LLM."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def hf_cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "~", "./", "../")) or os.path.isabs(spec) or spec.count("/") > 1


def check_model_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot hold a loadable transformers model (None when it looks complete)."""
    if not (folder / "config.json").is_file():
        return f"{folder} has no config.json (not a transformers model folder)"
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return f"{folder} has no weights ({' / '.join(WEIGHT_FILES)})"
    return None


@dataclass(frozen=True)
class HFSource:
    """Where a transformers model loads from, or why it cannot."""

    folder: str | None  # a loadable local folder (the cached snapshot for an HF id); None: unavailable
    where: str  # human-readable location, or why it is unavailable
    repo_id: str | None = None  # set for an HF id
    revision: str | None = None  # the snapshot's commit for an HF id

    @property
    def model_id(self) -> str:
        """``<repo>@<commit>`` for an HF id, the folder path for a local folder."""
        return f"{self.repo_id}@{self.revision}" if self.repo_id else str(self.folder or "")


def pinned_revision(spec: str, revision: str | None, default_model: str, pin: str) -> str:
    """The revision of ``spec`` to fetch and load: ``revision`` when set, else ``pin`` when ``spec`` is
    ``default_model`` (the registry's pinned commit), else ``main``."""
    rev = str(revision or "").strip()
    if rev:
        return rev
    return pin if str(spec or "").strip() == default_model else "main"


def resolve_hf_model(spec: str, revision: str = "", *, key: str, what: str = "model",
                     cache_dir: str | Path | None = None,
                     allow_patterns: tuple[str, ...] | None = None) -> HFSource:
    """Resolve ``spec`` (an HF repo id or a local folder) without loading or downloading anything.

    ``key`` is the config key that names the model (e.g. ``captions.model``), used in messages; ``what``
    names the kind of model (``VLM``, ``judge LLM``). An HF id is looked up only in the local HF cache
    (``cache_dir``, default ``$HF_HUB_CACHE``) at ``revision`` (empty: ``main``). ``allow_patterns``
    are the files the loader needs (what ``vidgen models pull`` fetches): huggingface_hub records the
    repo's whole file list next to a snapshot it downloaded and, without them, calls a snapshot holding
    only those files incomplete.
    """
    spec = str(spec or "").strip()
    if not spec:
        return HFSource(None, f"{key} is empty (set an HF id or a local folder)")
    local = Path(spec).expanduser()
    if local.exists() or looks_like_path(spec):
        if not local.is_dir():
            return HFSource(None, f"{key} folder {local} does not exist")
        why = check_model_folder(local)
        return HFSource(None, f"{key}: {why}") if why else HFSource(str(local.resolve()), str(local.resolve()))

    rev = str(revision or "").strip() or "main"
    hub = hf_cache_dir(cache_dir)
    missing = (f"{what} {spec}@{rev} not found in the HF cache ({hub}) — run `vidgen models pull` on a "
               f"networked machine, or set {key} to a local folder")
    if not (Path(hub) / ("models--" + spec.replace("/", "--"))).is_dir():
        return HFSource(None, missing)  # what the hub's lookup would say, without importing it (~0.3 s)
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(spec, revision=rev, cache_dir=hub, local_files_only=True,
                                        allow_patterns=list(allow_patterns) if allow_patterns else None))
    except Exception:  # LocalEntryNotFoundError, invalid repo id, unreadable cache
        return HFSource(None, missing)
    why = check_model_folder(folder)
    if why:
        return HFSource(None, f"{missing} (the cached snapshot is incomplete: {why})")
    # The snapshot folder is named after the commit it holds (also when ``rev`` was a branch).
    return HFSource(str(folder), f"{spec}@{folder.name} ({folder})", spec, folder.name)
