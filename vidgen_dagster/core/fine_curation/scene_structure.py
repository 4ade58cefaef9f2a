"""``scene_transition`` by structure: the subject somewhere new with no movement described, list items in different
places, and the gates (negation, within-shot cues) that keep continuous-camera captions clean.

The phrase table in :mod:`.scene_rules` catches editorial *words*. This module catches what a caption says without
them: "Then, inside a stone cellar, a winemaker ...", "Meanwhile, their parents are grilling in the backyard", "0-3s:
a woman jogs in a park. 3-6s: she stretches inside a gym." The vocabulary is general (places, motion verbs, camera
moves), not the wording of single captions:

* a **sequence marker** (then, next, later, meanwhile, now, the next moment, ...) followed in the same clause by a
  **place** not named earlier in the caption, with **no motion verb** in between (someone who walks, drives or
  climbs there is followed by the camera: one shot) and no camera move in the sentence;
* a **list** (bullets, numbers, timestamps, "Frame 1:", "In the second image") whose items put the subject in two
  different places with no movement between them.
"""

from __future__ import annotations

import re

from vidgen_dagster.core.fine_curation.rule_matching import quote

_I = re.IGNORECASE

# Places a shot is set in (not objects in a place: "oven", "table", "bench" are not here).
PLACE = (
    r"(?:kitchen|bedroom|bathroom|living\s+room|dining\s+room|classroom|lecture\s+hall|office|studio|gym|gymnasium|"
    r"library|hospital|clinic|ward|lab|laboratory|factory|warehouse|workshop|garage|barn|church|chapel|temple|mosque|"
    r"cathedral|museum|gallery|theater|theatre|cinema|stadium|arena|restaurant|caf[e\u00e9]|diner|bar|pub|nightclub|"
    r"club|hotel|lobby|shop|store|supermarket|market|mall|bakery|station|airport|terminal|subway|street|alley|"
    r"park|playground|garden|backyard|yard|field|farm|forest|woods|jungle|desert|beach|shore|coast|island|lake|"
    r"pool|village|town|city|square|plaza|courtyard|rooftop|balcony|porch|hallway|corridor|stage|concert\s+hall|"
    r"auditorium|school|campus|courtroom|prison|cellar|basement|attic|cabin|tent|campsite|harbou?r|port|dock|pier|"
    r"marina|train|bus|plane|cockpit|elevator|apartment|house|home|mansion|castle|palace|room|parking\s+(?:lot|"
    r"garage)|gas\s+station|highway|bridge|tunnel|meadow|vineyard|orchard|greenhouse|swamp|cave|glacier|"
    r"mountaintop|summit|cliff|canyon|valley|ranch|stable|kennel|salon|spa|boardroom|meeting\s+room|"
    r"conference\s+room|newsroom|locker\s+room|dressing\s+room|waiting\s+room|control\s+room|interior|exterior|"
    r"road|platform|party|concert|festival|ceremony|wedding|funeral|parade|fair|carnival|rally|protest|"
    r"conference|cafeteria|canteen|campfire|lawn)s?"
)
_PLACE_WORD = re.compile(rf"\b{PLACE}\b", _I)
# Things that are "in" a shot without being a place the shot is set in.
_NOT_A_SETTING = r"(?!\s+(?:of|behind|beside|nearby|next\s+to)\b)"

