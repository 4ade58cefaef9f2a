"""Configuration: the documented defaults, the home's configuration of record, validation.

The effective configuration of a process is ``assets/defaults.yaml`` (every key, its default and the reason
for it) deep-merged with the home's record ``<home>/vidgen.yaml`` (the keys a user changed, written by
``vidgen curate --config FILE``), then optionally with a one-off overlay file. It is validated as a whole
before anything runs: unknown keys, wrong types and out-of-range values are a :class:`ConfigError` that
names the key.

Each top-level section has its own hash; assets use the hashes of the sections they read as part of their
``code_version``, so changing ``clips.min_seconds`` makes ``clips`` stale but not ``scenes``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ASSETS_DIR = Path(os.environ.get("VIDGEN_ASSETS", Path(__file__).resolve().parents[3] / "assets"))
DEFAULTS_FILE = ASSETS_DIR / "defaults.yaml"
HOME_CONFIG = "vidgen.yaml"

# Keys added to defaults.yaml after homes existed: while they hold their default they are left out of the
# section hashes, so declaring a key the code already read does not make every stored score stale.
_ADDED_LATER = {
    ("captions", "seed"), ("captions", "repetition_penalty"), ("judge", "seed"),
    ("ocr", "threads"), ("ocr", "paddleocr_rec_model"), ("ocr", "paddleocr_model_dir"),
}


# -- validation rules -------------------------------------------------------------------------------
# The type of every key is the type of its default (numbers: int or float where the default is a float);
# the rules below add ranges, choices and the types of keys whose default is null.

@dataclass(frozen=True)
class Rule:
    kind: str = ""                     # number | int | str | bool | auto_bool | list | mapping ("" = from the default)
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()      # for str, or for every item of a list
    nullable: bool = False


RULES: dict[str, Rule] = {
    "ingest.shard_size": Rule("int", 1, 100_000),
    "ingest.settle_seconds": Rule("number", 0),
    "scenes.analysis_short_side": Rule("int", 16, 1080),
    "scenes.content_threshold": Rule("number", 0),
    "scenes.adaptive_threshold": Rule("number", 0),
    "scenes.fade_threshold": Rule("number", 0, 255),
    "scenes.cut_detector": Rule("str", choices=("content", "adaptive", "cascade", "transnetv2")),
    "scenes.fade_black_share": Rule("number", 0, 1),
    "scenes.fade_ramp_frames": Rule("int", 1, 1000),
    "scenes.gradual_window_s": Rule("number", 0.01, 60),
    "scenes.gradual_threshold": Rule("number", 0, 1),
    "scenes.gradual_ratio": Rule("number", 0),
    "scenes.gradual_side_ratio": Rule("number", 0),
    "scenes.transnet_threshold": Rule("number", 0, 1),
    "scenes.transnet_device": Rule("str", choices=("auto", "cpu", "cuda")),
    "scenes.max_aspect_ratio": Rule("number", 1),
    "scenes.min_scene_frames": Rule("int", 1),
    "scenes.cut_trim_frames": Rule("int", 0, 100),
    "scenes.fade_margin_s": Rule("number", 0, 60),
    "clips.min_seconds": Rule("number", 0.1, 3600),
    "clips.max_seconds": Rule("number", 0.1, 3600),
    "frames.short_side": Rule("int", 32, 2160),
    "frames.flow_pairs": Rule("int", 0, 32),
    "frames.flow_gap_s": Rule("number", 0, 10),
    "frames.jpeg_quality": Rule("int", 1, 100),
    "motion.backend": Rule("str", choices=("auto", "raft", "dis", "farneback", "none")),
    "motion.raft_model": Rule("str", choices=("raft_small", "raft_large")),
    "motion.batch_size": Rule("int", 1, 4096),
    "motion.short_side": Rule("int", 64, 2160),
    "motion.dis_preset": Rule("str", choices=("ultrafast", "fast", "medium")),
    "ocr.backend": Rule("str", choices=("rapidocr", "paddleocr", "none")),
    "ocr.frames": Rule("list", choices=("first", "middle", "last")),
    "ocr.min_box_score": Rule("number", 0, 1),
    "ocr.min_rec_score": Rule("number", 0, 1),
    "ocr.threads": Rule("int", 0, 1024),
    "ocr.paddleocr_rec_model": Rule("str", nullable=True),
    "ocr.paddleocr_model_dir": Rule("str", nullable=True),
    "visual.backend": Rule("str", choices=("transformers", "none")),
    "visual.batch_size": Rule("int", 1, 4096),
    "quality.black_luma": Rule("number", 0, 255),
    "quality.frozen_delta": Rule("number", 0, 255),
    # `null` disables a threshold. The coarse filters' thresholds come from the scoring stages that
    # declare them (see _stage_rules).
    "thresholds.alignment_min": Rule("number", -1, 1, nullable=True),
    "sampling.target": Rule("mapping", 0),
    "sampling.strength": Rule("number", 0, 10),
    "captions.backend": Rule("str", choices=("transformers", "openai", "none")),
    "captions.batch_size": Rule("int", 1, 1024),
    "captions.max_new_tokens": Rule("int", 1, 32_768),
    "captions.frames_per_clip": Rule("int", 1, 64),
    "captions.timeout_s": Rule("number", 0.001),
    "captions.max_retries": Rule("int", 0, 100),
    "captions.concurrency": Rule("int", 1, 1024),
    "captions.temperature": Rule("number", 0, 2),
    "captions.jpeg_quality": Rule("int", 1, 100),
    "captions.repetition_penalty": Rule("number", 0.01, 10, nullable=True),
    "judge.backend": Rule("str", choices=("transformers", "openai", "none")),
    "judge.max_attempts": Rule("int", 1, 20),
    "judge.max_tokens": Rule("int", 1, 32_768),
    "judge.timeout_s": Rule("number", 0.001),
    "judge.max_retries": Rule("int", 0, 100),
    "judge.concurrency": Rule("int", 1, 1024),
    "caption_rules.learned": Rule("auto_bool"),
    "curation.flag_sources": Rule("list", choices=("rules", "judge")),
    "curation.require_caption": Rule("auto_bool"),
    "checks.video_failed_max": Rule("number", 0, 1),
    "checks.coarse_kept_min": Rule("number", 0, 1),
    "checks.coarse_kept_max": Rule("number", 0, 1),
    "checks.curated_kept_min": Rule("number", 0, 1),
    "checks.caption_failed_max": Rule("number", 0, 1),
    "export.formats": Rule("list", choices=("webdataset", "csv", "jsonl", "parquet")),
    "export.clips_per_tar": Rule("int", 1, 10_000_000),
    "export.crf": Rule("int", 0, 51),
    "export.max_short_side": Rule("int", 16, 8192, nullable=True),
}

# Checks that involve more than one key: (message, predicate).
_CROSS: list[tuple[str, Callable[[dict], bool]]] = [
    ("clips.min_seconds must not exceed clips.max_seconds",
     lambda c: c["clips"]["min_seconds"] <= c["clips"]["max_seconds"]),
    ("thresholds.motion_min must be below thresholds.motion_max",
     lambda c: None in (c["thresholds"]["motion_min"], c["thresholds"]["motion_max"])
     or c["thresholds"]["motion_min"] < c["thresholds"]["motion_max"]),
    ("checks.coarse_kept_min must not exceed checks.coarse_kept_max",
     lambda c: c["checks"]["coarse_kept_min"] <= c["checks"]["coarse_kept_max"]),
    ("ingest.extensions must each start with a dot (e.g. .mp4)",
     lambda c: all(e.startswith(".") and len(e) > 1 for e in c["ingest"]["extensions"])),
]


def _kind_of(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    if isinstance(default, str):
        return "str"
    if isinstance(default, list):
        return "list"
    if isinstance(default, dict):
        return "mapping"
    return ""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@functools.cache
def _stage_rules() -> dict[str, Rule]:
    """The rules the registered scoring stages declare (their thresholds and settings); imported here,
    lazily, because the stages themselves read configuration section hashes from this module."""
    from ..coarse.scoring.registry import config_rules

    return {k: Rule(kind, lo, hi, nullable=nullable) for k, (kind, lo, hi, nullable) in config_rules().items()}


def _check_value(key: str, value: Any, default: Any) -> None:
    rule = RULES.get(key) or _stage_rules().get(key) or Rule()
    kind = rule.kind or _kind_of(default)
    if value is None:
        if rule.nullable or default is None:
            return
        raise ConfigError(f"configuration key {key!r} must not be null (default: {default!r})")

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"configuration key {key!r} must be {expected}, got {value!r}")

    if kind == "bool" and not isinstance(value, bool):
        raise bad("true or false")
    if kind == "auto_bool" and not (isinstance(value, bool) or value == "auto"):
        raise bad("true, false or auto")
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise bad("an integer")
    if kind == "number" and not _is_number(value):
        raise bad("a number")
    if kind == "str" and not isinstance(value, str):
        raise bad("a string")
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise bad("a list of strings (YAML: [a, b])")
        if rule.choices and not set(value) <= set(rule.choices):
            raise bad(f"a list of {', '.join(rule.choices)}")
    if kind == "mapping":
        if not isinstance(value, dict) or not all(_is_number(v) and (rule.lo is None or v >= rule.lo)
                                                  for v in value.values()):
            raise bad("a mapping of names to non-negative numbers")
    if kind == "str" and rule.choices and value not in rule.choices:
        raise bad(f"one of {', '.join(rule.choices)}")
    if kind in ("int", "number") and ((rule.lo is not None and value < rule.lo)
                                      or (rule.hi is not None and value > rule.hi)):
        lo = "" if rule.lo is None else f">= {rule.lo}"
        hi = "" if rule.hi is None else f"<= {rule.hi}"
        raise bad(" and ".join(x for x in (lo, hi) if x))


def validate(config: dict, defaults: dict | None = None) -> dict:
    """Check every key's type and range (and the cross-key rules); returns ``config``."""
    defaults = defaults if defaults is not None else load_defaults()

    def walk(values: dict, base: dict, where: str) -> None:
        for key, value in values.items():
            path = f"{where}{key}"
            if key not in base:
                raise ConfigError(f"unknown configuration key {path!r} (see `vidgen config show` for the valid keys)")
            if isinstance(base[key], dict) and path not in RULES:
                if not isinstance(value, dict):
                    raise ConfigError(f"configuration key {path!r} must be a mapping, got {value!r}")
                walk(value, base[key], path + ".")
            else:
                _check_value(path, value, base[key])

    walk(config, defaults, "")
    for message, ok in _CROSS:
        if not ok(config):
            raise ConfigError(message)
    return config


