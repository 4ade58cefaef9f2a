"""Perceptual hashes of each clip's kept frames: the weight-free signal of near-duplicate footage.

Exact sha256 dedup (``videos``) misses the same footage remuxed or re-encoded. A 64-bit DCT pHash of the
stored first, middle and last frames (no decode, no model) survives both: the frame is reduced to grey
``dct_size`` x ``dct_size`` pixels, its 2-D DCT taken and the 8x8 lowest frequencies compared with their
median (one bit each; the classic pHash, as ``imagehash.phash`` computes it). Compression noise, scaling and
container metadata change high frequencies only: on the shared footage a re-encoded frame stays within
0-8 bits of the original while different shots differ in 18 or more (``benchmarks/near_duplicate_distances.py``).

This stage only stores the hashes; :mod:`vidgen_dagster.core.near_duplicates` decides (in coarse selection)
which clips are near-duplicates, across shards, through the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .stage import ClipByClipScorer, ClipStage

HASH_BITS = 64  # 8x8 DCT coefficients; the columns are int64 (the bits as a two's-complement integer)
ROLES = ("first", "middle", "last")


@dataclass(frozen=True)
class PHashSettings:
    dct_size: int = 32  # the grey frame is resized to this square before the DCT (imagehash: 8 x 4)

    @classmethod
    def from_dict(cls, d: dict) -> PHashSettings:
        return cls(**{k: int(d[k]) for k in cls.__dataclass_fields__ if k in d})


def phash(bgr: np.ndarray, dct_size: int = 32) -> int:
    """The 64-bit pHash of a BGR (or grey) frame as a signed int64 (DuckDB's BIGINT; Hamming distances
    are ``bit_count(xor(a, b))`` there and :func:`hamming` here)."""
    import cv2  # here, not at import: the registry (and so every table schema) imports this module

    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    small = cv2.resize(grey, (dct_size, dct_size), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    bits = (low > np.median(low)).flatten()
    value = int("".join("1" if b else "0" for b in bits), 2)
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << HASH_BITS) - 1)).bit_count()


class _Scorer(ClipByClipScorer):
    backend = "opencv"
    model_id = "opencv:dct-phash-64"
    label = "opencv (64-bit DCT pHash of first/middle/last frames)"

    def score(self, cf) -> dict:
        return {f"phash_{r}": phash(cf.image(r), self.settings.dct_size) for r in ROLES}


class PerceptualHashStage(ClipStage):
    name = "perceptual_hashes"
    sections = ("perceptual_hash",)
    description = ("Weight-free 64-bit DCT pHash of each clip's first/middle/last frames: coarse selection "
                   "rejects near-duplicate footage (remuxed, re-encoded copies) with it, across shards.")
    columns = (("backend", pa.string()), ("phash_first", pa.int64()), ("phash_middle", pa.int64()),
               ("phash_last", pa.int64()))
    # Its decision thresholds are read by core/coarse/near_duplicates.py, not by a per-clip Filter; null disables.
    settings_rules = {"perceptual_hash.dct_size": ("int", 8, 256),
                      "thresholds.near_duplicate_max_distance": ("int", 0, 31, True),
                      "thresholds.near_duplicate_min_cosine": ("number", -1, 1, True)}
    kinds = ("opencv",)

    def setup(self, config: dict, inputs) -> _Scorer:
        return _Scorer(PHashSettings.from_dict(config["perceptual_hash"]))
