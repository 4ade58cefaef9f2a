"""``scene_transition``: editorial language and structure that say a caption spans more than one shot.

Three layers, all with their evidence recorded:

* :mod:`.scene_phrases` -- the phrase table of rules-1 to rules-3 (editorial wording, entry by entry);
* this module -- rules-4, general vocabulary rather than wording: shot nouns x change-of-shot verbs, the video itself
  moving ("the clip goes from a race to an interview"), "a new/different/second" camera, angle or setting, multi-shot
  nouns, time ellipses, list fields;
* :mod:`.scene_structure` -- a place not named before after a sequence marker, list items in different places.

Gates keep one-shot captions clean: a negation just before a match, an edit on a screen inside the picture, and for
the kinds in :data:`SOFT_KINDS` a camera move, a continuous take or subject movement in the same sentence.
"""

from __future__ import annotations

import re

from vidgen_dagster.core.fine_curation import scene_structure
from vidgen_dagster.core.fine_curation.rule_matching import Rule, gated, match_rules
from vidgen_dagster.core.fine_curation.scene_phrases import PHRASE_RULES

_I = re.IGNORECASE

# ---------------------------------------------------------------------------------------------------
# rules-4: general vocabulary, not wording. Shot nouns x change-of-shot verbs, "a new/different/second" viewpoint
# or setting, "the video moves from A to B", multi-shot nouns, time ellipses, list fields. The kinds in
# SOFT_KINDS can also describe what one moving camera sees, so they are dropped when the sentence has a camera move,
# a continuous take or subject movement just before them (see :mod:`.scene_structure`).
# ---------------------------------------------------------------------------------------------------
_NARRATOR = r"(?:video|clip|footage|film|edit|sequence|story|narrative|action|montage|reel|vlog)"
_CHANGE_VERB = (
    r"(?:moves?|goes|jumps?|shifts?|switch(?:es)?|cuts?|returns?|relocates?|skips?|travels?|heads?|flash(?:es)?|"
    r"flicks?|swaps?|flips?|changes?|transitions?|hops?|segues?|progresses|pivots?|turns?|snaps?|leaps?|"
    r"cross-?fades?|dissolves?|fades?|lands?|picks\s+up)"
)
_ADV = r"(?:(?:then|next|later|now|also|abruptly|suddenly|quickly|briefly|eventually|finally|again|soon)\s+)?"
_NOT_DIRECTION = (
    r"(?!\s+(?:the\s+)?(?:left|right|side|top|bottom|sky|ground|floor|ceiling|horizon|other\s+(?:end|side)|"
    r"far\s+(?:end|side)|opposite\s+(?:end|side)|net|goal|basket|midfield|foreground|background)\b)"
    r"(?!\s+(?:reveal|show|include|follow|focus|capture|display|frame|track|keep)\b)"
)
_NOT_TAKEN = (  # a photographer's or a player's shot: "frames a wider shot", "takes another angle"
    r"(?<!frame\s)(?<!frames\s)(?<!framing\s)(?<!take\s)(?<!takes\s)(?<!taking\s)(?<!get\s)(?<!gets\s)"
    r"(?<!line\s)(?<!lines\s)(?<!try\s)(?<!tries\s)(?<!attempt\s)(?<!attempts\s)"
)
_PLACE = scene_structure.PLACE
SOFT_KINDS = frozenset({"view change", "scene change", "location change"})

