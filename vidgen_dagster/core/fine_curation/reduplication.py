"""``reduplication`` rules: looping or degenerate text, or a caption cut off before its end."""

from __future__ import annotations

import re
import zlib
from collections import Counter

from vidgen_dagster.core.fine_curation.rule_matching import WORD, quote

# ---------------------------------------------------------------------------------------------------
# Reduplication / missing end
# ---------------------------------------------------------------------------------------------------
_TERMINAL = set(".!?\"')\u201d\u2019\u2026")
_QUOTED = re.compile(r"\"[^\"]{0,400}\"|\u201c[^\u201d]{0,400}\u201d")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_CHAR_RUN = re.compile(r"(\S{1,3}?)\1{9,}")
_STOPWORDS = frozenset(
    """a an the and or but of in on at to from by with for as into onto over under is are was were be
    been being it its this that these those there their they them he she his her him we you i our your
    then than while which who whom what when where how so also very just some any each both all not no
    one two up down out off again back more most other such can will would could should may might do
    does did has have had""".split()
)
# A line that is a list item: a bullet, "1." / "(a)" / "#3:", or a short "Label:" / "Image 3 -" prefix.
_LIST_LINE = re.compile(
    r"\s*(?:[-*\u2022\u2013]\s|#?\d{1,2}[.):]|\(?[a-h]\)|\*\*|(?:\w+\s+){0,2}\w+\s*(?:[:\u2013\u2014]|\s-)\s)"
)
_DANGLING = frozenset(
    "a an the and or but of in on at to from by with for as into onto its his her their our this that".split()
)
_TRAILING_ELLIPSIS = re.compile(r"\b([A-Za-z]+)\s*(?:\.\.\.|\u2026)\s*$")
_DANGLING_ELLIPSIS = frozenset("toward towards through across around between over under about".split())
# Near-repeated sentences: content words, crudely stemmed, minus words every caption uses.
_NEAR_IGNORE = frozenset("video clip footage shows show showing scene camera image".split())
_NEAR_MIN_WORDS = 3
_NEAR_JACCARD = 0.6
_CLAUSE_SPLIT = re.compile(r",\s+|;\s+|\s+(?:and|while|as|but)\s+")
_CLAUSE_MIN_WORDS = 4
_CLAUSE_JACCARD = 0.8
_COMPRESSION_MIN_CHARS = 300
_COMPRESSION_RATIO = 2.6


def _content_count(gram: tuple[str, ...]) -> int:
    return sum(1 for w in gram if w not in _STOPWORDS)


def reduplication(caption: str, finish_reason: str | None) -> list[str]:
    text = caption.strip()
    if not text:
        return ["empty caption"]
    reasons: list[str] = []
    if finish_reason == "length":
        reasons.append('truncated: finish_reason == "length"')
    trailing = _TRAILING_ELLIPSIS.search(text)
    if trailing and trailing.group(1).lower() in _DANGLING | _DANGLING_ELLIPSIS:
        # "walks slowly toward the...": an ellipsis in the middle of a clause is a cut-off, not a pause
        reasons.append(f"truncated: ends mid-clause on {quote(trailing.group(0))}")
    elif text[-1] not in _TERMINAL:
        last_line = text.rsplit("\n", 1)[-1]
        last_words = WORD.findall(last_line.lower())
        if "\n" in text and _LIST_LINE.match(last_line):
            # List items ("- a red kayak", "Image 3 - a cup") end without a full stop by nature: cut off only
            # when the item itself dangles ("- a straw and the").
            if last_words and last_words[-1] in _DANGLING:
                reasons.append(f"truncated: list item ends on {quote(last_words[-1])}")
        else:
            reasons.append(f"truncated: ends without terminal punctuation ({quote(text[-30:], 40)})")

    m = _CHAR_RUN.search(text)
    if m:
        reasons.append(f"character run: {quote(m.group(0), 30)}")

    unquoted = _QUOTED.sub(" | ", text)
    # Words of each quote-free span; n-grams never cross a quotation.
    spans = [WORD.findall(part) for part in unquoted.lower().split(" | ")]

    # One word 4+ times in a row; a 2-6-word phrase 3+ times back-to-back.
    for span in spans:
        found = _consecutive_repeat(span)
        if found:
            reasons.append(found)
            break

    # Repeated n-grams anywhere.
    grams4: Counter[tuple[str, ...]] = Counter()
    grams8: Counter[tuple[str, ...]] = Counter()
    for span in spans:
        grams4.update(zip(*(span[k:] for k in range(4)), strict=False))
        grams8.update(zip(*(span[k:] for k in range(8)), strict=False))
    rep4 = [(g, c) for g, c in grams4.items() if c >= 3 and _content_count(g) >= 2]
    if rep4:
        gram, count = max(rep4, key=lambda gc: (gc[1], _content_count(gc[0])))
        reasons.append(f"repeated 4-gram x{count}: {quote(' '.join(gram))}")
    else:
        rep8 = [(g, c) for g, c in grams8.items() if c >= 2 and _content_count(g) >= 3]
        if rep8:
            gram, count = max(rep8, key=lambda gc: gc[1])
            reasons.append(f"repeated 8-gram x{count}: {quote(' '.join(gram))}")

    # A content bigram 5+ times or a content trigram 4+ times ("a snowy mountain ... a snowy mountain ...").
    if not rep4:
        grams2: Counter[tuple[str, ...]] = Counter()
        grams3: Counter[tuple[str, ...]] = Counter()
        for span in spans:
            grams2.update(zip(span, span[1:], strict=False))
            grams3.update(zip(span, span[1:], span[2:], strict=False))
        rep = [(g, c) for g, c in grams2.items() if c >= 5 and _content_count(g) == 2]
        rep += [(g, c) for g, c in grams3.items() if c >= 4 and _content_count(g) >= 2]
        if rep:
            gram, count = max(rep, key=lambda gc: (gc[1], len(gc[0])))
            reasons.append(f"repeated {len(gram)}-gram x{count}: {quote(' '.join(gram))}")

    # A sentence of 5+ words repeated verbatim.
    sentences: Counter[str] = Counter()
    for sent in _SENT_SPLIT.split(unquoted):
        toks = WORD.findall(sent.lower())
        if len(toks) >= 5:
            sentences[" ".join(toks)] += 1
    dup = [(s, c) for s, c in sentences.items() if c >= 2]
    if dup:
        sent, count = max(dup, key=lambda sc: sc[1])
        reasons.append(f"repeated sentence x{count}: {quote(sent)}")
    elif not reasons:
        near = _near_repeat(unquoted)
        if near:
            reasons.append(near)

    if len(text) >= _COMPRESSION_MIN_CHARS and not reasons:
        raw = text.encode("utf-8")
        ratio = len(raw) / len(zlib.compress(raw, 6))
        if ratio >= _COMPRESSION_RATIO:
            reasons.append(f"compression ratio {ratio:.2f} >= {_COMPRESSION_RATIO}")
    return reasons


