"""``scene_transition`` phrase table (rules-1 to rules-3): editorial wording, each entry with the captions it was
written for.

The patterns grew in three steps: the development set (``assets/caption_labels/captions_labelled.jsonl``), then
``captions_unseen.jsonl`` and ``captions_tuning_extra.jsonl``. This module is one long table on purpose: each entry is
a pattern with the wording it was written for. The general vocabulary that rules-4 added, the gates and the entry
point are in :mod:`.scene_rules`.
"""

from __future__ import annotations

import re

from vidgen_dagster.core.fine_curation.rule_matching import Rule

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
    # "the video fades to black": a fade-out unless more follows (the "fade phrase" rules decide)
    r"(?!\s+(?:black|white)\b)"
    # "the picture returns to normal after a glitch" (rules-5)
    r"(?!\s+(?:normal|its\s+(?:usual|normal|original))\b)"
)
_EDIT_NOUN = r"(?:shot|scene|view|clip|location|setting|close-?up|segment|sequence|footage|angle)"

# Each rule: (evidence kind, gates, pattern). A gate is a '|'-separated list of lowercase substrings;
# the regex runs only when every gate has one of its substrings in the caption (a cheap prefilter:
# Python's ``re`` is slow at scanning long alternations at every offset).
PHRASE_RULES: list[Rule] = [
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
            r"(?<!takes\s)(?<!took\s)(?<!pours\s)(?<!poured\s)(?<!orders\s)(?<!fires\s)(?<!fired\s)"
            r"(?:multiple|several|various|different|distinct|separate|two|three|four|five|"
            r"a\s+series\s+of|a\s+sequence\s+of|a\s+collection\s+of)\s+"
            r"(?:\w+\s+)?(?:shots|scenes|clips|segments|vignettes|sequences))\b"
            # "takes several shots at the hoop", "a montage-free clip"; rules-5: a photographer's or a bartender's
            # shots, gunshots ("a series of shots rings out")
            r"(?!\s+(?:at|on)\b)(?!-free\b)(?!\s*:?\s*(?:one\s+)?of\s+(?:tequila|whiske?y|vodka|rum|gin|espresso|liquor)\b)"
            r"(?!\s+(?:rings?|rang|rung|echo(?:es)?|echoed|are\s+fired|were\s+fired|is\s+fired)\b)",
            _I,
        ),
    ),
    (
        "fade phrase",
        ("black",),
        # rules-4: only with something after the black ("fades to black and then opens on"); a fade-out at the end or
        # a fade-in from black at the start is one shot (captions_unseen.md)
        re.compile(
            r"\b(?:fades?|fading|cuts?|dips?|dipping)\s+(?:out\s+)?to\s+black\b(?!\s+and\s+white\b)"
            r"(?!\s+(?:at|as|to)\s+(?:the\s+)?(?:end|close|finish|video\s+ends|clip\s+ends))"
            r"(?=\s*(?:[,;]|\band\b|\bbefore\b|\bthen\b|\.\s+(?!The\s+(?:video|clip)\s+ends)\S))",
            _I,
        ),
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
    # Tuned on the tuning half of assets/caption_labels/captions_unseen.jsonl (rules-2): wording VLMs use for an edit.
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
            r"(?:dissolves?|cross-?fades?|fades?)\s+(?:in)?to\b(?!\s+(?:black|white)\b)",
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
            r"of\s+the\s+(?:video|clip|footage)\b(?![^.;!?]*\bsame\b)",  # "... down the same corridor"
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
            r"\b(?:viewers?|the\s+audience)\s+(?:is|are)\s+(?:then\s+)?(?:taken|transported|brought)\s+to\b"
            r"(?!\s+(?:its|their|tears)\b)",  # "the audience is brought to its feet" (rules-5)
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
    # rules-3, tuned on assets/caption_labels/captions_tuning_extra.jsonl.
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
