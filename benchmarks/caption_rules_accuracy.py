"""Precision/recall of the caption rule detectors on the labelled caption sets in ``tests/data``.

Prints the per-label table for each tuning file (``tests/caption_eval.py``: ``TUNING_FILES``) and for all of them
together; ``--misses`` lists their disagreements. The held-out set ``captions_fresh.jsonl`` (written without reading
the rules, never tuned on) is scored only with ``--held-out``; its disagreements only with
``--show-held-out-misses``, so that tuning does not look at them.

Last line: ``tuning: <label> P=… R=… | …``, or with ``--held-out``: ``held-out: …`` (targets: P >= 0.9 and
R >= 0.9 per label).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="list the tuning material's disagreements")
    ap.add_argument("--held-out", action="store_true", help="also score the held-out captions_fresh.jsonl")
    ap.add_argument("--show-held-out-misses", action="store_true", help="list the held-out set's disagreements")
    args = ap.parse_args(argv)

    from caption_eval import FRESH, TUNING_FILES, load, one_line, score, table

    from vidgen_dagster.core.fine_curation.rules import RULES_VERSION

    sets = [(path.name, load(path)) for path in TUNING_FILES]
    everything = [it for _, items in sets for it in items]
    print(f"caption rules {RULES_VERSION}; tuning material: {len(everything)} captions in {len(sets)} files")
    for name, items in sets:
        scores, _ = score(items)
        print(f"\n{name} ({len(items)} captions)\n{table(scores)}")
    scores, misses = score(everything)
    print(f"\nall tuning material ({len(everything)} captions)\n{table(scores)}")
    if args.misses and misses:
        print("disagreements:\n" + "\n".join(misses))
    print(f"\ntuning: {one_line(scores)}")
    if args.held_out or args.show_held_out_misses:
        held = load(FRESH)
        held_scores, held_misses = score(held)
        print(f"\nheld out: {FRESH.name} ({len(held)} captions)\n{table(held_scores)}")
        if args.show_held_out_misses and held_misses:
            print("disagreements:\n" + "\n".join(held_misses))
        print(f"held-out: {one_line(held_scores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
