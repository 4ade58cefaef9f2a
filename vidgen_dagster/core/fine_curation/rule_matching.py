"""Gated regex rules and the evidence they record: the machinery the caption rule detectors share.

A rule is ``(evidence kind, gates, pattern)``. A gate is a '|'-separated list of lowercase substrings; the regex runs
only when every gate has one of its substrings in the caption (a cheap prefilter: Python's ``re`` is slow at scanning
long alternations at every offset).
"""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
Rule = tuple[str, tuple[str, ...], re.Pattern[str]]


def quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= limit else text[: limit - 3] + "...") + '"'


GatedRule = tuple[str, tuple[tuple[str, ...], ...], re.Pattern[str]]


def gated(rules: list[Rule]) -> list[GatedRule]:
    return [(kind, tuple(tuple(g.split("|")) for g in gates), pat) for kind, gates, pat in rules]


def match_rules(caption: str, lower: str, rules: list[GatedRule], skip=None) -> list[str]:
    """Evidence strings for every rule match, in rule order; a match overlapping an earlier one
    (or repeating the same phrase) is not reported twice."""
    reasons: list[str] = []
    seen: set[str] = set()
    spans: list[tuple[int, int]] = []
    for kind, gates, pattern in rules:
        if not all(any(sub in lower for sub in gate) for gate in gates):
            continue
        for m in pattern.finditer(caption):
            if skip is not None and skip(kind, caption, m):
                continue
            start, end = m.span()
            phrase = m.group(0).strip(" \n.;:!?")
            key = phrase.lower()
            if key in seen or any(start < e and s < end for s, e in spans):
                continue
            seen.add(key)
            spans.append((start, end))
            reasons.append(f"{kind}: {quote(phrase)}")
    return reasons