def _stem(word: str) -> str:
    """Crude suffix stripping so "flies"/"flying"/"fly" and "walks"/"walking" compare equal."""
    for suffix, repl in (("ies", "y"), ("ying", "y"), ("ing", ""), ("es", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def _near_repeat(text: str) -> str | None:
    """Two sentences that restate each other with a word or two changed ("A boy flies a kite on a hill. A boy is
    flying a kite on a hill."): Jaccard similarity of their stemmed content words >= ``_NEAR_JACCARD``."""
    bags: list[tuple[str, frozenset[str]]] = []
    for sent in _SENT_SPLIT.split(text):
        words = {
            _stem(w) for w in WORD.findall(sent.lower()) if w not in _STOPWORDS and w not in _NEAR_IGNORE
        }
        if len(words) >= _NEAR_MIN_WORDS:
            bags.append((sent, frozenset(words)))
    for i, (sent, a) in enumerate(bags):
        for _, b in bags[i + 1 :]:
            if len(a & b) / len(a | b) >= _NEAR_JACCARD:
                return f"near-repeated sentence: {quote(sent)}"
    # Within one sentence: a clause that restates an earlier one ("a train crosses a bridge over a river and the
    # river flows under the bridge and the train crosses the bridge over the river"); stricter, clauses are short.
    for sent in _SENT_SPLIT.split(text):
        clauses = []
        for clause in _CLAUSE_SPLIT.split(sent):
            words = {_stem(w) for w in WORD.findall(clause.lower()) if w not in _STOPWORDS and w not in _NEAR_IGNORE}
            if len(words) >= _CLAUSE_MIN_WORDS:
                clauses.append((clause, frozenset(words)))
        for i, (clause, a) in enumerate(clauses):
            for _, b in clauses[i + 1 :]:
                if len(a & b) / len(a | b) >= _CLAUSE_JACCARD:
                    return f"near-repeated clause: {quote(clause)}"
    return None


def _consecutive_repeat(words: list[str]) -> str | None:
    """A word 4+ times in a row, or an n-word phrase (n = 2..6) 3+ times back-to-back.

    For shift ``n``, a phrase of ``n`` words repeated ``r`` times back-to-back is a run of
    ``(r - 1) * n`` positions where ``words[i] == words[i + n]``: linear per shift.
    """
    total = len(words)
    for n, min_reps in ((1, 4), (2, 3), (3, 3), (4, 3), (5, 3), (6, 3)):
        need = (min_reps - 1) * n
        run = 0
        for i in range(total - n):
            if words[i] == words[i + n]:
                run += 1
                if run >= need:
                    start = i - run + 1
                    gram = tuple(words[start : start + n])
                    if n == 1 or _content_count(gram) >= 1:
                        reps = run // n + 1
                        if n == 1:
                            return f"word repeated {reps}+ times in a row: {quote(gram[0])}"
                        return f"phrase repeated {reps}+ times back-to-back: {quote(' '.join(gram))}"
            else:
                run = 0
    return None
