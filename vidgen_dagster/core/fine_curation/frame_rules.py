"""``frame_level`` rules: captions that describe separate frames or images instead of one video."""

from __future__ import annotations

import re

from vidgen_dagster.core.fine_curation.rule_matching import WORD, Rule, gated, match_rules, quote

_I = re.IGNORECASE

# ---------------------------------------------------------------------------------------------------
# Frame-level generation
# ---------------------------------------------------------------------------------------------------
_FRAME_NOUN = r"(?:frame|image|picture(?!\s+frame)|photo(?:graph)?|still|snapshot|screenshot)"
_FRAME_NOUNS = r"(?:frames|images|pictures|photos|photographs|stills|snapshots|screenshots)"
_FRAME_NOUNS_STRICT = r"(?:frames|images|stills|snapshots|screenshots)"  # not wall "pictures"/"photos"
_ORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|next|last|final|"
    r"following|previous|subsequent|1st|2nd|3rd|\d+th)"
)
_NUMWORD = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)"
_FRAME_NEG_PREFIX = re.compile(
    r"\b(?:picture|window|door|bicycle|bike|photo|wooden|metal|steel|bed|glasses|house|climbing)\s*$", _I
)

_FRAME_GATE = "frame|image|picture|photo|still|snapshot|screenshot|pic|panel"
_FRAMES_GATE = "frames|images|pictures|photos|photographs|stills|snapshots|screenshots"
_FL_PATTERNS: list[Rule] = [
    # "the first frame", "in the second image", "the last picture", "the next image shows"
    (
        "frame enumeration",
        (_FRAME_GATE,),
        # determiner optional: "First image: ...", "comparing the first and last frames"
        re.compile(
            rf"\b(?:(?:the|in\s+the)\s+)?{_ORD}(?:\s+(?:and|&|or|to)\s+{_ORD})?"
            rf"(?:\s+(?:two|three|four|few|couple\s+of))?\s+{_FRAME_NOUN}s?\b",
            _I,
        ),
    ),
    # "the top-left image", "in the bottom-right frame": a grid of frames
    (
        "frame grid",
        (_FRAME_GATE, "top|bottom|left|right|middle|center|centre|central"),
        re.compile(
            r"\b(?:top|bottom|upper|lower|middle|center|centre|left|right|leftmost|rightmost|central)"
            r"(?:[-\s](?:left|right|middle|center))?"
            rf"\s+(?:{_FRAME_NOUN}|panel)s?\b(?!\s+(?:corner|edge|side|of\s+the\s+(?:room|wall|house)))",
            _I,
        ),
    ),
    # "Frame 1:", "image 3", "in frame two", "frame #2"
    (
        "frame number",
        (_FRAME_GATE,),
        # plural and "pic" too: "Frames 1-2:", "pic 2 is the same plate"
        re.compile(
            rf"\b(?:frame|image|picture|photo|pic|panel|snapshot|screenshot)s?\s*(?:#|no\.?)?\s*{_NUMWORD}\b(?!\s*%)", _I
        ),
    ),
    # "in these images", "in some of the images", "across the frames"
    (
        "frames as subject",
        (_FRAMES_GATE,),
        re.compile(
            rf"\b(?:in|across|throughout)\s+(?:(?:some|all|each|both|most|many)\s+of\s+)?"
            rf"(?:these|those|the|all|both|each|several|multiple)\s+(?:video\s+)?{_FRAME_NOUNS}\b",
            _I,
        ),
    ),
    # "the images show", "the video frames show", "all images have", "the frames depict"
    (
        "frames as subject",
        (_FRAMES_GATE,),
        re.compile(
            rf"\b(?:the|these|those|all|both|all\s+the|several|multiple|{_NUMWORD})\s+"
            r"(?:\w+\s+)?(?:video\s+)?"
            rf"(?:{_FRAME_NOUNS}\s+(?:show|depict|feature|capture|illustrate)|"
            rf"{_FRAME_NOUNS_STRICT}\s+(?:are|were|have|display|reveal))\b",
            _I,
        ),
    ),
    (
        "frame sequence",
        (_FRAMES_GATE, "sequence|series|set|collection|montage|grid|slideshow"),
        re.compile(
            r"\b(?:sequence|series|set|collection|montage|collage|grid|slideshow)\s+of\s+"
            rf"(?:\w+\s+)?{_FRAME_NOUNS}\b",
            _I,
        ),
    ),
    (
        "frame sequence",
        (_FRAMES_GATE, "from"),
        re.compile(rf"\b{_FRAME_NOUNS}\s+(?:taken\s+)?from\s+(?:a|the)\s+video\b", _I),
    ),
    (
        "frame sequence",
        (_FRAMES_GATE, "these are|those are"),
        re.compile(rf"\b(?:these|those)\s+are\s+(?:\w+\s+)?{_FRAME_NOUNS}\b", _I),
    ),
    (
        "frame enumeration",
        ("each", "frame|image|still|picture"),
        re.compile(r"\beach\s+(?:frame|image|still|picture)\s+(?:shows|depicts|captures|features)\b", _I),
    ),
    ("frame sequence", ("by frame|by-frame",), re.compile(r"\bframe[-\s]by[-\s]frame\b", _I)),
    # "the image on the left", "Frame-wise:", "comparing the two frames", "The photographs, taken seconds apart, show"
    (
        "frame grid",
        (_FRAME_GATE,),
        re.compile(
            rf"\b(?:the\s+)?(?:{_FRAME_NOUN}|panel)\s+(?:on|at|in)\s+the\s+(?:far\s+)?"
            r"(?:left|right|top|bottom|top-left|top-right|bottom-left|bottom-right)\b|"
            r"\bframe[-\s]?wise\b|"
            rf"\b(?:the|these|both|those)\s+(?:two|three|four|five|six|\d)\s+{_FRAME_NOUNS_STRICT}\b|"
            rf"\b(?:the|these)\s+{_FRAME_NOUNS},\s+[^,]{{1,40}},\s+(?:show|depict|capture|illustrate)\b",
            _I,
        ),
    ),
    # "the pictures in order", "the last of the images"
    (
        "frames as subject",
        (_FRAMES_GATE,),
        re.compile(
            rf"\b(?:the|these|those)\s+{_FRAME_NOUNS}\s+in\s+(?:order|sequence|succession)\b|"
            rf"\b{_ORD}\s+(?:few\s+|two\s+|three\s+)?of\s+the\s+{_FRAME_NOUNS}\b",
            _I,
        ),
    ),
    # "over the course of the images", "each picture in the sequence"
    (
        "frames as subject",
        (_FRAME_GATE, "course|span|each|every"),
        re.compile(
            rf"\b(?:over|throughout|during|across)\s+the\s+(?:course|span)\s+of\s+the\s+{_FRAME_NOUNS}\b|"
            r"\b(?:each|every)\s+(?:frame|image|picture|photo|still|snapshot)\s+(?:in|of)\s+the\s+"
            r"(?:sequence|series|set|grid|collage)\b",
            _I,
        ),
    ),
    # Tuned on the tuning half of assets/caption_labels/captions_unseen.jsonl (rules-2).
    # "From image to image, the tide comes in", "from one frame to the next"
    (
        "frames as subject",
        (_FRAME_GATE, "from"),
        re.compile(rf"\bfrom\s+(?:one\s+)?{_FRAME_NOUN}\s+to\s+(?:the\s+next|another|{_FRAME_NOUN})\b", _I),
    ),
    # rules-3: "the provided images", "the following frames", "consecutive stills", "Image A:" / "Frame B -"
    (
        "frames as subject",
        (_FRAMES_GATE,),
        re.compile(
            r"\b(?:provided|given|following|above|below|attached|input|sampled|consecutive|sequential|successive|"
            rf"individual|separate|remaining|subsequent)\s+(?:video\s+)?{_FRAME_NOUNS}\b|"
            rf"\b{_FRAME_NOUNS}\s+(?:provided|given|above|below|attached|shown\s+here)\b",
            _I,
        ),
    ),
    (
        "frame number",
        (_FRAME_GATE,),
        re.compile(r"\b(?:frame|image|picture|photo|pic)\s+(?-i:[A-F])\s*[:)\-\u2013\u2014]", _I),
    ),
    # rules-3 (captions_tuning_extra.jsonl): "As the frames progress", "the image sequence shows"
    (
        "frame sequence",
        (_FRAME_GATE,),
        re.compile(
            rf"\b{_FRAME_NOUNS}\s+(?:progress|advance|go\s+on|continue)\b|"
            r"\b(?:image|frame|photo|picture|still)\s+(?:sequence|series)\b",
            _I,
        ),
    ),
    # "Still images of a horse race" (wall "photos"/"pictures" stay objects)
    ("frame sequence", ("still",), re.compile(r"\bstill\s+(?:images|frames)\b", _I)),
    # "Top left: a child holds a balloon. Top right: ..." and "the top row of images": a grid of frames
    (
        "frame grid",
        ("top|bottom|upper|lower|row",),
        re.compile(
            r"(?:^|[.;\n]\s*)(?:top|bottom|upper|lower)[-\s](?:left|right|middle|center|centre)\s*:|"
            r"\b(?:top|bottom|middle|upper|lower|first|second)\s+row\s+(?:of\s+"
            rf"(?:{_FRAME_NOUNS}|panels)|(?:shows|depicts))\b",
            _I,
        ),
    ),
]
# Numbered ("1." / "2)") or lettered ("(a)") list items.
_NUM_ITEM = re.compile(
    r"(?:^|\n|[.;:]\s+)(?:#\s?(\d{1,2})[.):]?|\(?(\d{1,2})[.)])\s+[A-Za-z]"
)  # "1." "2)" "#3:"
# Bulleted items ("- ", "* ", "• "); a "Shot 1:" / "Key:" label before the text is skipped.
_BULLET_ITEM = re.compile(r"^\s*[-*\u2022\u2013]\s+(?:\w+(?:\s+\d+)?\s*:\s*)?(.+?)\s*$", re.M)
# "- Shot of a rooster ... - Shot of a farmer": a list of shots (scene_transition), not snapshots of one scene.
_SHOT_HEADS = frozenset("shot shots clip clips scene scenes footage cut".split())
_ITEM_DETERMINERS = frozenset("a an the this that these those its his her their".split())
_LETTER_ITEM = re.compile(r"(?:^|\s)\(([a-h])\)\s+\w")

