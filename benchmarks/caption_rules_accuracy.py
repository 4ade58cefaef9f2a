"""Precision/recall of the caption rule detectors on captions written independently of them.

``tests/data/captions_unseen.jsonl`` (labelling guideline: ``tests/data/captions_unseen.md``) is split
deterministically into a tuning half and a held-out half, stratified by label combination
(``tests/caption_eval.py``). Prints the per-label table for the original development set
(``captions_labelled.jsonl``, which the rules were first written against), the tuning half together with the
tuning-only batch ``captions_tuning_extra.jsonl``, then the held-out half.
Disagreements are listed for the tuning half only (``--misses``); the held-out half's are shown only with
``--show-held-out-misses``, so that tuning does not look at them.

Last line: ``held-out: <label> P=… R=… | …`` (targets: P >= 0.9 and R >= 0.9 per label).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="list the tuning half's disagreements")
    ap.add_argument("--show-held-out-misses", action="store_true", help="list the held-out half's disagreements")
    args = ap.parse_args(argv)

    from caption_eval import ORIGINAL, TUNING_EXTRA, UNSEEN, load, one_line, score, split, table

    from vidgen_dagster.core.fine_curation.rules import RULES_VERSION

    tune, held = split(load(UNSEEN))
    extra = load(TUNING_EXTRA)
    original = load(ORIGINAL)
    print(
        f"caption rules {RULES_VERSION}; {UNSEEN.name}: {len(tune)} tuning + {len(held)} held-out captions; "
        f"{TUNING_EXTRA.name}: {len(extra)} more for tuning"
    )
    results = {}
    for name, items, show in (
        ("development set (captions_labelled.jsonl)", original, False),
        ("tuning half + tuning batch", tune + extra, args.misses),
        ("held-out half", held, args.show_held_out_misses),
    ):
        scores, misses = score(items)
        results[name] = scores
        print(f"\n{name} ({len(items)} captions)\n{table(scores)}")
        if show and misses:
            print("disagreements:\n" + "\n".join(misses))
    print(f"\ntuning: {one_line(results['tuning half + tuning batch'])}")
    print(f"held-out: {one_line(results['held-out half'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
