"""Scene-boundary precision and recall on every shared file with published cuts.

Compares the `scenes` stage's boundaries (cut and fade) with ``groundtruth/cuts.json``:
a found boundary is a true positive when a published transition lies within ``--tol`` frames.
Published transitions = the upstream project's asserted hard cuts plus, where published, the
ThresholdDetector fades (the cascade's second detector). Usage:

    python benchmarks/scene_accuracy.py --media ../shared/media
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from vidgen_dagster.core import media as vm
from vidgen_dagster.core.config import load_config
from vidgen_dagster.core.scenes import SceneSettings, detect_scenes


def published(truth: dict) -> dict[str, tuple[list[int], list[int]]]:
    """file -> (published hard cuts, published fades)."""
    t = truth
    tv = t["cuts_fades__pyscenedetect_testvideo.mp4"]["published_goldens_scene_starts"]
    return {
        "cuts_fades__pyscenedetect_testvideo.mp4": (tv["ContentDetector.default"], tv["ThresholdDetector.default"]),
        "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4":
            (t["cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4"]["decoded_frame_index"], []),
        "synthetic_fades__pyscenedetect_fades.mp4":
            ([], [f for f in t["synthetic_fades__pyscenedetect_fades.mp4"]["published"]["ThresholdDetector default"]
                  if f > 0]),
        "synthetic_text_colorcuts__pyscenedetect_counter.mp4":
            (t["synthetic_text_colorcuts__pyscenedetect_counter.mp4"]["published_goldens"]["ContentDetector"], []),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=os.environ.get("VIDGEN_MEDIA", "../shared/media"))
    ap.add_argument("--tol", type=int, default=1)
    args = ap.parse_args()
    media = Path(args.media)
    truth = json.loads((media / "groundtruth" / "cuts.json").read_text())
    settings = SceneSettings.from_dict(load_config()["scenes"])
    tp_all = found_all = hit_all = expected_all = 0
    for name, (cuts, fades) in published(truth).items():
        path = media / name
        det = detect_scenes(path, vm.probe(path), settings)
        found = [(s.start_frame, s.boundary) for s in det.scenes if s.boundary != "start"]
        expected = sorted(cuts + fades)
        tp = sum(any(abs(f - e) <= args.tol for e in expected) for f, _ in found)
        hit = sum(any(abs(f - e) <= args.tol for f, _ in found) for e in expected)
        p = tp / len(found) if found else 1.0
        r = hit / len(expected) if expected else 1.0
        print(f"{name}: found {found} published cuts {cuts} fades {fades} -> precision {p:.2f} recall {r:.2f}")
        tp_all, found_all = tp_all + tp, found_all + len(found)
        hit_all, expected_all = hit_all + hit, expected_all + len(expected)
    print(f"overall precision {tp_all / max(found_all, 1):.2f} ({tp_all}/{found_all}), "
          f"recall {hit_all / max(expected_all, 1):.2f} ({hit_all}/{expected_all})")


if __name__ == "__main__":
    main()
