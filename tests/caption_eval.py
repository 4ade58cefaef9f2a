"""Scoring the caption detectors against the labelled caption sets.

The tuning material lives in ``assets/caption_labels/`` (shipped with the package: the learned detector,
``vidgen_dagster/core/fine_curation/learned.py``, trains on it at runtime); the held-out set stays in ``tests/data``.

Shared by ``tests/test_caption_rules.py`` and ``benchmarks/caption_rules_accuracy.py`` so both report the same
figures from the same files.

* Tuning material (:data:`TUNING_FILES`): every set the rules have been written or tuned against -- the development
  set, ``captions_unseen.jsonl`` (both of its former halves: its held-out half was looked at while tuning, so it no
  longer measures generalisation), ``captions_tuning_extra.jsonl`` and ``captions_tuning_more.jsonl`` (491 captions
  written for rules-4 in eight batches: dense VLM prose, one-liners, lists, timelines, many verbs for a change of
  scene, and hard negatives -- pans, zooms, drones, "then he walks into", light and weather changes, screens inside
  the picture; labelled by the guideline in ``captions_unseen.md``; each batch was scored once before the rules were
  tuned on it), and ``captions_tuning_styles.jsonl`` (374 captions written for rules-5 in five batches:
  timestamps, screenplay and storyboard layouts, labelled shots, markdown, question-answer and vlog voices, broadcast
  and documentary wording, and hard negatives aimed at the new rules' own trigger words; each of the first four
  batches was scored once, by the rules and the learned detector, before anything was tuned on it).
* Held out (:data:`FRESH`, :data:`FRESH2`): ``captions_fresh.jsonl`` and ``captions_fresh2.jsonl``, each written by
  another author without reading the rules and never used for tuning. Their disagreements are printed only on
  request, so that tuning does not look at them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.learned import LABELS_DIR
from vidgen_dagster.core.fine_curation.rules import RuleResult, check_caption, check_captions

DATA = Path(__file__).resolve().parent / "data"
ORIGINAL = LABELS_DIR / "captions_labelled.jsonl"
UNSEEN = LABELS_DIR / "captions_unseen.jsonl"  # guideline: tests/data/captions_unseen.md
TUNING_EXTRA = LABELS_DIR / "captions_tuning_extra.jsonl"
TUNING_MORE = LABELS_DIR / "captions_tuning_more.jsonl"
TUNING_STYLES = LABELS_DIR / "captions_tuning_styles.jsonl"
TUNING_FILES = (ORIGINAL, UNSEEN, TUNING_EXTRA, TUNING_MORE, TUNING_STYLES)
FRESH = DATA / "captions_fresh.jsonl"  # guideline: captions_fresh.md; held out, never tuned on
FRESH2 = DATA / "captions_fresh2.jsonl"  # guideline: captions_fresh2.md; held out, never tuned on
HELD_OUT_FILES = (FRESH, FRESH2)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tuning_material() -> list[dict]:
    return [it for path in TUNING_FILES for it in load(path)]


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


def score(items: list[dict], learned=None) -> tuple[dict[str, LabelScore], list[str]]:
    """Per-label confusion counts on ``items`` of the rules (``learned`` None) or of rules OR the learned detector
    (a :class:`~vidgen_dagster.core.fine_curation.learned.LearnedDetector`), and one line per disagreement."""
    scores = {label: LabelScore() for label in LABELS}
    misses: list[str] = []
    if learned is None:
        results: list[RuleResult] = [check_caption(it["caption"], it.get("finish_reason")) for it in items]
    else:
        results = check_captions([(it["caption"], it.get("finish_reason")) for it in items], learned)
    for it, result in zip(items, results, strict=True):
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
