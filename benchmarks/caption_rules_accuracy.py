"""Precision/recall of the caption rule detectors on the labelled caption sets (``assets/caption_labels``, ``tests/data``).

Prints the per-label table for each tuning file (``tests/caption_eval.py``: ``TUNING_FILES``) and for all of them
together; ``--misses`` lists their disagreements. The held-out sets ``captions_fresh.jsonl`` and
``captions_fresh2.jsonl`` (each written by another author without reading the rules, never tuned on) are scored only
with ``--held-out``; their disagreements only with ``--show-held-out-misses``, so that tuning does not look at them.

With the learned detector (``vidgen_dagster/core/fine_curation/learned.py``; its encoder package installed and
``--no-learned`` not given) each held-out set is scored twice, rules alone and rules OR learned (the configuration
``caption_rules.learned: auto`` runs); the tuning material only by the rules (the learned head is trained on it, so
its in-sample figures would say nothing). ``--cv`` prints the learned side's 5-fold out-of-fold figures on the
tuning material instead (how its thresholds are chosen), with the training time and ms per caption.

Last line: ``tuning: <label> P=… R=… | …``, or with ``--held-out`` one line per held-out set:
``held-out <file>: …`` (rules OR learned when it ran; targets: P >= 0.9 and R >= 0.9 per label).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="list the tuning material's disagreements")
    ap.add_argument("--held-out", action="store_true", help="also score the held-out captions_fresh*.jsonl")
    ap.add_argument("--show-held-out-misses", action="store_true", help="list the held-out set's disagreements")
    ap.add_argument("--no-learned", action="store_true", help="score the rules alone")
    ap.add_argument("--cv", action="store_true", help="cross-validate the learned detector on the tuning material")
    args = ap.parse_args(argv)
    if args.cv:
        return cross_validate()

    from caption_eval import HELD_OUT_FILES, TUNING_FILES, load, one_line, score, table

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
        from vidgen_dagster.core.fine_curation.learned import build_learned_detector

        learned, why = (None, "--no-learned") if args.no_learned else build_learned_detector({})
        lines = []
        for path in HELD_OUT_FILES:
            if not path.is_file():
                print(f"\nheld out: {path.name} absent")
                continue
            held = load(path)
            held_scores, held_misses = score(held)
            print(f"\nheld out: {path.name} ({len(held)} captions), rules alone\n{table(held_scores)}")
            if learned is None:
                print(f"learned detector not run: {why}")
            else:
                t0 = time.perf_counter()
                held_scores, held_misses = score(held, learned)
                ms = 1000 * (time.perf_counter() - t0) / len(held)
                trained = f"trained in {learned.trained_s:.1f} s" if learned.trained_s else "head read from the cache"
                print(f"\nheld out: {path.name}, rules OR learned ({learned.version}; thresholds "
                      f"{', '.join(f'{t:.2f}' for t in learned.head.thresholds)}; {trained}; {ms:.0f} ms/caption)\n"
                      f"{table(held_scores)}")
            if args.show_held_out_misses and held_misses:
                print("disagreements:\n" + "\n".join(held_misses))
            lines.append(f"held-out {path.name}: {one_line(held_scores)}")
        print("\n" + "\n".join(lines))
    return 0


def cross_validate() -> int:
    """The learned side alone, 5-fold out-of-fold on the tuning material, at the thresholds training would pick."""
    import numpy as np
    from caption_eval import LabelScore, one_line, table

    from vidgen_dagster.core.fine_curation import LABELS
    from vidgen_dagster.core.fine_curation import learned as lrn

    items = lrn.load_labelled()  # the order training uses, so the folds and thresholds are training's own
    t0 = time.perf_counter()
    encoder = lrn.SentenceEncoder()
    t1 = time.perf_counter()
    feats = lrn.features(encoder, [it["caption"] for it in items])
    t2 = time.perf_counter()
    scores = {}
    for label in LABELS:
        y = np.array([bool(it[label]) for it in items])
        p = lrn.out_of_fold(feats, y.astype(float), lrn.L2[label])
        t = lrn.pick_threshold(p, y)
        flag = p >= t
        scores[label] = LabelScore(tp=int((flag & y).sum()), fp=int((flag & ~y).sum()),
                                   fn=int((~flag & y).sum()), tn=int((~flag & ~y).sum()))
        print(f"{label}: threshold {t:.3f}")
    t3 = time.perf_counter()
    print(f"\nlearned detector {lrn.LEARNED_VERSION} alone, {lrn.FOLDS}-fold out-of-fold on the tuning material "
          f"({len(items)} captions; L2 {', '.join(f'{v:g}' for v in lrn.L2.values())}, precision target {lrn.TARGET_PRECISION})\n{table(scores)}")
    print(f"encoder load {t1 - t0:.1f} s; embedding {t2 - t1:.1f} s ({1000 * (t2 - t1) / len(items):.0f} ms/caption); "
          f"heads + CV {t3 - t2:.1f} s")
    print(f"cv: {one_line(scores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