_GENERAL_PATTERNS: list[Rule] = [
    # "the setting is now a launch pad", "now the scene is a village square" (not "the scene is now bathed in")
    (
        "view change",
        ("now|then|next|later",),
        re.compile(
            r"\b(?:scene|setting|location|backdrop|scenery|surroundings|environment|venue)\s+(?:is|are)\s+now\s+"
            r"(?:an?\s|set\b|inside\b|in\b|at\b|outside\b|on\b)|"
            # "the view is then inside a conference room"
            r"\b(?:view|scene|setting|shot|camera|picture|action)\s+(?:is|are)\s+(?:then|now|next|later)\s+"
            r"(?:in|inside|at|on|outside|over|above|aboard)\b|"
            r"\bnow\s+the\s+(?:scene|setting|location|backdrop)\s+is\b",
            _I,
        ),
    ),
    # "the video moves from the parking lot to", "the action then shifts to", "the sequence then relocates",
    # "the clip goes from a race to an interview", "the film jumps forward to" (the *video* moving, not a camera)
    (
        "scene change",
        ("move|goes|jump|shift|switch|cut|return|relocat|skip|travel|head|flash|flick|swap|flip|chang|transition|"
         "hop|segue|progress|pivot|turn|snap|leap|fade|dissolve|land|pick|resume",),
        re.compile(
            rf"(?<!picture\s)(?<!image\s)(?<!frame\s)(?<!photo\s)\b(?:the\s+)?{_NARRATOR}\s+(?:that\s+|which\s+)?"
            rf"{_ADV}{_CHANGE_VERB}"
            rf"(?:\s+(?:back|ahead|forward|on|over|away|again))?"
            rf"(?:\s+(?:to|from|between|inside|outside|into|on|at)\b{_NOT_DIRECTION}|(?<=relocates)\b|(?<=relocate)\b)"
            # a fade-in/-out at the start or end, a change of speed or colour: one shot
            r"(?!\s+(?:black|white|slow[-\s]motion|normal\s+speed|real\s+time|black[-\s]and[-\s]white|sepia|"
            r"monochrome|gr[ae]yscale|colou?r)\b)",
            _I,
        ),
    ),
    # "the video brings us to a cafe", "we're whisked away to", "We rejoin her at", "Then: a bus interior"
    (
        "scene change",
        ("us|we|then:|next:|later:",),
        re.compile(
            rf"\b{_NARRATOR}\s+(?:then\s+|now\s+|next\s+)?(?:brings|drops|whisks|carries|transports|sends|moves|"
            r"returns|takes)\s+us\b|"
            r"\bwe(?:'re|\s+are)\s+(?:then\s+|now\s+|suddenly\s+)?(?:whisked|carried|dropped|sent|swept|moved|"
            r"thrown)\b|"
            r"\bwe\s+(?:rejoin|return\s+to)\b|"
            r"(?:^|[.;]\s+)(?:then|next|later|afterwards)\s*:\s",
            _I,
        ),
    ),
    # "It then shows the same man at a market" (not "it then shows its teeth")
    (
        "next-shot phrase",
        ("then|next|later|afterwards",),
        re.compile(
            r"(?:^|[.;!?]\s+)it\s+(?:then|next|later|afterwards)\s+"
            r"(?:shows|cuts|switches|jumps|depicts|features|presents|moves\s+on)\b(?!\s+(?:its|his|her|their)\b)",
            _I,
        ),
    ),
    # "Switching to the interior of the locomotive", "flips to a kitchen", "skips to the harbour"
    (
        "scene change",
        ("cut|switch|swap|flip|flick|transition|flash|skip",),
        re.compile(
            r"\b(?:(?:cut|cuts|cutting)\s+(?:back\s+|over\s+|away\s+|forward\s+)?to|"
            r"(?:switch|swap|flip|flick|transition|flash|skip)(?:s|es|ed|ped|ping|ing)?\s+"
            r"(?:back\s+|over\s+|away\s+|forward\s+)?(?:to|into))\s+"
            rf"(?:the\s+|an?\s+|another\s+|some\s+)?(?:[\w'-]+\s+){{0,3}}?{_PLACE}\b",
            _I,
        ),
    ),
    # "a second camera captures", "a new angle", "from a reverse angle", "a different setting", "New scene:"
    (
        "view change",
        ("new|different|second|separate|other|altern|reverse|wider|tighter|closer|third",),
        re.compile(
            rf"{_NOT_TAKEN}\b(?:an?|the)\s+(?:new|different|second|separate|other|alternate|alternative|reverse|"
            r"wider|tighter|closer|third)\s+(?:camera(?!\s+(?:operator|man|crew|bag|phone)\b)(?:\s+angle)?|angle|"
            r"viewpoint|perspective|vantage\s+point|scene|location|setting|venue|backdrop|environment|shot)\b"
            r"(?!\s+(?:at|on|of)\b)|"
            r"(?:^|[.;:\n]\s*)(?:new|different|another)\s+(?:scene|location|setting|shot|angle|camera|place)\s*:",
            _I,
        ),
    ),
    # "two camera angles", "footage from two different concerts", "from several viewpoints"
    (
        "view change",
        ("angle|camera|viewpoint|perspective|vantage|from",),
        re.compile(
            r"\b(?:two|three|four|several|multiple|various|different|many|alternating)\s+(?:different\s+)?"
            r"(?:camera\s+angles|angles|cameras|viewpoints|perspectives|vantage\s+points)\b|"
            r"\b(?:footage|shots|clips|scenes|video|material|views|images)\s+(?:\w+\s+){0,2}?from\s+"
            r"(?:two|three|four|several|multiple|different|various|many)\s",
            _I,
        ),
    ),
    # "Setting: a riding arena, then an open forest trail", "Setting: a lake -> a fish market",
    # "Locations: fire station, kitchen, burning warehouse"
    (
        "multi-shot phrase",
        ("setting|location|scene|place|backdrop|environment|venue", ":"),
        re.compile(
            r"(?:^|[.;\n]\s*)(?:settings?|locations?|scenes?|places?|backdrops?|environments?|venues?)\s*:"
            r"[^\n.;]*?(?:\bthen\b|->|\u2192|\bfollowed\s+by\b|\blater\b|\b(?:chang|switch|shift|mov)\w*\s+to\b)|"
            r"(?:^|[.;\n]\s*)(?:locations|settings|places|venues|backdrops|environments)\s*:\s*[^\n.;,]+"
            r"(?:,|\band\b|/)\s*\w",
            _I,
        ),
    ),
    # "a scene change", "Scene change halfway", "a change of location" (not "the scene changes as the sun sets")
    (
        "scene change",
        ("change",),
        re.compile(
            r"(?<!the\s)(?<!The\s)(?<!this\s)(?<!This\s)"
            r"\b(?:scene|location|setting|shot|camera|angle|venue)\s+changes?\b(?!\s+(?:to|as|from|into|colou?r)\b)|"
            r"\bchanges?\s+(?:of|in)\s+(?:the\s+)?(?:scene|scenery|location|setting|venue|shot|camera\s+angle|"
            r"angle|perspective)\b",
            _I,
        ),
    ),
    # "Alternating shots of", "shots of the harbour give way to shots of the market", "alternates with close-ups"
    (
        "cross-cutting",
        ("alternat|way to|precede",),
        re.compile(
            r"\balternating\s+(?:\w+\s+)?(?:shots|scenes|clips|views|footage|cuts|angles|close-?ups)\b|"
            rf"\b{_NARRATOR}\s+alternates\b|"
            r"\b(?:alternat\w+\s+with|gives?\s+way\s+to|giving\s+way\s+to|precede[sd]?)\s+(?:an?\s+|the\s+)?"
            r"(?:[\w'-]+\s+){0,2}?(?:shots?|scenes?|footage|views?|clips?|close-?ups?|interviews?)\b",
            _I,
        ),
    ),
    # "then footage of delivery trucks", "then a close shot of a flower", "followed by daytime views of"
    (
        "view change",
        ("then|next|followed|later|after",),
        re.compile(
            r"\b(?:then|next|followed\s+by|later|after\s+that|afterwards?)\b,?\s+(?:an?\s+|some\s+|more\s+)?"
            r"(?:\w+\s+){0,2}?(?:footage|shots?|clips?|close-?ups?|views?|scenes?)\s+of\b",
            _I,
        ),
    ),
    # "between shots", "from shot to shot", "in both scenes", "each clip"
    (
        "multi-shot phrase",
        ("shot|scene|clip|cut|edit",),
        re.compile(
            rf"{_NOT_TAKEN}\b(?:(?:between|across)\s+(?:the\s+)?(?:shots|scenes|cuts|clips|edits)\b|"
            r"from\s+(?:shot|scene|clip)\s+to\s+(?:shot|scene|clip)\b|"
            r"(?:both|each|every|all)\s+(?:of\s+the\s+)?(?:shots|scenes|clips)\b|"
            r"in\s+(?:each|every)\s+(?:shot|scene|clip)\b)",
            _I,
        ),
    ),
    # an ellipsis in time: "Years go by", "time passes", "the following morning", "later that night",
    # "is later shown boarding", "the same park is then shown in winter"
    (
        "time jump",
        ("by|pass|next|following|later|that|shown|seen|same",),
        re.compile(
            r"\b(?:years|months|weeks|days|hours|decades|seasons)\s+(?:go|went|pass|passed|have\s+passed)\b|"
            r"(?<!as\s)\btime\s+(?:passes|has\s+passed|jumps)\b|"
            r"\b(?:the|a)\s+(?:next|following)\s+(?:moment|morning|afternoon|evening|week|month|year|season|"
            r"summer|winter|spring|autumn)\b|"
            r"\blater\s+(?:that|the\s+same)\s+(?:day|night|evening|morning|afternoon)\b|"
            r"\b(?:is|are)\s+(?:later|next|subsequently|afterwards)\s+(?:shown|seen|pictured|filmed)\b|"
            r"\bsame\s+(?:\w+\s+){1,2}?(?:is\s+|are\s+)?(?:then\s+|later\s+|now\s+|again\s+)?(?:(?:shown|seen|filmed)\s+)?"
            r"(?:in|at|during|by)\s+(?:the\s+)?(?:winter|summer|autumn|fall|spring|night|midnight|noon|daylight|"
            r"daytime|nighttime|rain|snow|dusk|dawn)\b",
            _I,
        ),
    ),
    # named pieces of an edit: title cards, snippets, "edited like a music video", "fast-paced editing",
    # "edited highlights", "the video contrasts A with B", "Part two", "the second section"
    (
        "multi-shot phrase",
        ("title|intertitle|snippet|edit|highlight|contrast|juxtapos|part|section|segment|chapter|flashes|"
         "succession|trailer|from",),
        re.compile(
            r"\b(?:title\s+cards?|intertitles?|chapter\s+cards?)\b|"
            r"\b(?:quick|brief|rapid|short)\s+(?:flashes|snippets|bursts)\s+of\s+(?:an?|the)\b|"
            r"\bedited\s+(?:like|as|into)\s+an?\b|"
            r"\b(?:fast|quick|rapid|rhythmic|choppy)(?:-paced)?\s+(?:editing|edits|cutting)\b|"
            r"\b(?:edited|match|game|race|season|tournament)\s+highlights\b|\bhighlights?\s+reel\b|"
            r"\bhighlights\s*:|\b(?:quick|rapid)\s+succession\s*:|"
            r"\b(?:movie|film|documentary|official|teaser)\s+trailer\b|"
            r"\btrailer\s+for\s+(?:an?|the)\s+(?:\w+\s+)?(?:film|movie|documentary|series|show|video\s+game)\b|"
            r"\bfrom\s+(?:two|three|four|several|multiple)\s+(?:different\s+)?"
            r"(?:matches|games|races|concerts|events|episodes|seasons|weddings|performances)\b|"
            r"\b(?:video|clip|footage|film)\s+(?:\w+\s+)?(?:contrasts|juxtaposes)\b|"
            r"\b(?:part|section|chapter|segment)\s+(?:two|three|four|2|3|4)\b|"
            r"\b(?:second|latter|final|last|closing|opening|first)\s+(?:part|section|segment|portion)\b"
            r"(?=[\s\S]*\b(?:second|latter|final|last|closing|next|other)\s+(?:part|section|segment|portion)\b)"
            r"(?!\s+of\s+(?:the|his|her|their|a)\s+(?!video|clip|footage|film))",
            _I,
        ),
    ),
    # "the view jumps from the cockpit to the cabin", "the setting changes from a library to a nightclub", "the scene
    # then becomes a crowded platform" (not "the scene shifts from daylight to dusk": light)
    (
        "view change",
        ("from|becom",),
        re.compile(
            r"\b(?:view|picture|image|frame|perspective|shot|scene|setting|location|backdrop|scenery)\s+"
            rf"{_ADV}(?:(?:jumps|cuts|switches|flips|swaps|skips|flashes|changes|shifts|transitions)\s+from|"
            r"becomes\s+(?:an?|the)\s)"
            r"(?!\s*(?:the\s+|bright\s+|dim\s+|soft\s+|warm\s+|cool\s+|deep\s+|pale\s+)?"
            r"(?:day|daylight|daytime|night|nighttime|dusk|dawn|sunset|sunrise|light|dark|darkness|"
            r"bright|dim|blue|red|orange|green|yellow|purple|pink|gr[ae]y|white|black|gold|silver|color|colour|blur|"
            r"sharp|focus|calm|quiet|still|silent|chaos|chaotic)\b)",
            _I,
        ),
    ),
    # "After a brief black screen, the video resumes with a shot of", "Next up is a shot of", "then comes a close-up"
    (
        "cut phrase",
        ("screen|resume|next up|comes|is a",),
        re.compile(
            r"\b(?:after|following)\s+(?:an?|the)\s+(?:\w+\s+){0,2}?(?:black|blank|white|dark)\s+(?:screen|frame)s?\b|"
            rf"\b{_NARRATOR}\s+(?:then\s+)?(?:resumes|picks\s+up|restarts)\s+(?:with|on)\s+(?:an?|another)\s+"
            r"(?:[\w'-]+\s+){0,2}?(?:shot|view|clip|scene|close-?up|footage|image)\b|"
            r"\bnext\s+up\b|"
            r"\b(?:then|next)\s+(?:comes|is|there\s+is)\s+(?:an?|another)\s+(?:\w+\s+){0,2}?"
            r"(?:shot|view|clip|scene|close-?up|sequence)\b",
            _I,
        ),
    ),
    # a list whose items are shots: "- Shot of a rooster crowing\n- Shot of a farmer"
    (
        "multi-shot phrase",
        ("shot|clip|scene",),
        re.compile(
            r"(?:^|\n)\s*(?:[-*\u2022]|\d{1,2}[.)])\s+(?:an?\s+)?(?:\w+\s+)?(?:shot|clip|scene)s?\s+of\b[^\n]*\n"
            r"\s*(?:[-*\u2022]|\d{1,2}[.)])\s+(?:an?\s+)?(?:\w+\s+)?(?:shot|clip|scene)s?\s+of\b",
            _I,
        ),
    ),
    # "Suddenly, the picture is of a skyline", "in different rooms", "three distinct moments", "several takes",
    # "we next find her at a bar", "is shown afterwards", "weeks later"
    (
        "view change",
        ("suddenly|abruptly|different|various|separate|multiple|several",),
        re.compile(
            r"\b(?:suddenly|abruptly),?\s+the\s+(?:picture|view|scene|image|shot|screen|setting)\s+"
            r"(?:is|shows|becomes)\b|"
            r"\b(?:in|at|across|from)\s+(?:two\s+|three\s+|several\s+|many\s+)?(?:different|various|separate|"
            r"multiple)\s+(?:rooms|locations|places|cities|towns|houses|countries|venues|settings|days|seasons)\b",
            _I,
        ),
    ),
    (
        "multi-shot phrase",
        ("moments|takes|episodes|vignettes|events",),
        re.compile(
            r"\b(?:two|three|four|several|multiple)\s+(?:distinct|separate|different)\s+"
            r"(?:moments|episodes|vignettes|events)\b|"
            r"\b(?:two|three|four|several|multiple|different|separate)\s+takes\b",
            _I,
        ),
    ),
    (
        "time jump",
        ("later|find|meet|join|catch|afterwards|subsequently",),
        re.compile(
            r"\b(?:hours|days|weeks|months|years|decades|seasons)\s+later\b|"
            r"\bwe\s+(?:then\s+|next\s+|later\s+|now\s+)(?:find|meet|join|rejoin|catch\s+up\s+with)\b|"
            r"\b(?:shown|seen|filmed)\s+(?:afterwards|later|subsequently)\b",
            _I,
        ),
    ),
    # "showcases several locations", "each filmed on a different day", "Later in the clip, there is a shot of"
    (
        "view change",
        ("locations|settings|places|venues|scenes|shots|different|another|separate|there is|there's",),
        re.compile(
            r"\b(?:shows|features|showcases|visits|includes|presents|covers|spans|depicts)\s+(?:\w+\s+)?"
            r"(?:several|multiple|various|different|two|three|four|many)\s+(?:\w+\s+)?"
            r"(?:locations|settings|places|venues|scenes|shots)\b|"
            r"\b(?:filmed|shot|recorded|captured)\s+(?:on|at|in)\s+(?:an?\s+)?(?:different|another|separate)\s+"
            r"(?:days?|times?|locations?|places?|seasons?|years?)\b|"
            r"\b(?:then|later|next|afterwards|after\s+that)\b[^.;!?]{0,25}?\bthere(?:\s+is|'s)\s+(?:an?|another)\s+"
            r"(?:\w+\s+)?(?:shot|view|clip|scene|close-?up)\b",
            _I,
        ),
    ),
    # "the location is completely different", "Viewed next from the deck", "a before-and-after", "the next thing we
    # see", "Scene two shows", "the edit inserts shots of", "Interior, hotel room:" (screenplay slug line)
    (
        "view change",
        ("different|new|viewed|seen from|shown from|filmed from|shot from",),
        re.compile(
            r"\b(?:location|setting|scene|place|backdrop|surroundings|environment)\s+(?:is|becomes)\s+"
            r"(?:now\s+|completely\s+|entirely\s+|suddenly\s+|totally\s+)*(?:different|new)\b|"
            r"\b(?:viewed|seen|shown|filmed|shot)\s+(?:next|then|now|later|again)\s+from\b",
            _I,
        ),
    ),
    (
        "next-shot phrase",
        ("before-and-after|before and after|next thing|scene|shot|segment|part|insert|int|ext",),
        re.compile(
            r"\bbefore[- ]and[- ]after\b|"
            r"\b(?:the\s+)?next\s+thing\s+(?:we\s+see|shown|on\s+screen)\b|"
            r"\b(?:scene|shot|segment|part)\s+(?:two|three|four|2|3|4)\s+(?:shows|is|depicts|features|has|opens)\b|"
            rf"\b{_NARRATOR}\s+(?:\w+\s+)?(?:inserts|cuts\s+in)\b|"
            r"(?:^|[.;!?]\s+)(?:int|ext|interior|exterior)[.,]\s+[\w' ]{1,30}[:\-\u2013]",
            _I,
        ),
    ),
    # "after a cut", "there are two quick cuts", "a cut reveals", "Also included are scenes of"
    (
        "cut phrase",
        ("cut|edit|transition|wipe|dissolve|also",),
        re.compile(
            r"\b(?:after|following|with|via|through)\s+(?:a|an|the|another|one)\s+(?:\w+\s+)?"
            r"(?:cut|edit|transition|dissolve|wipe)\b(?!\s+(?:from|of|in|on)\b)|"
            r"\bthere\s+(?:is|are)\s+(?:a|an|one|two|three|several|a\s+few|multiple|some|many)\s+(?:\w+\s+)?"
            r"(?:cuts?|edits?|transitions?)\b(?!\s+(?:of|on|in)\b)|"
            r"\b(?:a|the)\s+(?:\w+\s+)?cut\s+(?:reveals|shows|brings|takes|introduces)\b|"
            r"\balso\s+(?:included|includes|features|featured|contains|shown)\s+(?:are\s+)?(?:\w+\s+){0,2}?"
            r"(?:scenes|shots|clips|footage|views|close-?ups|interviews|segments)\b",
            _I,
        ),
    ),
]

_ST_RULES = gated(PHRASE_RULES + _GENERAL_PATTERNS)


def _skip(kind: str, caption: str, m: re.Match[str]) -> bool:
    """A negated match ("no cuts", "without switching to"); a soft one inside a sentence that describes a camera
    move or a continuous take, or right after subject movement ("moves to a different spot")."""
    text = m.group(0)
    start = m.start() + len(text) - len(text.lstrip(" \n\t.,;:!?-*\u2022"))
    if scene_structure.negated(caption, start) or scene_structure.on_a_screen(caption, start):
        return True
    if kind not in SOFT_KINDS:
        return False
    if scene_structure.within_shot(caption, start, m.end()):
        return True
    before = " ".join(scene_structure.clause_before(caption, start, 40).split()[-3:])
    return bool(scene_structure.MOTION.search(before))


def scene_transition(caption: str, lower: str) -> list[str]:
    reasons = match_rules(caption, lower, _ST_RULES, _skip)
    reasons += scene_structure.new_place(caption)
    reasons += scene_structure.begins_and_ends(caption)
    reasons += scene_structure.places_across_items(caption)
    return reasons
