"""``scene_transition`` rules: editorial language that says a caption spans more than one shot.

The patterns grew in three steps: the development set (``tests/data/captions_labelled.jsonl``), then the tuning half
of ``tests/data/captions_unseen.jsonl`` and the tuning-only ``captions_tuning_extra.jsonl`` (rules-2, rules-3). This
module is one long table on purpose: each entry is a pattern with the wording it was written for.
"""

from __future__ import annotations

import re

from vidgen_dagster.core.fine_curation import scene_structure
from vidgen_dagster.core.fine_curation.rule_matching import Rule, gated, match_rules

_I = re.IGNORECASE

# ---------------------------------------------------------------------------------------------------
# Scene transition
# ---------------------------------------------------------------------------------------------------
# Subjects whose change means an edit (not "light", "sky", "focus", "weather", "expression", people).
_ST_SUBJ = (
    r"(?:scene|scenery|setting|location|shot|footage|clip|video|view|image|picture|frame|"
    r"perspective|viewpoint|point\s+of\s+view|camera\s+angle|angle)"
)
_ST_ADV = r"(?:(?:then|abruptly|suddenly|quickly|briefly|eventually|later|finally|next)\s+)?"
_ST_VERB = (
    r"(?:changes?|changing|shifts?|shifting|switch(?:es)?|switching|transitions?|transitioning|"
    r"jumps?|jumping|skips?|skipping|flash(?:es)?|cuts?|cutting|cuts?\s+away|moves?\s+on|returns?|goes\s+back|"
    r"cuts?\s+back|flips?|dissolves?|fades?|gives\s+way|is\s+replaced\s+by)"
)
# "the view shifts to the left" / "to the sky" is a camera move, not an edit.
_ST_NOT_DIRECTION = (
    r"(?!\s+(?:the\s+)?(?:left|right|side|top|bottom|sky|ground|floor|ceiling|horizon)\b)"
    # "the view shifts to reveal a pool": an infinitive after "to" describes the camera, not an edit
    r"(?!\s+(?:reveal|show|include|follow|focus|capture|display|frame|track|keep)\b)"
)
_EDIT_NOUN = r"(?:shot|scene|view|clip|location|setting|close-?up|segment|sequence|footage|angle)"

