"""Scoring the caption rule detectors against the labelled caption sets in ``tests/data``.

Shared by ``tests/test_caption_rules.py`` and ``benchmarks/caption_rules_accuracy.py`` so both report the same
figures from the same split. ``captions_unseen.jsonl`` (guideline: ``captions_unseen.md``) is split into a tuning
half and a held-out half: the rules may be tuned on the first only, the second measures them on wording nobody
tuned for.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.rules import check_caption

DATA = Path(__file__).resolve().parent / "data"
UNSEEN = DATA / "captions_unseen.jsonl"
ORIGINAL = DATA / "captions_labelled.jsonl"
# Written after the first held-out measurement, for tuning only (never split, never held out).
TUNING_EXTRA = DATA / "captions_tuning_extra.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(tuning half, held-out half), stratified by label combination.

    Within a stratum items are ordered by SHA-256 of their id (not by file order, which groups captions by the
    style they were written in) and dealt alternately; the first item of each stratum goes to the half that is
    behind, so odd-sized strata do not all favour one half. Adding captions can move others between halves:
    re-measure the held-out half before and after a rules change on the same file.
    """
    strata: dict[tuple[bool, ...], list[dict]] = defaultdict(list)
    for it in items:
        strata[tuple(it[label] for label in LABELS)].append(it)
    tune: list[dict] = []
    held: list[dict] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda it: hashlib.sha256(it["id"].encode()).hexdigest())
        first, second = (tune, held) if len(tune) <= len(held) else (held, tune)
        for i, it in enumerate(members):
            (first if i % 2 == 0 else second).append(it)
    return tune, held


@dataclass
class LabelScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(items: list[dict]) -> tuple[dict[str, LabelScore], list[str]]:
    """Per-label confusion counts of the rules on ``items``, and one line per disagreement."""
    scores = {label: LabelScore() for label in LABELS}
    misses: list[str] = []
    for it in items:
        result = check_caption(it["caption"], it.get("finish_reason"))
        for label in LABELS:
            got, want = result.labels[label], it[label]
            key = "tp" if got and want else "fp" if got else "fn" if want else "tn"
            setattr(scores[label], key, getattr(scores[label], key) + 1)
            if got != want:
                evidence = "; ".join(result.reasons[label]) or "-"
                misses.append(f"  {key.upper()} {label:16s} {it['id']:8s} {evidence}")
    return scores, misses


def table(scores: dict[str, LabelScore]) -> str:
    rows = [f"{'label':18s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'tn':>4s} {'precision':>10s} {'recall':>8s}"]
    for label, s in scores.items():
        rows.append(f"{label:18s} {s.tp:4d} {s.fp:4d} {s.fn:4d} {s.tn:4d} {s.precision:10.3f} {s.recall:8.3f}")
    return "\n".join(rows)


def one_line(scores: dict[str, LabelScore]) -> str:
    return " | ".join(f"{label} P={s.precision:.3f} R={s.recall:.3f}" for label, s in scores.items())