_MARKER = (
    r"(?:then|next|later(?:\s+on)?|afterwards?|after\s+that|after\s+this|subsequently|shortly\s+after(?:wards?)?|"
    r"soon\s+after|meanwhile|now|suddenly|elsewhere|the\s+next\s+moment|in\s+the\s+next\s+moment|a\s+moment\s+later|"
    r"moments\s+later|this\s+time|in\s+the\s+following\s+moments?)"
)
_STRONG_MARKER = (
    r"(?:later(?:\s+on)?|afterwards?|after\s+that|subsequently|shortly\s+after(?:wards?)?|soon\s+after|meanwhile|"
    r"elsewhere|the\s+next\s+moment|in\s+the\s+next\s+moment|a\s+moment\s+later|moments\s+later|this\s+time|"
    r"in\s+the\s+following\s+moments?)"
)
# A marker that opens a clause ("Then, inside ...", "; meanwhile ..."), or an inline one after a copula or "we"
# ("he is now at ...", "she is then seen in ...", "we then see ...").
_MARKED = re.compile(
    rf"(?:^|[.;:!?]\s+|,\s+(?:and\s+)?|\band\s+|\n\s*)({_MARKER})\b,?|"
    rf"\b(?:is|are|'s|'re|was|were)\s+({_MARKER})\b|\bwe\s+({_MARKER})\s+see\b|"
    # inside a clause: "the focus then shifts to a woman in a garden"
    r"\b(then|next|later|subsequently|afterwards)\b|"
    # the narrator placing the viewer: "we are inside a vet's office" (a new place only: see new_place)
    r"\b(we(?:'re|\s+are)|we\s+find\s+ourselves)\b",
    _I,
)
_LOCATED = re.compile(
    rf"\b(?:in|at|inside|on|outside|aboard|within|(?:view|interior|exterior|footage)\s+of)\s+(?:(?:a|an|the|another|some|his|her|their|its|our|a\s+different)"
    rf"\s+)?(?:[\w'-]+\s+){{0,3}}?({PLACE})\b" + _NOT_A_SETTING,
    _I,
)
# Subject movement: whoever walks, drives or climbs somewhere is followed there, in one shot.
_MOTION_VERBS = (
    "walk run move step enter exit leave head drive ride cycle go cross carry lead reach arrive climb swim dive "
    "wander stroll hurry rush travel pass follow jump fly sail paddle skate ski jog march return come approach "
    "emerge descend ascend roll crawl slide board pull push wheel hop bring escort guide chase race sprint dash "
    "speed hike trek wade float drift glide"
).split()
_IRREGULAR = "ran went gone drove driven rode ridden led flew flown swam swum dove came brought sped slid".split()


def _forms(verb: str) -> set[str]:
    """walk -> walk, walks, walked, walking; move -> moves, moved, moving; hurry -> hurries, hurried; run -> running."""
    forms = {verb}
    if verb.endswith("y") and verb[-2] not in "aeiou":
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied", verb + "ing"}
    elif verb.endswith("e"):
        forms |= {verb + "s", verb + "d", verb[:-1] + "ing"}
    elif verb.endswith(("s", "sh", "ch", "x", "o")):
        forms |= {verb + "es", verb + "ed", verb + "ing"}
    else:
        forms |= {verb + "s", verb + "ed", verb + "ing"}
        if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", verb):  # run -> running, hop -> hopped
            forms |= {verb + verb[-1] + "ing", verb + verb[-1] + "ed"}
    return forms


_MOTION_FORMS = "|".join(sorted({f for v in _MOTION_VERBS for f in _forms(v)} | set(_IRREGULAR), key=len, reverse=True))
MOTION = re.compile(r"(?<!the\s)\b(?:" + _MOTION_FORMS + r"|makes?\s+(?:his|her|their|its)\s+way)\b", _I)
# Camera movement or an explicitly continuous take in the same sentence: the change is seen through one shot.
WITHIN_SHOT = re.compile(
    r"\b(?:pan(?:s|ned|ning)?|tilt(?:s|ed|ing)?|zoom(?:s|ed|ing)?|doll(?:y|ies|ying)|track(?:s|ed|ing)|"
    r"follow(?:s|ed)?|(?<!the\s)following|glid(?:e|es|ing)|rotat(?:e|es|ing)|orbit(?:s|ing)?|circl(?:e|es|ing)|sweep(?:s|ing)?|"
    r"pull(?:s|ing)?\s+(?:back|out|away)(?=\s+(?:to|and|from|revealing|showing)\b|\s*[,.;])|push(?:es|ing)?\s+in\b|cran(?:e|es|ing)|rises|rising|climbs|climbing|"
    r"descends|descending|ascends|ascending|"
    # a camera that swings round (not a batter or a child on a swing)
    r"swing(?:s|ing)?\s+(?:round|around|left|right|over|across|back|up|down|away|toward|towards)\b|altitude|stabili[sz]er|gimbal|steadicam|"
    r"camera\s+(?:\w+\s+)?(?:moves|travels|drifts|glides|wanders|roams|slides)|"
    r"(?:one|single|continuous|unbroken)\s+(?:continuous\s+|unbroken\s+)?(?:take|shot)|the\s+whole\s+time|"
    r"as\s+(?:the|we|it|he|she|they)\s+(?:\w+\s+){0,2}(?:rises?|turns?|rounds?|continues?|"
    + _MOTION_FORMS
    + r"))\b",
    _I,
)
NEGATION = re.compile(r"\b(?:no|not|never|without|none|nor|neither|n't)\b|n't\b", _I)
_CLAUSE_START = re.compile(r"[.;!?\n]|,\s+but\b")