# -- loading ----------------------------------------------------------------------------------------
def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key {path!r} (see `vidgen config show` for the valid keys)")
        if isinstance(base[key], dict) and path not in RULES:
            if not isinstance(value, dict):
                raise ConfigError(f"configuration key {path!r} must be a mapping, got {value!r}")
            out[key] = _merge(base[key], value, path + ".")
        else:
            out[key] = value
    return out


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same result, faster
_defaults_cache: dict[tuple[str, int], dict[str, Any]] = {}


def load_defaults() -> dict[str, Any]:
    """The documented defaults (parsed once per process and file version; callers get their own copy)."""
    import copy

    try:
        key = (str(DEFAULTS_FILE), DEFAULTS_FILE.stat().st_mtime_ns)
    except FileNotFoundError:
        raise ConfigError(f"defaults file missing: {DEFAULTS_FILE} (set VIDGEN_ASSETS to the assets/ folder)") from None
    if key not in _defaults_cache:
        _defaults_cache.clear()
        _defaults_cache[key] = yaml.load(DEFAULTS_FILE.read_text(), Loader=_SafeLoader)
    return copy.deepcopy(_defaults_cache[key])


def parse_overrides(text: str, source: str) -> dict[str, Any]:
    try:
        user = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {source} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(user, dict):
        raise ConfigError(f"config file {source} must hold a mapping at the top level")
    return user