_FL_RULES = gated(_FL_PATTERNS)


# Pictures inside the video: "scrolls through a series of images on his phone", "photos on the wall".
_IN_PICTURE_CONTEXT = re.compile(
    r"\b(?:scroll\w*|flip\w*|brows\w*|phone|screen|album|wall|magazine|laptop|monitor|tablet|projector|gallery)\b",
    _I,
)
# "the first frame of the roof": a timber frame, not the first video frame
_OBJECT_FRAME = re.compile(r"\s+of\s+(?:the|a|an|his|her|their|its)\s+(?!video|clip|footage|sequence|film|series|set)", _I)


def _skip_frame_object(kind: str, caption: str, m: re.Match[str]) -> bool:
    """ "frame 2" right after "picture/window/bicycle ..." is an object, not an enumerated frame; so is "the first
    frame of the roof"; images browsed on a phone or hung on a wall are pictures inside the video."""
    if kind == "frame number" and _FRAME_NEG_PREFIX.search(caption[max(0, m.start() - 20) : m.start()]):
        return True
    if kind == "frame enumeration" and m.group(0).lower().endswith("frame") and _OBJECT_FRAME.match(caption, m.end()):
        return True
    return kind in ("frame sequence", "frames as subject") and bool(
        _IN_PICTURE_CONTEXT.search(caption[max(0, m.start() - 40) : m.start()])
    )