def clause_before(caption: str, start: int, limit: int = 60) -> str:
    """The text of the clause that ends at ``start`` (at most ``limit`` characters)."""
    head = caption[max(0, start - limit) : start]
    ends = [m.end() for m in _CLAUSE_START.finditer(head)]
    return head[ends[-1] :] if ends else head


def sentence_of(caption: str, start: int, end: int) -> str:
    left = max(caption.rfind(p, 0, start) for p in ".;!?\n")
    rights = [i for i in (caption.find(p, end) for p in ".;!?\n") if i >= 0]
    return caption[left + 1 : min(rights) if rights else len(caption)]


def negated(caption: str, start: int) -> bool:
    """ "no cuts", "without cutting to", "does not switch to": a negation in the words just before a match."""
    words = clause_before(caption, start, 40).split()[-4:]
    return bool(NEGATION.search(" ".join(words)))


_SCREEN = re.compile(
    r"\b(?:screen|tv|television|monitor|laptop|phone|tablet|projector|display|billboard|movie\s+playing|"
    r"film\s+playing|picture-in-picture|inset)\b",
    _I,
)


def on_a_screen(caption: str, start: int) -> bool:
    """ "the movie on the laptop screen switches to a new scene": an edit inside a screen in the picture."""
    return bool(_SCREEN.search(clause_before(caption, start, 50)))


def within_shot(caption: str, start: int, end: int) -> bool:
    return bool(WITHIN_SHOT.search(sentence_of(caption, start, end)))


# A place looked at or seen through a window or door from where the subject is: "looks out of the window at the garden"
_SEEN_FROM_HERE = re.compile(
    r"\b(?:look\w*|gaz\w*|star\w*|watch\w*|glanc\w*|peer\w*|window|door(?:way)?|glass|balcony)\b", _I
)


def _place_key(text: str) -> str:
    words = text.lower().split()
    return words[-1].rstrip("s") if words else ""


def new_place(caption: str) -> list[str]:
    """A sequence marker, then the subject in a place not named before, with no movement described."""
    reasons: list[str] = []
    for m in _MARKED.finditer(caption):
        marker = next(g for g in m.groups() if g)
        marker_start = m.start() + m.group(0).lower().index(marker.lower())
        marker_end = m.end()
        stop = _CLAUSE_START.search(caption, marker_end)
        clause_end = stop.start() if stop else len(caption)
        loc = _LOCATED.search(caption, marker_end, clause_end)
        if not loc:
            continue
        between = caption[marker_end : loc.start()]
        if _SEEN_FROM_HERE.search(between + loc.group(0)):
            continue
        if MOTION.search(between) or MOTION.search(loc.group(0)) or within_shot(caption, marker_start, loc.end()):
            continue
        if negated(caption, loc.start()):
            continue
        key = _place_key(loc.group(1))
        earlier = {_place_key(p.group(0)) for p in _PLACE_WORD.finditer(caption, 0, marker_start)}
        fresh = re.search(r"\b(?:another|a\s+different)\b", loc.group(0), _I)
        if key in earlier and not fresh:
            continue
        # Nowhere named before: only a marker of elsewhere/later with a place introduced as new ("Later in the
        # video, he is sitting in a beach bar"), not "then ... in the kitchen" (the room we are in).
        strong = re.fullmatch(_STRONG_MARKER, marker, _I) or (marker.lower().startswith("we") and marker_start > 40)
        if not earlier and not (strong and re.search(r"\b(?:an?|another)\s", loc.group(0), _I)):
            continue
        reasons.append(f"place change: {quote(marker + ' ... ' + loc.group(0))}")
        break
    return reasons


