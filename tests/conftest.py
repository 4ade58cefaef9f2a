"""Shared fixtures: the real footage folder, its ground truth, and temporary stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def media_dir() -> Path | None:
    explicit = os.environ.get("VIDGEN_MEDIA")
    path = Path(explicit) if explicit else ROOT.parent / "shared" / "media"
    if path.is_dir():
        return path
    if explicit:  # asked for and missing: a setup error, not a skip
        raise RuntimeError(f"VIDGEN_MEDIA={explicit} is not a folder")
    return None


@pytest.fixture(scope="session")
def media() -> Path:
    path = media_dir()
    if path is None:
        pytest.skip("../shared/media not present (set VIDGEN_MEDIA)")
    return path


@pytest.fixture(scope="session")
def cuts_truth(media: Path) -> dict:
    return json.loads((media / "groundtruth" / "cuts.json").read_text())


@pytest.fixture(scope="session")
def probe_truth(media: Path) -> dict:
    return {r["file"]: r for r in json.loads((media / "groundtruth" / "probe.json").read_text())}


@pytest.fixture(scope="session")
def demo_footage(tmp_path_factory) -> Path:
    from vidgen_dagster.core.ingest.demo_footage import render_samples

    folder = tmp_path_factory.mktemp("demo_footage")
    render_samples(folder)
    return folder


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("VIDGEN_HOME", str(h))
    monkeypatch.delenv("VIDGEN_CONFIG", raising=False)
    return h


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """Tiny random-weight models built here and saved like real ones (loaded by the real loaders):
    a Qwen2.5-VL (the default captioner's architecture), a Llama-style judge LM, CLIP and a LAION
    aesthetic head. (A tiny LLaVA, for "any VLM", is covered in test_transformers_backends.py.)"""
    from tiny_lm import build_tiny_lm
    from tiny_models import TINY_CLIP_DIM, build_laion_head, build_tiny_clip
    from tiny_qwen_vl import build_tiny_qwen_vl

    root = tmp_path_factory.mktemp("models")
    return {"vlm": str(build_tiny_qwen_vl(root / "vlm")), "lm": str(build_tiny_lm(root / "lm")),
            "clip": str(build_tiny_clip(root / "clip")),
            "head": str(build_laion_head(root / "head.pth", TINY_CLIP_DIM))}