# Each rule: (evidence kind, gates, pattern). A gate is a '|'-separated list of lowercase substrings;
# the regex runs only when every gate has one of its substrings in the caption (a cheap prefilter:
# Python's ``re`` is slow at scanning long alternations at every offset).
_ST_PATTERNS: list[Rule] = [
    # "the video then cuts to", "the scene shifts to", "the setting switches to", "the view changes to"
    (
        "scene change",
        (
            "chang|shift|switch|transition|jump|skip|flash|cut|moves|return|goes|flip|dissolv|fade|gives|replaced",
        ),
        re.compile(
            rf"\b(?:the\s+)?{_ST_SUBJ}\s+{_ST_ADV}{_ST_VERB}(?:\s+(?:to|into)\b{_ST_NOT_DIRECTION}|(?<=by)\b)",
            _I,
        ),
    ),
    # "the setting then moves to a garden", "the action shifts to" (not "the shot/view moves to": camera)
    (
        "scene change",
        ("moves|shift|switch|chang",),
        re.compile(
            rf"\b(?:scene|setting|location|action|story|narrative)\s+{_ST_ADV}"
            rf"(?:moves?|shifts?|switch(?:es)?|changes?)\s+(?:back\s+)?(?:to|into)\b{_ST_NOT_DIRECTION}",
            _I,
        ),
    ),
    # "the shot changes and she is now ...", "the location changes:"
    (
        "scene change",
        ("chang|switch|shift|transition|cut|jump",),
        re.compile(
            rf"\b(?:scene|shot|setting|location|video|clip|footage|view|picture)\s+{_ST_ADV}"
            r"(?:changes|switches|shifts|transitions|cuts|jumps)"
            r"(?=\s*[,:;.]|\s+(?:and|abruptly|completely|again|entirely)\b)",
            _I,
        ),
    ),
    # "an abrupt edit takes us to", "mixes shots of"
    (
        "cut phrase",
        ("edit|transition|change|switch|shift|jump|cut",),
        re.compile(
            r"\b(?:abrupt|quick|sudden|hard|jump|jarring)\s+(?:edit|transition)s?\b|"
            r"\b(?:abrupt|sudden|jarring)\s+(?:change|switch|shift|jump|cut)\s+(?:of\s+scene\s+)?to\b",
            _I,
        ),
    ),
    (
        "multi-shot phrase",
        ("shots|scenes|clips|footage",),
        re.compile(
            r"\b(?:mix(?:es|ing)?|combin(?:es|ing)|interweav(?:es|ing)|blend(?:s|ing)|strings?\s+together)\s+"
            r"(?:\w+\s+)?(?:shots|scenes|clips|footage)\b",
            _I,
        ),
    ),
    # "the footage alternates between a close-up ... and a wide shot", "intercut with"
    (
        "cross-cutting",
        ("alternat|intercut|cuts between|cutting between|switches between|switching between|edits between",),
        re.compile(
            rf"\b(?:(?:{_ST_SUBJ}|camera|editing|edit)\s+{_ST_ADV}(?:alternates?|alternating|cuts|switches|edits)"
            rf"\s+(?:back\s+and\s+forth\s+)?between|intercut(?:s|ting)?\b|cross-?cut(?:s|ting)?\b)",
            _I,
        ),
    ),
    # "then jumps ahead to", "fast-forwards to", "a flashback"
    (
        "time jump",
        ("ahead|forward|flash",),
        re.compile(
            r"\b(?:(?:jumps?|jumping|skips?|skipping|flash(?:es)?|cuts?)\s+(?:ahead|forward)\b|"
            r"fast-?forwards?\s+to\b|flash-?backs?\b|flash(?:es)?\s+back\s+to\b)",
            _I,
        ),
    ),
    # "Next, we see him at a stadium", "We then see him in an office"
    (
        "next-shot phrase",
        ("we see|we then see|we are|is shown|are shown|video shows",),
        re.compile(
            r"(?:(?:^|[.;!?]\s+|\band\s+)(?:next|then|later|afterwards?|subsequently),?\s+"
            r"(?:we\s+(?:see|are\s+shown)|(?:the\s+)?(?:video|clip|footage)\s+shows)|"
            r"\bwe\s+then\s+see\s+(?:\w+\s+){1,4}?(?:in|at|on)\s+"
            r"(?:an?|another|the)\s+(?!same\b))",
            _I,
        ),
    ),
    # "the camera then cuts/switches/jumps to" (camera *moves/pans* to stay continuous)
    (
        "cut phrase",
        ("camera", "cut|switch|jump"),
        re.compile(rf"\bcamera\s+{_ST_ADV}(?:cuts?|switch(?:es)?|jumps?)\s+(?:back\s+)?to\b", _I),
    ),
    # "there is a cut to", "a quick cut to", "cut to:"
    ("cut phrase", ("cut",), re.compile(r"\b(?:an?|the)\s+(?:\w+\s+)?cut\s+(?:back\s+)?to\b", _I)),
    ("cut phrase", ("cut",), re.compile(r"\b(?:quick|rapid|fast|hard|jump|abrupt|sudden)\s+cuts?\b", _I)),
    # "Cut to", "; cut back to the trainer", "- cuts to a fish auction" (a list item with its subject elided)
    (
        "cut phrase",
        ("cut",),
        re.compile(
            r"(?:^|[.;:!?,\n]\s*|^\s*[-*\u2022]\s+|\n\s*[-*\u2022]\s+)(?:then\s+)?cuts?\s+(?:back\s+|away\s+)?to\b"
            + _ST_NOT_DIRECTION
            + r"(?!\s+(?:size|length|shape|pieces|fit|ribbons|order|the\s+chase|the\s+bone)\b)"
            + r"|\bcuts?\s+(?:back|away)\s+to\b",
            _I,
        ),
    ),
    # "switches to a shot of", "transitions to a wide view", "cuts to a close-up"
    (
        "switch phrase",
        ("switch|transition|cut|jump",),
        re.compile(
            rf"\b(?:switch(?:es|ing)?|transitions?|transitioning|cuts?|cutting|jumps?|jumping)\s+"
            rf"(?:back\s+)?(?:in)?to\s+(?:an?\s+|the\s+)?(?:[\w'-]+\s+){{0,2}}?{_EDIT_NOUN}\b",
            _I,
        ),
    ),
    # "in the next scene", "in the following shot", "the final clip"
    (
        "next-shot phrase",
        ("next|following|subsequent|second|third|final|last|closing", "scene|shot|clip|segment|sequence"),
        re.compile(
            r"\b(?:next|following|subsequent|second|third|final|last|closing)\s+(?:scene|shot|clip|segment|sequence)s?\b",
            _I,
        ),
    ),
    (
        "next-shot phrase",
        ("followed by",),
        re.compile(rf"\bfollowed\s+by\s+(?:an?\s+|another\s+)?(?:\w+\s+)?{_EDIT_NOUN}\b", _I),
    ),
    (
        "multi-shot phrase",
        ("montage|compilation|supercut|highlight|shots|scenes|clips|segments|vignettes",),
        re.compile(
            r"\b(?:montage|compilation|supercut|highlight\s+reel|"
            r"(?:multiple|several|various|different|distinct|separate|two|three|four|five|"
            r"a\s+series\s+of|a\s+sequence\s+of|a\s+collection\s+of)\s+"
            r"(?:\w+\s+)?(?:shots|scenes|clips|segments|vignettes|sequences))\b"
            r"(?!\s+(?:at|on)\b)",  # "takes several shots at the hoop"
            _I,
        ),
    ),
    (
        "fade phrase",
        ("black",),
        re.compile(r"\b(?:fades?|fading|cuts?)\s+(?:out\s+)?(?:to|from)\s+black\b", _I),
    ),
    (
        "fade phrase",
        ("fade|dissolve",),
        re.compile(r"\b(?:fades?|dissolves?|cross-?fades?)\s+(?:in)?to\s+(?:an?|the)\s+" + _EDIT_NOUN, _I),
    ),
    ("fade phrase", ("opens on",), re.compile(r"\bthen\s+opens\s+on\b", _I)),
    (
        "multi-shot phrase",
        ("parts|sections|halves|segments",),
        re.compile(
            r"\b(?:video|clip|footage)\s+(?:is\s+)?"
            r"(?:made\s+up\s+of|divided\s+into|split\s+into|consists\s+of|has|contains)\s+"
            r"(?:two|three|four|several|multiple)\s+(?:\w+\s+)?(?:parts|sections|halves|segments)\b",
            _I,
        ),
    ),
    # "at a different location", "in another place", "elsewhere,"
    (
        "location change",
        (
            "different|another|separate|new",
            "location|place|setting|scene|time|day|room|city|town|country|house|build|venue",
        ),
        re.compile(
            r"\b(?:(?:at|in|to)\s+(?:an?\s+)?(?:different|another|separate|new)\s+"
            r"(?:location|place|setting|scene|time|day)|"
            r"(?:at|in)\s+(?:an?\s+)?(?:different|another|separate)\s+(?:room|city|town|country|house|building|venue))\b",
            _I,
        ),
    ),
    ("location change", ("elsewhere",), re.compile(r"(?:^|[.;!?]\s+|,\s+|\band\s+)elsewhere\b", _I)),
    # "Later, he is shown ...", "Later that night", "The next day"
    (
        "time jump",
        ("later|afterward", "shown|seen"),
        re.compile(
            r"\b(?:later|afterwards|afterward)\b(?:\s+on)?,?\s+(?:[^.!?]{0,60}?)\b"
            r"(?:is|are)\s+(?:shown|seen)\b",
            _I,
        ),
    ),
    (
        "time jump",
        ("day|night|morning|evening", "later|the"),
        re.compile(r"\b(?:later\s+that|the\s+next|the\s+following)\s+(?:day|night|morning|evening)\b", _I),
    ),
    # Tuned on the tuning half of tests/data/captions_unseen.jsonl (rules-2): wording VLMs use for an edit.
    # "we are then taken to", "takes us to", "we are transported to"
    (
        "scene change",
        ("taken|takes us|transported|brought",),
        re.compile(
            r"\b(?:we\s+are\s+(?:then\s+|now\s+|next\s+)?(?:taken|transported|brought)|"
            r"(?:video|clip|footage|film|edit)\s+(?:then\s+|now\s+)?takes\s+us)\s+(?:back\s+)?to\b",
            _I,
        ),
    ),
    # "the video then shows / moves on to / goes to", "the clip continues with footage of", "after that the clip
    # shows": the narrator moving the *video* on (a bare "the video shows" opens most captions and stays clean)
    (
        "next-shot phrase",
        ("video|clip|footage|film", "then|next|later|after|subsequent|final|continues|also"),
        re.compile(
            r"\b(?:(?:after\s+that|afterwards?|then|next|later|subsequently|finally),?\s+(?:the\s+)?"
            r"(?:video|clip|footage|film)\s+(?:also\s+)?(?:shows|presents|features|goes\s+to|moves\s+to)|"
            r"(?:video|clip|footage|film)\s+(?:then|next|later|subsequently)\s+"
            r"(?:shows|presents|features|goes\s+to|moves\s+on\s+to|moves\s+to|heads\s+to)|"
            r"(?:video|clip|footage|film)\s+(?:then\s+)?continues\s+with\s+(?:\w+\s+)?"
            r"(?:footage|shots?|clips?|scenes?|images)|"
            r"(?:footage|video|clip)\s+also\s+(?:includes|contains))\b",
            _I,
        ),
    ),
    # "interspersed with shots of", "intercut/spliced with"
    (
        "cross-cutting",
        ("interspers|spliced|punctuated|interwoven|interleaved|intercut",),
        re.compile(r"\b(?:interspersed|spliced|punctuated|interwoven|interleaved|intercut)\s+(?:with|by)\b", _I),
    ),
    # "goes back and forth between the pianist and the conductor", "jump between these locations"
    (
        "cross-cutting",
        ("between",),
        re.compile(
            r"\b(?:(?:video|clip|footage|film|edit(?:ing)?)\s+(?:\w+\s+){0,3}?"
            r"(?:goes|cuts|switches|jumps|flips|alternates)\s+back\s+and\s+forth\s+between|"
            r"(?:jump|switch|cut|alternat|mov|shift)\w*\s+(?:back\s+and\s+forth\s+)?between\s+"
            r"(?:\w+\s+){0,2}(?:locations|places|scenes|settings|shots|angles|viewpoints))\b",
            _I,
        ),
    ),
    # "the image gradually dissolves into a snowy landscape", "the screen fades to white"
    (
        "fade phrase",
        ("dissolve|fade",),
        re.compile(
            r"\b(?:image|picture|shot|scene|screen|view|frame|video|footage)\s+(?:\w+\s+)?"
            r"(?:dissolves?|cross-?fades?|fades?)\s+(?:in)?to\b",
            _I,
        ),
    ),
    # "From a different angle, behind the goal, we see": at the start of a clause, a second viewpoint; inside one
    # ("circles to show it from another angle") it is a camera move
    (
        "switch phrase",
        ("angle|perspective|viewpoint|vantage",),
        re.compile(
            r"(?:^|[.;:,!?]\s*|\band\s+)from\s+(?:a|an|another|the)\s+"
            r"(?:(?:different|second|new|other|reverse|opposite|side|third)\s+)?"
            r"(?:angle|perspective|viewpoint|vantage\s+point)\b",
            _I,
        ),
    ),
    # "It ends with a shot of", "closes on a clip of" (not "ends on a wide view": a zoom out ends that way)
    (
        "next-shot phrase",
        ("ends|closes|finishes|concludes", "shot|clip|scene|footage"),
        re.compile(
            r"\b(?:ends|closes|finishes|concludes)\s+(?:on|with)\s+(?:an?\s+|some\s+)?(?:\w+\s+)?"
            r"(?:shot|clip|scene|footage)\s+of\b",
            _I,
        ),
    ),
    # "Scenes:" / "Shots:" headers and "Shot 2:" / "Scene 3 -" items of a list-like caption
    (
        "multi-shot phrase",
        ("scenes|shots|clips|segments", ":"),
        re.compile(r"(?:^|[.;]\s+|\n)\s*(?:scenes|shots|clips|segments)\s*:", _I),
    ),
    (
        "multi-shot phrase",
        ("scene|shot|clip|segment", "2|3|4|5|6|7|8|9|two|three|four"),
        re.compile(r"\b(?:scene|shot|clip|segment)\s*#?\s*(?:[2-9]|two|three|four)\s*[:\-\u2013\u2014)]", _I),
    ),
    # "Cut: a woman runs up the stairs" (screenplay shorthand)
    ("cut phrase", ("cut",), re.compile(r"(?:^|[.;!?]\s+)cut\s*[:.!]", _I)),
    # "Aerial shots of a vineyard", "close-up shots of" (plural: more than one shot)
    (
        "multi-shot phrase",
        ("shots",),
        re.compile(
            r"\b(?:aerial|drone|wide|close-?up|tracking|establishing|slow-motion|quick|short)\s+shots\s+of\b",
            _I,
        ),
    ),
    # "then we see it eating from a bowl in the kitchen", "Then he is standing on a stage in a large
    # auditorium", "she is then seen in a kitchen": the subject somewhere else with no movement described
    (
        "location change",
        ("then we see|next we see|now we see",),
        re.compile(
            r"\b(?:then|next|now)\s+we\s+see\s+(?:\w+\s+){1,6}?(?:in|at|inside)\s+(?:an?|another|the)\s+"
            r"(?!same\b|middle\b|background\b|foreground\b|distance\b|end\b|air\b|water\b|sky\b)",
            _I,
        ),
    ),
    (
        "location change",
        ("then|now|next|later|suddenly", "he |she |they |it |we "),
        re.compile(
            r"(?:^|[.;!?]\s+)(?:then|now|next|later|suddenly),?\s+(?:he|she|they|it|we)\s+(?:is|are|'re|'s)\s+"
            r"(?:now\s+)?(?:\w+\s+){0,2}?(?:in|at|on|inside)\s+(?:an?|another)\s+",
            _I,
        ),
    ),
    (
        "location change",
        ("then seen|later seen|next seen|now seen|then shown|later shown|next shown|now shown",),
        re.compile(
            r"\b(?:is|are)\s+(?:then|later|next|now)\s+(?:seen|shown)\s+(?:\w+\s+){0,3}?(?:in|at|inside|on)\s+"
            r"(?:an?\s|another\s|home\b|school\b|work\b)",
            _I,
        ),
    ),
    # rules-3: general editing vocabulary (a film-editing glossary) rather than the wording of single captions.
    # "another shot", "a new angle", "a reaction shot", "a cutaway": a shot that is not the first one
    (
        "next-shot phrase",
        ("another|a new|a different|a separate|a later|a reverse|a reaction|an insert|cutaway",),
        re.compile(
            # not a photographer's or player's shot: "to frame another shot", "takes another shot at"
            r"(?<!frame\s)(?<!frames\s)(?<!framing\s)(?<!take\s)(?<!takes\s)(?<!taking\s)(?<!line\s)(?<!lines\s)"
            r"(?<!get\s)(?<!gets\s)(?<!attempt\s)(?<!attempts\s)(?<!try\s)(?<!tries\s)"
            r"\b(?:another|a\s+new|a\s+different|a\s+separate|a\s+later|a\s+reverse|a\s+reaction|an\s+insert)\s+"
            r"(?:(?:\w+\s+)?(?:shot|scene|clip|segment)\b(?!\s+(?:at|on)\b)|"
            r"(?:camera\s+)?angle\b(?!\s+(?:at|on|of)\b))|\bcutaways?\b",
            _I,
        ),
    ),
    # named edits: "smash cut", "jump cut", "match cut", "a wipe reveals", "cross-dissolve", "multi-shot"
    (
        "cut phrase",
        ("cut|wipe|dissolve|multi",),
        re.compile(
            r"\b(?:smash|match|jump|hard|straight)[-\s]cuts?\b|\ban?\s+(?:\w+\s+)?(?:wipe|cross-?dissolve|dissolve)\b"
            r"(?!\s+(?:the|of|off|down)\b)|\bmulti-?(?:shot|camera|scene)\b",
            _I,
        ),
    ),
    # "edited together", "cut together", "spliced together", "shots from different angles"
    (
        "multi-shot phrase",
        ("together|angles|cameras|locations|into",),
        re.compile(
            r"\b(?:edited|cut|spliced|stitched|pieced)\s+(?:together|into\s+an?\b)|"
            r"\b(?:from|at|in)\s+(?:several|various|multiple|different|many|two|three)\s+"
            r"(?:camera\s+)?(?:angles|cameras|locations|places|settings)\b",
            _I,
        ),
    ),
    # "the second half of the clip", "the last part of the video": the video in segments
    (
        "multi-shot phrase",
        ("half|part|portion|section|segment", "video|clip|footage"),
        re.compile(
            r"\b(?:first|second|latter|last|final|other|next|middle)\s+(?:half|part|portion|section|segment)\s+"
            r"of\s+the\s+(?:video|clip|footage)\b",
            _I,
        ),
    ),
    # narrator moves: "Now we're in a vet clinic", "we are now at", "then we move to", "viewers are taken to"
    (
        "location change",
        ("we|viewer|audience",),
        re.compile(
            r"\b(?:now\s+we(?:'re|\s+are)|we(?:'re|\s+are)\s+now)\s+(?:back\s+)?(?:in|at|on|inside|outside)\b|"
            r"\b(?:then|next|now|later)\s+we\s+(?:move|go|jump|cut|switch|return|head)\s+(?:back\s+)?to\b|"
            r"\b(?:viewers?|the\s+audience)\s+(?:is|are)\s+(?:then\s+)?(?:taken|transported|brought)\s+to\b",
            _I,
        ),
    ),
    # "Hours later", "Years later,", "Some time later": an ellipsis in time
    (
        "time jump",
        ("later",),
        re.compile(
            r"(?:^|[.;!?]\s+|,\s+)(?:(?:hours|days|weeks|months|years|decades)|some\s+time|a\s+(?:while|day|week|year)"
            r"|(?:two|three|several|many)\s+(?:hours|days|weeks|months|years))\s+later\b",
            _I,
        ),
    ),
    # "before cutting to", "before switching back to"
    (
        "switch phrase",
        ("before",),
        re.compile(
            # editing verbs only: "before returning to her typing" is the subject's action
            r"\bbefore\s+(?:cutting|switching|transitioning|fading|dissolving|flashing|skipping)\s+"
            r"(?:back\s+|away\s+)?(?:to|into)\b",
            _I,
        ),
    ),
    # list-like captions: "Transitions: two hard cuts", "Editing: quick cuts" (not "Transitions: none")
    (
        "multi-shot phrase",
        ("transition|editing|cuts",),
        re.compile(
            r"(?:^|[.;\n]\s*)(?:transitions?|editing|cuts|edits)\s*:(?!\s*(?:none|no|n/a|continuous|single)\b)",
            _I,
        ),
    ),
    # rules-3, tuned on tests/data/captions_tuning_extra.jsonl.
    # "switching scenes", "changes locations", "jumps between angles"
    (
        "scene change",
        ("scenes|locations|settings|angles|perspectives|shots",),
        re.compile(
            r"\b(?:switch(?:es|ing)?|chang(?:es|ing)|shift(?:s|ing)?|jump(?:s|ing)?)\s+"
            r"(?:scenes|locations|settings|camera\s+angles|angles|perspectives|shots)\b",
            _I,
        ),
    ),
    # "a quick succession of city views", "a string of short clips"
    (
        "multi-shot phrase",
        ("succession|string|medley|flurry|barrage",),
        re.compile(
            r"\b(?:succession|string|medley|flurry|barrage)\s+of\s+(?:\w+\s+){0,2}"
            r"(?:views|shots|clips|scenes|glimpses|cuts|vignettes)\b",
            _I,
        ),
    ),
    # "the screen goes black, then a campfire appears": a fade through black with more after it
    (
        "fade phrase",
        ("black|white",),
        re.compile(
            r"\b(?:screen|picture|image|frame|video|view)\s+(?:briefly\s+|then\s+)?(?:goes|turns|fades|cuts)\s+"
            r"(?:to\s+)?(?:black|white)\b(?=\s*(?:[,;]|\band\b|\bbefore\b|\.\s+\S))",
            _I,
        ),
    ),
    # "The same woman then appears in a hospital corridor", "the video continues in a small restaurant"
    (
        "location change",
        ("same|continues",),
        re.compile(
            r"\b(?:the\s+)?same\s+(?:\w+\s+){1,2}?(?:then\s+|later\s+|now\s+|next\s+)?"
            r"(?:appears|reappears|is\s+(?:seen|shown))\s+(?:\w+\s+){0,2}?(?:in|at|on|inside)\s+(?:an?|another)\s+|"
            r"\b(?:video|clip|footage|film|story|action)\s+(?:then\s+)?continues\s+(?:in|at|inside)\s+(?:an?|another)\s+",
            _I,
        ),
    ),
    # "then a wider shot shows the whole meadow", "then an aerial view reveals"
    (
        "next-shot phrase",
        ("then|next",),
        re.compile(
            r"\b(?:then|next),?\s+(?:an?|the)\s+(?:\w+\s+){0,2}?(?:shot|view|angle|close-?up|clip)\s+"
            r"(?:shows|reveals|captures|depicts|follows|presents)\b",
            _I,
        ),
    ),
    # "We first see a motorcycle ... We then see the rider": the narrator walking through shots
    (
        "next-shot phrase",
        ("we first see|first we see",),
        re.compile(
            r"\b(?:we\s+first\s+see|first,?\s+we\s+see)\b(?=[\s\S]*\b(?:we\s+then\s+see|then\s+we\s+see))", _I
        ),
    ),
    # "Also shown:", "is abruptly replaced by", "(the scene) is suddenly replaced by"
    (
        "scene change",
        ("shown|featured|replaced",),
        re.compile(
            r"(?:^|[.;\n]\s*)also\s+(?:shown|featured|seen)\s*:|\b(?:suddenly|abruptly)\s+replaced\s+by\b",
            _I,
        ),
    ),
    # "Meanwhile, elsewhere", "Meanwhile, back in the studio", "Back in the studio,"
    (
        "location change",
        ("meanwhile|back in|back at",),
        re.compile(
            r"\bmeanwhile,?\s+(?:elsewhere|back|across|(?:in|at)\s+(?:an?|another|the)\b"
            r"(?!\s+(?:background|foreground|distance|corner|middle|meantime)\b))\b|"
            r"(?:^|[.;!?]\s+)back\s+(?:in|at)\s+the\s+\w+\s*,",
            _I,
        ),
    ),
]


