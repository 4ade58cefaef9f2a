"""Running the real ``vidgen`` command from tests, and writing a test configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

VIDGEN = [sys.executable, "-m", "vidgen_dagster.cli"]


def vidgen(*args: str, **kw) -> subprocess.CompletedProcess:
    """``vidgen ARGS`` in a subprocess (this interpreter), output captured as text; ``kw`` go to subprocess.run."""
    return subprocess.run([*VIDGEN, *args], capture_output=True, text=True, **kw)


def write_config(path: Path, models: dict, **overrides) -> str:
    """A configuration that runs the whole graph with the tiny random-weight models (``tiny_models`` fixture)."""
    cfg = {
        "visual": {"clip_model": models["clip"], "aesthetic_head": models["head"], "device": "cpu"},
        "captions": {"model": models["vlm"], "max_new_tokens": 16, "device": "cpu", "batch_size": 2},
        "judge": {"model": models["lm"], "max_tokens": 24, "device": "cpu", "max_attempts": 2},
        # random-weight CLIP: aesthetic is meaningless, keep the coarse stage permissive
        "thresholds": {"aesthetic_min": None, "consistency_min": None},
        "sampling": {"enabled": False},
    }
    for section, values in overrides.items():
        cfg.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(cfg))
    return str(path)
