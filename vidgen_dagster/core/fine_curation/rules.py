"""Rule detectors for the paper's three caption errors (VidGen-1M, arXiv 2408.02629, fine curation).

Pure Python (``re``, ``collections``, ``zlib``), deterministic, no models; a few milliseconds per caption on one
CPU core. The rules are deliberately precise (high precision first): each fires on explicit wording
and records the matched text as evidence in :attr:`RuleResult.reasons`. One module per label:

* ``scene_transition`` (:mod:`.scene_rules`; :mod:`.scene_phrases`, :mod:`.scene_structure`) -- editorial language
  and structure. The phrase table of rules-1..3, then general vocabulary rather than the wording of single captions:
  shot nouns (scene, setting, view, footage, camera angle) x change-of-shot verbs ("the setting flips to", "the view
  jumps from the cockpit to", "the scene then becomes a platform"); the *video* moving ("the clip goes from a race
  to an interview"); "a new/different/second" camera, angle or setting; multi-shot nouns (montage, title cards,
  "several takes", "alternating shots"); time ellipses ("weeks later", "is shown afterwards"); list fields
  ("Setting: a lake -> a market", "Locations: a, b"); a sequence marker followed by a place not named before with no
  movement described ("Later in the video, he is sitting in a beach bar"); list items or "begins in ... ends in ..."
  set in different places. Gates keep one-shot captions clean: a negation just before ("no cuts", "never switches
  to"), an edit on a screen inside the picture, and for the softer kinds a camera move, a continuous take or subject
  movement in the same sentence ("the view changes as the drone climbs", "then she walks into a cafe", "the scene
  shifts from daylight to dusk").
* ``frame_level`` (:mod:`.frame_rules`) -- frames or images enumerated or treated as the input: "the first
  image", "First image:", "Frame 1" / "Frames 1-2" / "pic 2" / "Image A:", "the top-left image", "Top left:",
  "the top row of images", "in these images", "the provided images", "as the frames progress", "still images",
  "frame-by-frame", numbered ("1." "2)" "#3:") or lettered lists of three or more items, and bulleted lists
  of successive states of one subject ("- A door is closed. - The door is half open."). "picture frame",
  "framed by", "frame rate", "the first person", a lone "The image shows ..." do not match.
* ``reduplication`` (:mod:`.reduplication`) -- looping/degenerate text or a missing end: empty caption;
  ``finish_reason == "length"``; no terminal punctuation (a list item only when it ends on "and", "the", ...); an
  ellipsis after a dangling word ("toward the..."); a word 4+ times in a row or a 2-6-word phrase 3+ times
  back-to-back; repeated 4-/8-grams and content bi-/trigrams; a sentence repeated verbatim, or two sentences that
  restate each other (Jaccard >= 0.6 of their stemmed content words), or two clauses of one sentence that do (>=
  0.8); a character unit repeated 10+ times; zlib compression ratio >= 2.6 on captions of 300+ characters. Quoted
  text is left out of the n-gram/sentence tests.

Measured by ``benchmarks/caption_rules_accuracy.py``: on the tuning material (every labelled file the rules were
written or tuned against) and, with ``--held-out``, on ``tests/data/captions_fresh.jsonl`` and
``captions_fresh2.jsonl``, each written by another author without reading the rules and never tuned on. rules-5 adds
constructions found in captions of new styles (:mod:`.scene_rules`, which also gives their figures).

Beside the rules, :func:`check_captions` can add a learned detector (:mod:`.learned`: MiniLM embeddings and a
logistic head per label, ``caption_rules.learned``): a label is then ``rules OR learned``, and a learned verdict's
evidence reads ``learned p=0.93``.

Bump :data:`RULES_VERSION` whenever a rule changes: it feeds the fine-curation asset's code version (with
:func:`detectors_version`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.frame_rules import frame_level
from vidgen_dagster.core.fine_curation.reduplication import reduplication
from vidgen_dagster.core.fine_curation.scene_rules import scene_transition

if TYPE_CHECKING:
    from vidgen_dagster.core.fine_curation.learned import LearnedDetector

RULES_VERSION = "rules-5"


@dataclass
class RuleResult:
    """Per-label verdicts plus the evidence that produced each positive verdict."""

    labels: dict[str, bool]
    reasons: dict[str, list[str]] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return any(self.labels.values())


def check_caption(caption: str, finish_reason: str | None = None) -> RuleResult:
    """Run the three rule detectors on one caption.

    ``finish_reason`` is the generator's stop reason when known (OpenAI/vLLM style): ``"length"``
    means the caption hit the token limit and is treated as cut off (``reduplication``).
    An empty or whitespace-only caption is ``reduplication`` with reason ``"empty caption"``.
    """
    caption = caption or ""
    lower = caption.lower()
    blank = not caption.strip()
    reasons: dict[str, list[str]] = {
        "scene_transition": [] if blank else scene_transition(caption, lower),
        "frame_level": [] if blank else frame_level(caption, lower),
        "reduplication": reduplication(caption, finish_reason),
    }
    labels = {name: bool(reasons[name]) for name in LABELS}
    return RuleResult(labels=labels, reasons={name: reasons[name] for name in LABELS})


def check_captions(captions: list[tuple[str, str | None]], learned: LearnedDetector | None = None) -> list[RuleResult]:
    """:func:`check_caption` for each ``(caption, finish_reason)``, then, with ``learned``, each label the learned
    detector flags (probability at or above its threshold) is set too, with the reason ``learned p=<p>``. Empty
    captions are left to the rules (``reduplication``: "empty caption")."""
    results = [check_caption(text, finish) for text, finish in captions]
    if learned is None:
        return results
    todo = [i for i, (text, _) in enumerate(captions) if (text or "").strip()]
    for i, flags in zip(todo, learned.flags([captions[i][0] for i in todo]), strict=True):
        for name, p in flags.items():
            if p is not None:
                results[i].labels[name] = True
                results[i].reasons[name].append(f"learned p={p:.2f}")
    return results


def detectors_version(config: dict) -> str:
    """What decides the rule columns: :data:`RULES_VERSION`, plus the learned detector's version and training-data
    hash unless ``caption_rules.learned`` is false (no model is loaded: this runs when Definitions load)."""
    from vidgen_dagster.core.fine_curation.learned import learned_setting, learned_version

    return RULES_VERSION if learned_setting(config) is False else f"{RULES_VERSION}+{learned_version()}"