def read_overrides(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    return parse_overrides(p.read_text(), str(p))


def home_record(store: Any) -> dict[str, Any]:
    """The keys a home's user changed from the defaults (``<home>/vidgen.yaml`` of a
    :class:`~vidgen_dagster.core.store.Store`; empty when there is none)."""
    try:
        text = store.read_bytes(HOME_CONFIG).decode()
    except FileNotFoundError:
        return {}
    return parse_overrides(text, f"{store.home}/{HOME_CONFIG}")


def load_config(path: str | Path | None = None, home_overrides: dict | None = None) -> dict[str, Any]:
    """The validated effective configuration: defaults, then the home's record, then ``path``."""
    defaults = load_defaults()
    config = defaults
    for layer in (home_overrides or {}, read_overrides(path) if path else {}):
        config = _merge(config, layer)
    return validate(config, defaults)


def merge_overrides(record: dict, update: dict) -> dict:
    """The home's record with ``update`` applied (both partial: only keys that differ from nothing)."""
    out = copy.deepcopy(record)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "target":
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(config: dict, where: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{where}{key}"
        if isinstance(value, dict) and path not in RULES:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def changes(before: dict, after: dict) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every effective value that differs."""
    a, b = flatten(before), flatten(after)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def section_hash(config: dict, *sections: str) -> str:
    """A short stable hash of the named sections (what an asset's decisions depend on)."""
    defaults: dict | None = None
    picked = {}
    for s in sections:
        section = dict(config.get(s) or {})
        for sec, key in _ADDED_LATER:
            if sec == s and key in section:
                defaults = defaults if defaults is not None else load_defaults()
                if section[key] == defaults.get(s, {}).get(key):
                    del section[key]
        picked[s] = section if s in config else None
    payload = json.dumps(picked, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