# List items: bullets, numbers, timestamps, "Frame 1:" / "Shot 2 -" labels, "In the second frame/image".
_ITEM_START = re.compile(
    r"(?:^|\n)\s*(?:[-*\u2022\u2013]|\(?\d{1,2}[.)])\s+|"
    # bracketed timestamps: "[0:00-0:04] ...", "(00:03) ...", "[5s] ..."
    r"[\[(]\d{1,2}(?::\d{2})?\s*s?(?:\s*(?:-|\u2013|to)\s*\d{1,2}(?::\d{2})?\s*s?)?[\])]\s*|"
    r"(?:^|[.;:\n]\s*)(?:\d{1,2}(?::\d{2})?\s*(?:s|sec)?\s*(?:-|\u2013|to)\s*\d{1,2}(?::\d{2})?\s*(?:s|sec)?|"
    r"\d{1,2}:\d{2})\s*[:\-\u2013]?\s+|"
    r"(?:^|[.;\n]\s*)(?:frame|image|picture|shot|scene|clip|panel|step|part)\s*#?\d{1,2}\s*[:\-\u2013)]\s*|"
    r"(?:^|[.;\n]\s*)in\s+the\s+(?:first|second|third|fourth|fifth|next|last|final)\s+(?:frame|image|picture)\b,?",
    _I,
)


def places_across_items(caption: str) -> list[str]:
    """Two list items that set the subject in different places (with no movement in either item). Items: bullets,
    numbers, timestamps, frame/shot labels, or the parts of a caption with two or more semicolons."""
    starts = [m.end() for m in _ITEM_START.finditer(caption)]
    if len(starts) < 2 and caption.count(";") >= 2:
        starts = [0] + [i + 1 for i, ch in enumerate(caption) if ch == ";"]
    if len(starts) < 2:
        return []
    bounds = [*starts[1:], len(caption)]
    seen: list[str] = []
    for start, end in zip(starts, bounds, strict=True):
        item = caption[start:end]
        if MOTION.search(item) or WITHIN_SHOT.search(item):
            continue
        loc = _LOCATED.search(item)
        if loc:
            key = _place_key(loc.group(1))
            if seen and key not in seen:
                return [f"places across list items: {quote(seen[0])} / {quote(key)}"]
            seen.append(key)
    return []


_BEGINS_ENDS = re.compile(
    rf"\b(?:begins|starts|opens)\s+(?:in|at|inside|on|outside)\s+(?:\w+\s+){{0,3}}?({PLACE})\b"
    # in one sentence, or the next one: "The clip starts in a library. It ends at a stadium."
    rf"[^.;!?]*?(?:[.;!?]\s+(?:it|the\s+(?:video|clip|footage|film))\s+(?:then\s+|finally\s+)?)?"
    rf"\b(?:ends|finishes|closes|concludes)\s+(?:in|at|inside|on|outside)\s+(?:\w+\s+){{0,3}}?({PLACE})\b",
    _I,
)


def begins_and_ends(caption: str) -> list[str]:
    """ "The clip begins in a classroom and ends in a gymnasium": two places, and no one moves between them."""
    m = _BEGINS_ENDS.search(caption)
    if not m or _place_key(m.group(1)) == _place_key(m.group(2)):
        return []
    sentence = sentence_of(caption, m.start(), m.end())
    if MOTION.search(sentence) or WITHIN_SHOT.search(sentence):
        return []
    return [f"place change: {quote(m.group(0))}"]

