"""Coarse selection: thresholds on the stored scores, then category-balanced sampling.

Cheap and decode-free: it reads score tables only, so changing a threshold re-runs this step alone.

Thresholds (``thresholds.*``; ``null`` disables one). A clip is rejected with *every* reason it
fails, e.g. ``["motion_low: 0.0031 < 0.01", "text: 0.081 > 0.02"]``. A score that is missing because
its model was not available (backend ``none``, weights absent) is not a pass: the filter is listed as
*not applied* for that clip and in the asset metadata. A score missing because scoring failed on that
clip rejects the clip with the failure as its reason.

Category-balanced sampling (``sampling.*``) runs on the clips that passed every threshold. Category
``c`` is kept with probability ``p_c = r_c / max(r)`` with ``r_c = (target_c / freq_c) ** strength``,
where ``freq_c`` is the category's share among threshold passers in the *reference* and ``target_c``
its share in the target distribution. ``strength`` 1 flattens fully to the target, 0 keeps all.
Each clip draws ``u = hash(seed, clip_id)`` in [0, 1) and is kept when ``u < p_c``: deterministic.

The reference is the shard's own passers until the user runs ``vidgen rebalance``, which freezes a
reference over all shards (``<home>/sampling/reference.json``, with a generation number that is part
of the selection's code version). So a new shard never changes an old shard's decisions, and a
rebalance is an explicit act that makes every shard's selection stale.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass

from ..common.errors import ConfigError
from .scoring import registry

REFERENCE_FILE = "sampling/reference.json"

# (threshold key, score column, comparison, reason label) and the table each column comes from: every
# registered scoring stage's filters, in registry order (the order reasons are listed in).
FILTERS: list[tuple[str, str, str, str]] = [(f.key, f.column, f.kind, f.label) for _, f in registry.filters()]
SCORE_TABLE: dict[str, str] = {f.column: s.name for s, f in registry.filters()}


COARSE_KEYS = tuple(f[0] for f in FILTERS)


def coarse_thresholds(config: dict) -> dict:
    """The ``thresholds.*`` keys coarse selection applies (``alignment_min`` belongs to curated_clips)."""
    return {k: v for k, v in config["thresholds"].items() if k in COARSE_KEYS}


def selection_hash(config: dict) -> str:
    """What coarse_selection's decisions depend on: its thresholds and the sampling section."""
    near_dup = {k: v for k, v in config["thresholds"].items() if k.startswith("near_duplicate_")}
    payload = json.dumps({"thresholds": {**coarse_thresholds(config), **near_dup}, "sampling": config.get("sampling")},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def unit_hash(seed: int, clip_id: str) -> float:
    h = hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@dataclass
class Reference:
    freq: dict[str, float]
    generation: int = 0
    source: str = "shard"  # "shard" (this shard's passers) or "global" (frozen by `vidgen rebalance`)

    def to_json(self) -> bytes:
        return json.dumps({"generation": self.generation, "source": self.source, "freq": self.freq},
                          indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Reference:
        d = json.loads(data)
        return cls(freq={k: float(v) for k, v in d["freq"].items()}, generation=int(d["generation"]),
                   source=d.get("source", "global"))


def frequencies(categories: list[str]) -> dict[str, float]:
    counts = Counter(c for c in categories if c)
    total = sum(counts.values())
    return {c: n / total for c, n in sorted(counts.items())} if total else {}


def keep_probabilities(reference: dict[str, float], target: dict[str, float], strength: float) -> dict[str, float]:
    """Per-category keep probability (categories absent from the reference are kept)."""
    tot = sum(target.values())
    if tot <= 0:
        raise ConfigError("sampling.target weights must sum to more than 0")
    t = {c: w / tot for c, w in target.items()}
    ratios = {c: (t.get(c, 0.0) / f) ** strength if f > 0 else 1.0 for c, f in reference.items()}
    top = max(ratios.values(), default=1.0) or 1.0
    return {c: min(1.0, r / top) for c, r in ratios.items()}


def apply_thresholds(row: dict, thresholds: dict) -> tuple[list[str], list[str]]:
    """(failed reasons, filters not applied) for one clip's joined score row."""
    reasons, not_applied = [], []
    for key, column, kind, label in FILTERS:
        limit = thresholds.get(key)
        if limit is None:
            continue
        value = row.get(column)
        table = SCORE_TABLE[column]
        if _missing(value):
            if row.get(f"{table}.status") == "failed":
                reasons.append(f"failed: {table}: {row.get(f'{table}.error')}")
            else:
                not_applied.append(key)
            continue
        if kind == "min" and value < limit:
            reasons.append(f"{label}: {value:.4g} < {limit:g}")
        elif kind == "max" and value > limit:
            reasons.append(f"{label}: {value:.4g} > {limit:g}")
    return list(dict.fromkeys(reasons)), not_applied


def select(rows: list[dict], thresholds: dict, sampling: dict, categories: list[str],
           reference: Reference | None) -> tuple[list[dict], dict]:
    """Decide every clip. ``rows`` are clips joined with their scores (``<table>.status`` /
    ``<table>.error`` keys carry each score row's state). Returns (decisions, summary)."""
    unknown = set(thresholds) - {f[0] for f in FILTERS}
    if unknown:
        raise ConfigError(f"unknown thresholds: {sorted(unknown)}; known: {[f[0] for f in FILTERS]}")
    out = []
    for row in rows:
        reasons, not_applied = apply_thresholds(row, thresholds)
        if row.get("frames_error"):
            reasons.insert(0, f"failed: frames: {row['frames_error']}")
        out.append({
            "clip_id": row["clip_id"], "video_id": row["video_id"], "shard": row["shard"],
            "decision": "rejected" if reasons else "kept", "reasons": reasons,
            "passed_thresholds": not reasons, "not_applied": not_applied,
            "category": row.get("category"), "keep_prob": None,
        })
    summary: dict = {"sampling": "off"}
    passers = [d for d in out if d["passed_thresholds"]]
    if sampling.get("enabled", True) and passers:
        if any(d["category"] is None for d in passers):
            summary["sampling"] = "not applied: category scores missing"
        else:
            ref = reference or Reference(frequencies([d["category"] for d in passers]), 0, "shard")
            target = dict(sampling.get("target") or {}) or {c: 1.0 for c in categories}
            probs = keep_probabilities(ref.freq, target, float(sampling.get("strength", 0.5)))
            seed = int(sampling.get("seed", 0))
            for d in passers:
                p = probs.get(d["category"], 1.0)
                d["keep_prob"] = round(p, 6)
                if unit_hash(seed, d["clip_id"]) >= p:
                    d["decision"] = "rejected"
                    d["reasons"] = [f"sampled_out: category {d['category']} keep_prob {p:.3f}"]
            summary["sampling"] = f"{ref.source} reference (generation {ref.generation})"
    return out, summary