# ---------------------------------------------------------------------------------------------------
# rules-4: general vocabulary, not wording. Shot nouns x change-of-shot verbs, "a new/different/second" viewpoint
# or setting, "the video moves from A to B", multi-shot nouns, time ellipses, list fields. The kinds in
# SOFT_KINDS can also describe what one moving camera sees, so they are dropped when the sentence has a camera move,
# a continuous take or subject movement just before them (see :mod:`.scene_structure`).
# ---------------------------------------------------------------------------------------------------
_SHOT_SUBJ = (
    r"(?:scene|scenery|setting|location|backdrop|surroundings|environment|venue|shot|footage|clip|video|film|"
    r"view|perspective|viewpoint|picture|image|frame|camera\s+angle|angle|action|story|narrative|sequence|edit)"
)
_NARRATOR = r"(?:video|clip|footage|film|edit|sequence|story|narrative|action|montage|reel|vlog)"
_CHANGE_VERB = (
    r"(?:moves?|goes|jumps?|shifts?|switch(?:es)?|cuts?|returns?|relocates?|skips?|travels?|heads?|flash(?:es)?|"
    r"flicks?|swaps?|flips?|changes?|transitions?|hops?|segues?|progresses)"
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
         "hop|segue|progress",),
        re.compile(
            rf"(?<!picture\s)(?<!image\s)(?<!frame\s)(?<!photo\s)\b(?:the\s+)?{_NARRATOR}\s+(?:that\s+|which\s+)?"
            rf"{_ADV}{_CHANGE_VERB}"
            rf"(?:\s+(?:back|ahead|forward|on|over|away|again))?"
            rf"(?:\s+(?:to|from|between|inside|outside|into)\b{_NOT_DIRECTION}|(?<=relocates)\b|(?<=relocate)\b)",
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
            rf"\b{_NARRATOR}\s+(?:then\s+)?(?:resumes|picks\s+up|restarts)\s+(?:with|on|at)\b|"
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

_ST_RULES = gated(_ST_PATTERNS + _GENERAL_PATTERNS)


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
