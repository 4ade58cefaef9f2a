"""Configuration: the documented defaults in ``assets/defaults.yaml`` deep-merged with a user file.

Each top-level section has its own hash; assets use the hashes of the sections they read as part of
their ``code_version``, so changing ``clips.min_seconds`` makes ``clips`` stale but not ``scenes``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ASSETS_DIR = Path(os.environ.get("VIDGEN_ASSETS", Path(__file__).resolve().parents[2] / "assets"))
DEFAULTS_FILE = ASSETS_DIR / "defaults.yaml"


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key {path!r} (see `vidgen config show` for the valid keys)")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path!r} must be a mapping, got {type(value).__name__}")
            out[key] = _merge(base[key], value, path + ".")
        else:
            out[key] = value
    return out


def load_defaults() -> dict[str, Any]:
    if not DEFAULTS_FILE.exists():
        raise ConfigError(f"defaults file missing: {DEFAULTS_FILE} (set VIDGEN_ASSETS to the assets/ folder)")
    return yaml.safe_load(DEFAULTS_FILE.read_text())


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Defaults merged with ``path`` (YAML or JSON); ``$VIDGEN_CONFIG`` is used when ``path`` is None."""
    config = load_defaults()
    path = path or os.environ.get("VIDGEN_CONFIG") or None
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            user = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML/JSON: {exc}") from exc
        if not isinstance(user, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        config = _merge(config, user)
    return config


def section_hash(config: dict, *sections: str) -> str:
    """A short stable hash of the named sections (what an asset's decisions depend on)."""
    payload = json.dumps({s: config.get(s) for s in sections}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
