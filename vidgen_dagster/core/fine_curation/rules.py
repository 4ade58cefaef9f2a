"""Rule detectors for the paper's three caption errors (VidGen-1M, arXiv 2408.02629, fine curation).

Pure Python (``re``, ``collections``, ``zlib``), deterministic, no models; about a millisecond per caption or
less on one CPU core. The rules are deliberately precise (high precision first): each fires on explicit wording
and records the matched text as evidence in :attr:`RuleResult.reasons`. One module per label:

* ``scene_transition`` (:mod:`.scene_rules`) -- editorial language: "cuts to", "the view switches to", "we are
  then taken to", "a new shot shows", "meanwhile, elsewhere", "the footage jumps to", "the video then shows",
  "interspersed with", "from a different angle, we see", "in the next scene", "followed by a close-up", "a
  reaction shot", "smash cut", "montage", "edited together", "the second half of the clip", "Hours later",
  "Scenes:" / "Shot 2:" list items, "she is then seen in a kitchen". Continuous-camera language ("the camera
  pans to reveal", "the light changes", "the view shifts to the left", "the view shifts to reveal", "a river
  cuts through", "she transitions between poses", "takes another shot at the hoop") stays clean.
* ``frame_level`` (:mod:`.frame_rules`) -- frames or images enumerated or treated as the input: "the first
  image", "First image:", "Frame 1" / "Frames 1-2" / "pic 2" / "Image A:", "the top-left image", "Top left:",
  "the top row of images", "in these images", "the provided images", "as the frames progress", "still images",
  "frame-by-frame", numbered ("1." "2)" "#3:") or lettered lists of three or more items, and bulleted lists
  of successive states of one subject ("- A door is closed. - The door is half open."). "picture frame",
  "framed by", "frame rate", "the first person", a lone "The image shows ..." do not match.
* ``reduplication`` (:mod:`.reduplication`) -- looping/degenerate text or a missing end: empty caption;
  ``finish_reason == "length"``; no terminal punctuation (a list item only when it ends on "and", "the", ...);
  a word 4+ times in a row or a 2-6-word phrase 3+ times back-to-back; repeated 4-/8-grams and content
  bi-/trigrams; a sentence repeated verbatim, or two sentences that restate each other (Jaccard >= 0.6 of
  their stemmed content words); a character unit repeated 10+ times; zlib compression ratio >= 2.6 on
  captions of 300+ characters. Quoted text is left out of the n-gram/sentence tests.

Measured on ``tests/data`` by ``benchmarks/caption_rules_accuracy.py`` (held-out half of a caption set written
independently of the rules; guideline in ``tests/data/captions_unseen.md``).

Bump :data:`RULES_VERSION` whenever a rule changes: it feeds the fine-curation asset's code version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.frame_rules import frame_level
from vidgen_dagster.core.fine_curation.reduplication import reduplication
from vidgen_dagster.core.fine_curation.scene_rules import scene_transition

RULES_VERSION = "rules-3"


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
