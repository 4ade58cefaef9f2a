"""Fine-curation rule detectors against hand-labelled caption sets (``tests/data``, scored by ``caption_eval``).

* Tuning material: ``captions_labelled.jsonl`` (the development set), ``captions_unseen.jsonl``,
  ``captions_tuning_extra.jsonl`` and ``captions_tuning_more.jsonl`` -- everything the rules were written or tuned
  against. Precision and recall >= 0.9 per label, per file.
* Held out: ``captions_fresh.jsonl``, written by another author without reading the rules and never tuned on; it
  measures the rules on wording they were not written for. Precision and recall >= 0.9 per label (issue 12).

``pytest -s`` prints each table.
"""

from __future__ import annotations

import pytest
from caption_eval import FRESH, TUNING_FILES, load, score, table, tuning_material

from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.rules import RULES_VERSION, RuleResult, check_caption

MIN_PRECISION = 0.9
MIN_RECALL = 0.9

TUNING = tuning_material()


def _check(item: dict) -> RuleResult:
    return check_caption(item["caption"], item.get("finish_reason"))


def _assert_targets(name: str, items: list[dict], metrics=("precision", "recall"), labels=LABELS) -> None:
    scores, misses = score(items)
    print(f"\ncaption rules {RULES_VERSION} on {name} ({len(items)} captions)\n{table(scores)}")
    for label in labels:
        for metric in metrics:
            value = getattr(scores[label], metric)
            target = MIN_PRECISION if metric == "precision" else MIN_RECALL
            assert value >= target, (name, label, metric, value, misses)


# --------------------------------------------------------------------------------------------------
# Precision / recall per label: tuning material
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", TUNING_FILES, ids=lambda p: p.stem)
def test_precision_recall_tuning_file(path):
    _assert_targets(path.name, load(path))


# --------------------------------------------------------------------------------------------------
# Precision / recall per label: the held-out set (never tuned on; its disagreements are not printed)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def held_out() -> list[dict]:
    return load(FRESH)


def _assert_held_out(items: list[dict], metric: str, label: str) -> None:
    scores, _ = score(items)
    value = getattr(scores[label], metric)
    print(f"\ncaption rules {RULES_VERSION} on {FRESH.name} ({len(items)} captions)\n{table(scores)}")
    target = MIN_PRECISION if metric == "precision" else MIN_RECALL
    assert value >= target, (FRESH.name, label, metric, round(value, 3))


@pytest.mark.parametrize("label", LABELS)
def test_held_out_precision(held_out, label):
    _assert_held_out(held_out, "precision", label)


@pytest.mark.parametrize(
    "label",
    [
        pytest.param(
            "scene_transition",
            # Not yet measured on captions_fresh.jsonl (rules-4 was tuned without looking at it); the old held-out
            # half read 0.78. Strict: when the rules reach the target this xpass fails and the marker must go.
            marks=pytest.mark.xfail(strict=True, reason="held-out scene_transition recall below 0.9 (issue 12)"),
        ),
        "frame_level",
        "reduplication",
    ],
)
def test_held_out_recall(held_out, label):
    _assert_held_out(held_out, "recall", label)


def test_flagged_matches_labels():
    for it in TUNING:
        result = _check(it)
        assert set(result.labels) == set(LABELS) == set(result.reasons)
        assert result.flagged == any(result.labels.values())
        for label in LABELS:  # evidence exactly when positive
            assert bool(result.reasons[label]) == result.labels[label], (it["id"], label)


def test_deterministic():
    for it in TUNING[::20]:
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
        "As the kayak rounds a bend, the view shifts to reveal a wide pool of green water.",
        "A photographer moves the tripod to frame another shot of the waterfall.",
        "She writes a note and glances at it before returning to her typing.",
        "A basketball player takes several shots at the hoop during practice.",
        # rules-4 gates: subject movement, camera movement / one take, negation, a screen inside the picture, light
        "A woman reads in a park. Then she walks into a cafe and orders a coffee.",
        "A toddler stacks blocks in a living room. Then she sits on the rug in the living room.",
        "In one continuous take, the view changes from the rooftops to the bay as the drone climbs.",
        "The movie on the laptop screen switches to a new scene while he eats popcorn on the bed.",
        "There is no cut here; the video never switches to another angle.",
        "Meanwhile, in the background, a cat stretches on the sofa.",
        "The scene shifts from daylight to dusk as the sun sets over the harbor.",
        "The clip begins in a hallway and ends in the classroom as she walks to her desk.",
        "A woman walks on a beach at sunset, and the video fades to black at the end.",
        "The video fades in from black to a sunlit meadow where a horse grazes.",
        "The clip turns to slow motion as the wave breaks against the pier.",
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
        "Key elements:\n- a red kayak\n- a calm river\n- a heron in the shallows",
        "A man walks on the beach. A woman walks on the beach.",
        "She gazes out at the calm sea...",
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
        ("- A door is closed.\n- The door is half open.\n- The door is wide open.", "frame_level"),
        ("Top left: a child holds a balloon. Top right: the balloon floats away.", "frame_level"),
        ("A farmer plows a field. We are then taken to a market in town.", "scene_transition"),
        ("A dog naps. Now we're in a vet clinic where it is examined.", "scene_transition"),
        # rules-4 structure: a new place after a sequence marker, list items in different places, begins/ends
        ("A dog naps on a lawn. Later in the video, it sleeps in a kennel.", "scene_transition"),
        ("0-3s: a woman stretches in a gym. 3-6s: she drinks water in her kitchen.", "scene_transition"),
        ("The clip begins in a classroom and ends in a gymnasium.", "scene_transition"),
        ("Setting: a riding arena, then a forest trail.", "scene_transition"),
        ("The setting changes from a quiet library to a loud nightclub.", "scene_transition"),
        ("A woman boxes in a gym. Switch to a quiet bedroom: she sleeps.", "scene_transition"),
        ("A man sits by a fire. The picture fades to black. A woman wakes up in a tent.", "scene_transition"),
        ("A dog digs in a garden. The story picks up at a vet clinic.", "scene_transition"),
        ("A boy flies a kite on a hill. A boy is flying a kite on a hill.", "reduplication"),
        ("Key elements:\n- a red kayak\n- a calm river\n- a heron and the", "reduplication"),
        ("The man is walking the man is walking the man is walking the man is walking.", "reduplication"),
        (
            "A red car drives down the road. A red car drives down the road. It passes a shop.",
            "reduplication",
        ),
        ("The sky is very very very very blue.", "reduplication"),
        ("A baby crawls across the floor toward a ball", "reduplication"),
        ("The camera follows a girl as she walks slowly toward the...", "reduplication"),
        (
            "A train crosses a bridge over a river and the river flows under the bridge and the train crosses the "
            "bridge over the river.",
            "reduplication",
        ),
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

    result = check_caption("A dog naps on a lawn. Later in the video, it sleeps in a kennel.")
    assert result.reasons["scene_transition"] == ['place change: "Later ... in a kennel"']

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