def frame_level(caption: str, lower: str) -> list[str]:
    reasons = match_rules(caption, lower, _FL_RULES, _skip_frame_object)
    numbers = [int(a or b) for a, b in _NUM_ITEM.findall(caption)]
    if _has_run(numbers, 3):
        reasons.append(f"numbered list: {len(numbers)} items")
    letters = _LETTER_ITEM.findall(lower)
    if _has_run([ord(c) - ord("a") + 1 for c in letters], 3):
        reasons.append(f"lettered list: {len(letters)} items")
    snapshot = _snapshot_bullets(caption)
    if snapshot:
        reasons.append(snapshot)
    return reasons


def _snapshot_bullets(caption: str) -> str | None:
    """A bulleted list of 3+ items, two different items about the same subject ("- A door is closed. - The door
    is half open."): successive states of one scene, one per input frame. A list of attributes or objects
    ("- a red kayak - a calm river") names a different thing per item; a looped list repeats identical items."""
    items = _BULLET_ITEM.findall(caption)
    if len(items) < 3:
        return None
    by_head: dict[str, set[str]] = {}
    for item in items:
        words = WORD.findall(item.lower())
        while words and words[0] in _ITEM_DETERMINERS:
            words = words[1:]
        if words and words[0] not in _SHOT_HEADS:
            by_head.setdefault(words[0], set()).add(" ".join(words))
    head = next((h for h, texts in by_head.items() if len(texts) >= 2), None)
    return f"snapshot list: {len(items)} items, {quote(head)} in several" if head else None


def _has_run(numbers: list[int], length: int) -> bool:
    """True when ``numbers`` holds 1, 2, ..., ``length`` in order (a list that starts at one)."""
    want = 1
    for n in numbers:
        if n == want:
            want += 1
            if want > length:
                return True
    return False
