"""Fine-curation rule detectors against a hand-labelled caption set (tests/data/captions_labelled.jsonl).

The labelled set was written before the rules, labelled by what a careful reader would say; the
evaluation prints per-label precision/recall (``pytest -s``) and asserts both >= 0.9 per label.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.rules import RULES_VERSION, RuleResult, check_caption

DATA = Path(__file__).resolve().parent / "data" / "captions_labelled.jsonl"
MIN_PRECISION = 0.9
MIN_RECALL = 0.9


def _load() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


ITEMS = _load()


def _check(item: dict) -> RuleResult:
    return check_caption(item["caption"], item.get("finish_reason"))


# --------------------------------------------------------------------------------------------------
# The labelled set itself
# --------------------------------------------------------------------------------------------------
def test_labelled_set_shape():
    assert len(ITEMS) >= 60
    ids = [it["id"] for it in ITEMS]
    assert len(ids) == len(set(ids))
    for it in ITEMS:
        assert isinstance(it["caption"], str) and it["note"]
        for label in LABELS:
            assert isinstance(it[label], bool), (it["id"], label)
        assert it.get("finish_reason", "stop") in ("stop", "length")
        if it.get("tricky"):
            assert it["tricky_for"] and all(label in LABELS for label in it["tricky_for"])
    clean = [it for it in ITEMS if not any(it[label] for label in LABELS)]
    assert len(clean) >= 15
    for label in LABELS:
        alone = [it for it in ITEMS if it[label] and sum(it[x] for x in LABELS) == 1]
        assert len(alone) >= 8, label
        # a tricky negative for a label: marked tricky for it, and really negative for it
        tricky = [it for it in ITEMS if it.get("tricky") and label in it["tricky_for"] and not it[label]]
        assert len(tricky) >= 5, label
    assert sum(1 for it in ITEMS if sum(it[x] for x in LABELS) >= 2) >= 3


def test_precision_recall_per_label():
    counts = {label: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for label in LABELS}
    misses: list[str] = []
    for it in ITEMS:
        result = _check(it)
        for label in LABELS:
            got, want = result.labels[label], it[label]
            key = "tp" if got and want else "fp" if got else "fn" if want else "tn"
            counts[label][key] += 1
            if got != want:
                misses.append(f"  {key.upper()} {label:16s} {it['id']:10s} {result.reasons[label]}")
    rows = [f"{'label':18s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'tn':>4s} {'precision':>10s} {'recall':>8s}"]
    scores = {}
    for label, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        scores[label] = (precision, recall)
        rows.append(
            f"{label:18s} {c['tp']:4d} {c['fp']:4d} {c['fn']:4d} {c['tn']:4d} {precision:10.3f} {recall:8.3f}"
        )
    print(f"\ncaption rules {RULES_VERSION} on {len(ITEMS)} labelled captions\n" + "\n".join(rows))
    if misses:
        print("misses:\n" + "\n".join(misses))
    for label, (precision, recall) in scores.items():
        assert precision >= MIN_PRECISION, (label, precision, misses)
        assert recall >= MIN_RECALL, (label, recall, misses)


def test_flagged_matches_labels():
    for it in ITEMS:
        result = _check(it)
        assert set(result.labels) == set(LABELS) == set(result.reasons)
        assert result.flagged == any(result.labels.values())
        for label in LABELS:  # evidence exactly when positive
            assert bool(result.reasons[label]) == result.labels[label], (it["id"], label)


def test_deterministic():
    for it in ITEMS[:20]:
        assert _check(it) == _check(it)


# --------------------------------------------------------------------------------------------------
# Targeted cases
# --------------------------------------------------------------------------------------------------
CLEAN_PAD = " The lighting is soft and natural, and the camera is steady."


@pytest.mark.parametrize(
    "caption",
    [
        "The camera pans to reveal a wide valley with a river winding through it.",
        "The camera zooms in on the singer's face as she hits the high note.",
        "The light changes from blue to amber as the concert reaches its peak.",
        "The scene is lit by a single candle on the wooden table.",
        "The scene shows a busy harbor with fishing boats tied to the dock.",
        "There is a change of expression on the boy's face when he opens the gift.",
        "The weather changes as clouds roll over the hill and rain starts to fall.",
        "She walks to the next room and sits on the bed, all in one continuous shot.",
        "A river cuts through the canyon far below the hikers.",
        "The cook cuts the bread into thick slices and butters them.",
        "The view shifts to the left as the camera follows the runner.",
        "The gymnast transitions between poses on the balance beam.",
        "A basketball player takes several shots at the hoop during practice.",
    ],
)
def test_scene_transition_negatives(caption):
    result = check_caption(caption + CLEAN_PAD)
    assert not result.labels["scene_transition"], result.reasons["scene_transition"]
    assert not result.flagged, result.reasons


@pytest.mark.parametrize(
    "caption",
    [
        "A picture frame on the wall holds a faded family photograph.",
        "The frame of the bicycle is painted bright orange.",
        "A cat sits behind a window frame, watching the rain.",
        "The old house is framed by trees on both sides of the path.",
        "The first person runs ahead while the second person stops to tie a shoe.",
        "He wears a shirt with the image of a cat printed on it.",
        "First, the chef chops onions; then she stirs them into a pot of soup.",
        "The dog stays centered in the frame as it runs toward the camera.",
        "The clip is filmed in slow motion at a high frame rate.",
        "A photographer reviews the images she has just taken of the waterfall.",
    ],
)
def test_frame_level_negatives(caption):
    result = check_caption(caption + CLEAN_PAD)
    assert not result.labels["frame_level"], result.reasons["frame_level"]
    assert not result.flagged, result.reasons


@pytest.mark.parametrize(
    "caption",
    [
        "A man hammers a nail again and again until it is flush with the board.",
        'A boy sings "row, row, row your boat" while paddling a toy boat in the bath.',
        "The painter uses red, green, and blue, then adds more red, green, and blue to the sky.",
        "A dog runs. The dog jumps. The dog barks at the mailman.",
        "The man in the suit walks in the rain in the city at night in the light of the shops.",
        "Waves crash on the shore over and over again.",
        "The banner above the stage reads \u201cWelcome Home.\u201d",
        "The dancers spin in a circle (all wearing white)",
    ],
)
def test_reduplication_negatives(caption):
    result = check_caption(caption)
    assert not result.labels["reduplication"], result.reasons["reduplication"]


@pytest.mark.parametrize(
    ("caption", "label"),
    [
        ("A chef cooks pasta. The video then cuts to a waiter serving the dish.", "scene_transition"),
        ("A boy kicks a ball. In the next scene, he is asleep in bed.", "scene_transition"),
        ("A girl blows bubbles; the shot changes and she is now in a classroom.", "scene_transition"),
        ("The footage alternates between the singer and the crowd.", "scene_transition"),
        ("A man jogs at dawn. Next, we see him typing at his office desk.", "scene_transition"),
        ("The video is a compilation of cats knocking things off tables.", "scene_transition"),
        ("In the first frame, a cup is full. In the second frame, it is empty.", "frame_level"),
        ("Frame 1: a door is closed. Frame 2: the door is open.", "frame_level"),
        ("The first image shows a street and the second image shows a park.", "frame_level"),
        ("In these images, a boy rides a bike down a hill.", "frame_level"),
        ("Image 3 shows a close-up of the dish.", "frame_level"),
        ("The sequence of images depicts a sunset.", "frame_level"),
        ("1. A dog sits.\n2. The dog stands.\n3. The dog runs away.", "frame_level"),
        ("The top-left image shows a cat and the bottom-right image shows a dog.", "frame_level"),
        ("The man is walking the man is walking the man is walking the man is walking.", "reduplication"),
        (
            "A red car drives down the road. A red car drives down the road. It passes a shop.",
            "reduplication",
        ),
        ("The sky is very very very very blue.", "reduplication"),
        ("A baby crawls across the floor toward a ball", "reduplication"),
    ],
)
def test_positives(caption, label):
    result = check_caption(caption)
    assert result.labels[label], result.reasons
    assert result.reasons[label]
    assert result.flagged


def test_empty_caption_is_reduplication():
    for caption in ("", "   \n\t "):
        result = check_caption(caption)
        assert result.labels == {"scene_transition": False, "frame_level": False, "reduplication": True}
        assert result.reasons["reduplication"] == ["empty caption"]


def test_finish_reason_length_is_truncation_even_with_a_period():
    caption = "A woman dances in a studio with mirrors, spinning gracefully in a red dress."
    assert not check_caption(caption).flagged
    assert not check_caption(caption, "stop").flagged
    result = check_caption(caption, "length")
    assert result.labels["reduplication"]
    assert result.reasons["reduplication"] == ['truncated: finish_reason == "length"']


# --------------------------------------------------------------------------------------------------
# Evidence text
# --------------------------------------------------------------------------------------------------
def test_reasons_quote_the_evidence():
    result = check_caption("A woman walks her dog. The video then cuts to a close-up of the dog drinking.")
    assert result.reasons["scene_transition"] == ['scene change: "The video then cuts to"']

    result = check_caption("There is a cut to the interior of the car.")
    assert 'cut phrase: "a cut to"' in result.reasons["scene_transition"]

    result = check_caption("In the first frame, a cup is full. In the second frame, it is empty.")
    assert result.reasons["frame_level"] == [
        'frame enumeration: "In the first frame"',
        'frame enumeration: "In the second frame"',
    ]

    result = check_caption("The video shows a colorful colorful colorful colorful carnival.")
    assert result.reasons["reduplication"] == ['word repeated 4+ times in a row: "colorful"']

    result = check_caption("A dog runs across a field toward the")
    assert result.reasons["reduplication"][0].startswith("truncated: ends without terminal punctuation")
    assert "toward the" in result.reasons["reduplication"][0]

    result = check_caption("A man walks. The man is walking on the beach. The man is walking on the beach.")
    assert any(r.startswith("repeated sentence x2") for r in result.reasons["reduplication"])


def test_rules_version_is_a_string():
    assert isinstance(RULES_VERSION, str) and RULES_VERSION.startswith("rules-")
