"""OCR text scoring on real footage with the real (bundled) rapidocr models: no mocks."""

from __future__ import annotations

import builtins
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidgen_dagster.core.coarse.scoring.text import (
    TextDetector,
    available_threads,
    build_text_detector,
    ocr_threads,
    score_options,
    score_text,
    text_mask,
)
from vidgen_dagster.core.common import media
from vidgen_dagster.core.common.config import load_config
from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError, ScoringError

OCR_CFG = {"backend": "rapidocr", "recognize": True, "min_box_score": 0.5}

# A text-free frame may still get a stray speck of a box after a decoder/scaler change; anything
# under 0.2 % of the frame (~360 px at 320x568, smaller than one subtitle word here: ~0.5 %) is
# not text a curation filter would act on. The clean clips measure exactly 0 today.
NO_TEXT_EPS = 0.002


@pytest.fixture(scope="module")
def detector() -> TextDetector:
    det = build_text_detector(OCR_CFG)
    assert det is not None
    return det


def first_middle_last(path: Path, short_side: int = 320) -> list[np.ndarray]:
    """The first, middle and last decoded frames at analysis resolution (BGR), as the frames stage keeps them."""
    info = media.probe(path)
    size = media.analysis_size(info.width, info.height, short_side, info.sample_aspect_ratio)
    frames = [f.image for f in media.decode_frames(path, info.stream_index, size, info.start_time_s)]
    assert frames, path
    return [frames[0], frames[len(frames) // 2], frames[-1]]


def frame_at(path: Path, seconds: float, short_side: int = 320) -> np.ndarray:
    """The first frame at or after ``seconds``, at analysis resolution (BGR); only that one is converted."""
    info = media.probe(path)
    size = media.analysis_size(info.width, info.height, short_side, info.sample_aspect_ratio)
    for _, t, frame in media.iter_frames(path, info.stream_index, info.start_time_s):
        if t >= seconds:
            return frame.to_ndarray(format="bgr24", width=size[0], height=size[1], interpolation="AREA")
    raise AssertionError(f"{path.name} ends before {seconds} s")


def score_file(detector: TextDetector, path: Path) -> dict:
    return score_text(detector, first_middle_last(path), recognize=True, min_box_score=0.5)


# ------------------------------------------------------------------------------- builder


def test_backend_none_gives_no_detector():
    assert build_text_detector({"backend": "none"}) is None


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="tesseract"):
        build_text_detector({"backend": "tesseract"})


def test_paddleocr_missing_says_how_to_install(monkeypatch):
    # paddleocr is not installed in the dev env; hide it anyway so the test holds where it is.
    real_import = builtins.__import__

    def no_paddle(name, *args, **kwargs):
        if name == "paddleocr" or name.startswith("paddleocr."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_paddle)
    with pytest.raises(ModelUnavailableError) as info:
        build_text_detector({"backend": "paddleocr", "paddleocr_model": "PP-OCRv5_mobile_det"})
    message = info.value.record()
    assert message.startswith("model_unavailable: paddleocr backend needs the paddleocr package")
    assert "pip install 'vidgen-dagster[paddle]'" in message


def test_rapidocr_detector_identity(detector):
    assert isinstance(detector, TextDetector)
    assert detector.backend == "rapidocr"
    assert "PP-OCRv6_det_small.onnx" in detector.model_id and "rapidocr-" in detector.model_id


def test_threads_follow_config_then_the_runs_share(monkeypatch):
    # `vidgen curate --jobs N` gives each of its N worker processes VIDGEN_THREADS = cores // N.
    monkeypatch.setenv("VIDGEN_THREADS", "3")
    assert ocr_threads(0) == 3 and ocr_threads(None) == 3
    assert ocr_threads(5) == 5  # ocr.threads, when set, wins
    monkeypatch.setenv("VIDGEN_THREADS", "")
    assert ocr_threads(0) == available_threads()
    monkeypatch.delenv("VIDGEN_THREADS")
    assert ocr_threads(0) == available_threads()


# ------------------------------------------------------------------------------- synthetic


def test_union_area_and_recognition_on_drawn_text(detector):
    frame = np.zeros((320, 568, 3), np.uint8)
    cv2.putText(frame, "HELLO", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 3.0, (255, 255, 255), 8, cv2.LINE_AA)
    polygons, scores = detector.detect(frame)
    assert polygons and all(p.dtype == np.float32 and p.shape[1] == 2 for p in polygons)
    # Polygons are in the input's pixel coordinates (the network ran at 320x576).
    pts = np.concatenate(polygons)
    assert pts[:, 0].min() >= 0 and pts[:, 0].max() <= 568 and pts[:, 1].max() <= 320
    ys, xs = np.nonzero(frame[..., 0])
    assert pts[:, 0].min() <= xs.min() + 8 and pts[:, 0].max() >= xs.max() - 8
    assert pts[:, 1].min() <= ys.min() + 8 and pts[:, 1].max() >= ys.max() - 8

    result = score_text(detector, [frame, np.zeros_like(frame)])
    assert 0.02 < result["text_area"] < 0.5
    assert result["box_count"] >= 1 and result["frames_with_text"] == 1
    assert "hello" in result["text_sample"].lower()
    assert score_text(detector, [frame], recognize=False, verify=False)["text_sample"] == ""


def test_text_mask_is_a_union_not_a_sum():
    box = np.array([[10, 10], [110, 10], [110, 60], [10, 60]], np.float32)  # 100 x 50
    once = text_mask((200, 400), [box]).sum()
    twice = text_mask((200, 400), [box, box.copy(), box + 20]).sum()
    assert abs(once - 101 * 51) <= 102  # fillPoly includes the boundary pixels
    assert once < twice < 2 * once  # the shifted copy overlaps; the duplicate adds nothing
    assert text_mask((200, 400), [box, box]).sum() == once


def test_blank_frames_and_bad_input(detector):
    blank = np.zeros((320, 568, 3), np.uint8)
    assert score_text(detector, [blank, blank + 128]) == {
        "text_area": 0.0,
        "box_count": 0,
        "frames_with_text": 0,
        "text_sample": "",
        "frames_scored": 2,
    }
    with pytest.raises(ScoringError):
        score_text(detector, [])
    with pytest.raises(ScoringError):
        detector.detect(np.zeros((320, 568), np.uint8))


# ------------------------------------------------------------------------------- real footage


@pytest.mark.media
def test_burned_in_subtitles(detector, media):
    # Every frame of this clip carries a small white subtitle line (Cyrillic) near the bottom.
    frames = first_middle_last(media / "hardsub_cuts__vsr_test2.mp4")
    result = score_text(detector, frames)
    # The bundled recogniser has no Cyrillic: verification reads the line as lookalike Latin letters on
    # two of the three frames (confidence 0.75-0.93) and drops the third; unverified, all three count.
    assert result["frames_with_text"] >= 2
    assert score_text(detector, frames, verify=False)["frames_with_text"] == 3
    assert result["box_count"] >= 1
    assert 0.002 < result["text_area"] < 0.05  # one subtitle line, not the whole picture
    polygons, scores = detector.detect(frames[0])
    kept = [p for p, s in zip(polygons, scores, strict=True) if s >= 0.5]
    assert kept and min(p[:, 1].min() for p in kept) > 0.7 * frames[0].shape[0]  # in the bottom band


@pytest.mark.media
def test_batched_detection_is_rapidocrs_own_detection(detector, media):
    """detect_many bypasses rapidocr's TextDetector call (float32 preprocessing, one batch per clip):
    the boxes must be exactly the ones rapidocr's own call finds, in its reading order, and a batch
    must give each frame what it gets alone."""
    detector = detector.fresh(memo_frames=0)  # every call runs the network: nothing remembered from the batch
    frames = first_middle_last(media / "hardsub_cuts__vsr_test2.mp4")
    frames.append(frame_at(media / "synthetic_text_timecode__moviepy_smpte-2997.mp4", 5.0))
    batched = detector.detect_many(frames)
    assert sum(len(p) for p, _ in batched) >= 4
    for frame, (polygons, scores) in zip(frames, batched, strict=True):
        alone_polys, alone_scores = detector.detect(frame)
        assert len(alone_polys) == len(polygons)
        assert all(np.abs(a - b).max() < 0.5 for a, b in zip(alone_polys, polygons, strict=True))
        assert np.allclose(alone_scores, scores, atol=1e-3)
        own = detector._det(frame)  # rapidocr's own call: same boxes (its scores are not reordered)
        assert len(own.boxes) == len(polygons)
        assert all(np.abs(np.asarray(a) - b).max() < 0.5 for a, b in zip(own.boxes, polygons, strict=True))
        assert sorted(own.scores) == pytest.approx(sorted(scores), abs=1e-3)


@pytest.mark.media
def test_title_card_scores_belong_to_their_boxes(detector, media):
    """Big Buck Bunny's title card: one large box (score ~0.9) and a speck (score ~0.4). rapidocr sorts
    boxes into reading order without their scores; paired that way the title got the speck's score,
    fell under min_box_score and the clip passed the text filter with its title on screen."""
    frame = frame_at(media / "hd_30s__moviepy_big_buck_bunny_0_30.webm", 26.5)
    polygons, scores = detector.detect(frame)
    areas = [float(text_mask(frame.shape, [p]).mean()) for p in polygons]
    title = int(np.argmax(areas))
    assert areas[title] > 0.15 and scores[title] > 0.8
    result = score_text(detector, [frame])
    assert result["text_area"] > 0.15 and "BUN" in result["text_sample"].upper()


@pytest.mark.media
def test_kinetic_typography(detector, media):
    result = score_file(detector, media / "text_kinetic__mejs_echo-hereweare.webm")
    assert result["frames_with_text"] == 3
    assert result["text_area"] > 0.1  # words fill the screen
    assert result["box_count"] >= 2
    assert result["text_sample"]


@pytest.mark.media
def test_timecode_overlay(detector, media):
    result = score_file(detector, media / "synthetic_text_timecode__moviepy_smpte-2997.mp4")
    assert result["frames_with_text"] == 3 and result["box_count"] >= 2
    assert 0.05 < result["text_area"] < 0.3
    assert "00:00:10" in result["text_sample"]  # the last frame has the largest text area


@pytest.mark.media
@pytest.mark.parametrize(
    "name",
    ["motion_yuv444__imageio_cockatoo.mp4", "dim_handheld__decord_flipping_a_pancake.mkv"],
)
def test_text_free_footage(detector, media, name):
    result = score_file(detector, media / name)
    assert result["text_area"] < NO_TEXT_EPS, result


def test_verification_drops_detections_that_do_not_read_as_text(detector):
    """The detector alone puts whole-frame boxes on the demo footage's textures; read back, they are
    not text. Real text (drawn on the same texture) survives verification."""
    from vidgen_dagster.core.ingest.demo_footage import _pan

    frames = [cv2.resize(_pan(seed, 0.0)(0), (568, 320)) for seed in range(8)]
    raw = [score_text(detector, [f], recognize=False, verify=False)["text_area"] for f in frames]
    verified = [score_text(detector, [f])["text_area"] for f in frames]
    assert max(raw) > 0.3, raw
    assert verified == [0.0] * len(frames), verified
    labelled = frames[0].copy()
    cv2.putText(labelled, "SUBSCRIBE NOW", (20, 290), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 4)
    result = score_text(detector, [labelled])
    assert 0.01 < result["text_area"] < 0.3 and "SUBSCRIBE" in result["text_sample"].upper()
    assert score_text(detector, [labelled], stop_above=0.005) == result


def test_early_exit_reads_every_box_when_the_largest_is_not_text(detector):
    """The texture's whole-frame box (what the detector finds on the bare texture: it does not read as text)
    next to a real caption's box: early exit reads the largest box first, finds no text there, and then reads
    every box in one call, as without early exit; the caption decides, exactly as in full scoring."""
    from vidgen_dagster.core.ingest.demo_footage import _pan

    texture = cv2.resize(_pan(2, 0.0)(0), (568, 320))
    boxes, _ = detector.detect(texture)
    texture_box = max(boxes, key=lambda b: text_mask(texture.shape, [b]).sum())
    assert text_mask(texture.shape, [texture_box]).mean() > 0.3
    labelled = texture.copy()
    cv2.putText(labelled, "SUBSCRIBE NOW", (20, 290), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 4)
    reads: list[int] = []

    class BothBoxes:  # the caption frame's own boxes plus the texture's box
        backend, model_id = detector.backend, detector.model_id

        def detect(self, image):
            polygons, scores = detector.detect(image)
            return [texture_box, *polygons], [0.9, *scores]

        def recognize(self, image, polygons):
            return [t for t, _ in self.recognize_scored(image, polygons)]

        def recognize_scored(self, image, polygons):
            reads.append(len(polygons))
            return detector.recognize_scored(image, polygons)

    full = score_text(BothBoxes(), [labelled])
    assert reads == [2] and full["box_count"] == 1 and "SUBSCRIBE" in full["text_sample"].upper()
    reads.clear()
    assert score_text(BothBoxes(), [labelled], stop_above=0.005) == full
    assert reads == [1, 2]


def test_onnx_provider_selection_follows_ocr_device():
    import onnxruntime as ort

    from vidgen_dagster.core.coarse.scoring.text import onnx_providers
    from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError

    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    assert onnx_providers("auto")[0] == ("CUDAExecutionProvider" if has_cuda else "CPUExecutionProvider")
    if not has_cuda:
        with pytest.raises(ModelUnavailableError, match="onnxruntime-gpu"):
            onnx_providers("cuda")
    with pytest.raises(ConfigError):
        onnx_providers("tpu")


# ------------------------------------------------------------------------------- early exit

# Windows of the shared footage (the clips a curate of ../shared/media makes there; fixed times here, so that
# scene-detection changes do not move them), first/middle/last frame each, and what the text filter must
# decide: "text" = rejected (text fills > ocr_max_area of the frame), "clean" = kept, None = near the threshold
# (burned-in subtitles, unreadable boxes): only early exit == full scoring is asserted there.
TEXT_WINDOWS = [
    ("text_kinetic__mejs_echo-hereweare.webm", 0.0, 2.267, "text"),
    ("text_kinetic__mejs_echo-hereweare.webm", 3.1, 9.5, "text"),
    ("text_kinetic__mejs_echo-hereweare.webm", 39.233, 44.567, "text"),
    ("synthetic_text_timecode__moviepy_smpte-2997.mp4", 0.0, 10.04, "text"),
    ("cuts_fades__pyscenedetect_testvideo.mp4", 1.034, 5.972, "text"),  # copyright overlay + URL
    ("cuts_fades__pyscenedetect_testvideo.mp4", 18.685, 22.756, "text"),
    ("cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4", 0.0, 3.67, "text"),  # a computer screen's menus
    ("cuts_vfr_text__pyscenedetect_goldeneye-vfr-drop3.mp4", 3.795, 8.675, "text"),
    ("hd_30s__moviepy_big_buck_bunny_0_30.webm", 15.708, 22.917, "text"),  # "the Peach open movie project"
    ("hd_30s__moviepy_big_buck_bunny_0_30.webm", 23.0, 30.0, "text"),  # the title card
    ("hd_30s__moviepy_big_buck_bunny_0_30.webm", 0.875, 5.75, None),  # boxes that do not read as text
    ("cuts_anamorphic__pyscenedetect_issue-195-aspect-ratio.mp4", 6.84, 12.0, None),  # one subtitle line
    ("cuts_anamorphic__pyscenedetect_issue-195-aspect-ratio.mp4", 19.48, 25.12, None),
    ("hardsub_cuts__vsr_test2.mp4", 0.0, 8.0, None),
    ("motion_yuv444__imageio_cockatoo.mp4", 0.0, 4.7, "clean"),
    ("motion_yuv444__imageio_cockatoo.mp4", 8.15, 14.0, "clean"),
    ("dim_handheld__decord_flipping_a_pancake.mkv", 0.0, 10.33, "clean"),
]


def frames_at(path: Path, times: list[float], short_side: int = 320) -> list[np.ndarray]:
    """The first frame at or after each of ``times`` (BGR, analysis resolution; in the order of ``times``), in
    one decode pass that converts only those frames; the last frame for times past the end."""
    info = media.probe(path)
    size = media.analysis_size(info.width, info.height, short_side, info.sample_aspect_ratio)
    order = sorted(range(len(times)), key=lambda k: times[k])
    out: list[np.ndarray | None] = [None] * len(times)
    last = None
    for _, t, frame in media.iter_frames(path, info.stream_index, info.start_time_s):
        last = frame
        while order and t >= times[order[0]]:
            out[order.pop(0)] = frame.to_ndarray(format="bgr24", width=size[0], height=size[1], interpolation="AREA")
        if not order:
            return out
    assert last is not None, path
    for k in order:
        out[k] = last.to_ndarray(format="bgr24", width=size[0], height=size[1], interpolation="AREA")
    return out


@pytest.fixture(scope="module")
def text_windows(media) -> list[tuple[str, str | None, list[np.ndarray]]]:
    by_file: dict[str, list[tuple[float, float, str | None]]] = {}
    for name, start, end, label in TEXT_WINDOWS:
        by_file.setdefault(name, []).append((start, end, label))
    out = []
    for name, windows in by_file.items():
        times = [t for start, end, _ in windows for t in (start, (start + end) / 2, max(start, end - 0.05))]
        frames = frames_at(media / name, times)
        for k, (start, end, label) in enumerate(windows):
            out.append((f"{name}@{start}-{end}", label, frames[3 * k:3 * k + 3]))
    return out


def test_score_options_stop_at_the_text_filter_only_with_early_exit():
    config = load_config()
    limit = config["thresholds"]["ocr_max_area"]
    assert config["ocr"]["early_exit"] is True
    assert score_options(config["ocr"], config["thresholds"])["stop_above"] == limit
    assert score_options({**config["ocr"], "early_exit": False}, config["thresholds"])["stop_above"] is None
    assert score_options(config["ocr"], {**config["thresholds"], "ocr_max_area": None})["stop_above"] is None


@pytest.mark.media
def test_early_exit_keeps_every_text_decision_on_the_shared_footage(detector, text_windows):
    """Early exit must decide every window of the shared text footage as full scoring does, score the kept
    ones exactly as full scoring does, and really save work on the rejected ones."""
    config = load_config()
    limit = config["thresholds"]["ocr_max_area"]
    early_opts = score_options(config["ocr"], config["thresholds"])
    full_opts = {**early_opts, "stop_above": None}
    saved = 0
    for window, label, frames in text_windows:
        full = score_text(detector, frames, **full_opts)
        early = score_text(detector, frames, **early_opts)
        assert (early["text_area"] > limit) == (full["text_area"] > limit), (window, full, early)
        if label is not None:
            assert (early["text_area"] > limit) == (label == "text"), (window, label, early)
        if full["text_area"] <= limit:
            assert early == full, window  # a kept clip is scored exactly
        else:
            assert early["frames_scored"] <= full["frames_scored"] == len(frames)
            assert early["text_sample"], window  # what rejected it was read as text
            saved += full["frames_scored"] - early["frames_scored"]
    assert saved >= 10, saved  # the first frame decides most text-heavy windows


def test_early_exit_reads_only_the_boxes_that_decide(detector):
    """One frame with a large word and many small ones: with early exit only the large box is read (the
    recogniser sees one crop), and the clip's later frames are not detected at all."""
    frame = np.zeros((320, 568, 3), np.uint8)
    cv2.putText(frame, "OPEN", (30, 150), cv2.FONT_HERSHEY_SIMPLEX, 3.0, (255, 255, 255), 8, cv2.LINE_AA)
    for k in range(6):
        cv2.putText(frame, f"note {k}", (30 + 90 * (k % 6), 260 + 30 * (k // 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (255, 255, 255), 1, cv2.LINE_AA)
    seen: dict[str, list[int]] = {"detect": [], "read": []}

    class Counting:
        backend, model_id = detector.backend, detector.model_id

        def detect(self, image):
            seen["detect"].append(1)
            return detector.detect(image)

        def recognize(self, image, polygons):
            return [t for t, _ in self.recognize_scored(image, polygons)]

        def recognize_scored(self, image, polygons):
            seen["read"].append(len(polygons))
            return detector.recognize_scored(image, polygons)

    full = score_text(Counting(), [frame, frame, frame])
    assert full["frames_scored"] == 3 and full["box_count"] >= 4 and seen["detect"] == [1, 1, 1]
    seen.update(detect=[], read=[])
    early = score_text(Counting(), [frame, frame, frame], stop_above=0.005)
    assert seen == {"detect": [1], "read": [1]}, seen
    assert early["frames_scored"] == 1 and early["box_count"] == 1 and "OPEN" in early["text_sample"]
    assert 0.005 < early["text_area"] < full["text_area"]
    # Nothing above the threshold: every frame scored, exactly as without early exit.
    blank = np.zeros_like(frame)
    assert score_text(detector, [blank, blank], stop_above=0.005) == score_text(detector, [blank, blank])


def test_text_stage_version_follows_the_text_threshold_only_with_early_exit():
    """With early exit a rejected clip's scores stop at thresholds.ocr_max_area: changing it must re-score
    text (a new code version), changing another threshold must not; with early exit off neither does."""
    import copy

    from vidgen_dagster.core.coarse.scoring.registry import BY_NAME

    stage = BY_NAME["text_scores"]
    base = load_config()

    def version(ocr=None, **thresholds):
        config = copy.deepcopy(base)
        config["ocr"].update(ocr or {})
        config["thresholds"].update(thresholds)
        return stage.version(config)

    assert version(ocr_max_area=0.5) != version() == version(motion_min=0.5)
    off = {"early_exit": False}
    assert version(off) != version() and version(off, ocr_max_area=0.5) == version(off)
    assert "frames_scored" in stage.schema.names
    rows = [{"frames_scored": 1}, {"frames_scored": 3}, {"frames_scored": None, "status": "failed"}]
    scorer = type("Scorer", (), {"options": score_options(base["ocr"], base["thresholds"])})()
    assert stage.summarize(rows, scorer) == {"frames_scored": 4, "early_exit_above": base["thresholds"]["ocr_max_area"]}


# ------------------------------------------------------------------------------- repeated frames


def counting_passes(monkeypatch, detector) -> dict[str, int]:
    """Count the frames (det) and crops (rec) that really go through each network; the sessions are shared
    by every detector of the process, and the counting is undone after the test."""
    counts = {"det": 0, "rec": 0}
    recognizer = detector._load_recognizer()
    det_session, rec_session = detector._det.session, recognizer.session

    def det(batch):
        counts["det"] += len(batch)
        return det_session(batch)

    def rec(batch):
        counts["rec"] += len(batch)
        return rec_session(batch)

    monkeypatch.setattr(detector._det, "session", det)
    monkeypatch.setattr(recognizer, "session", rec)
    return counts


@pytest.mark.media
def test_repeated_frames_run_the_networks_once(detector, media, monkeypatch):
    """The fades test video shows the same card in several shots: its decoded frames repeat pixel for pixel,
    within a clip and across clips. A repeated frame is neither detected nor read again, and scores exactly
    as the networks score it; a new detector (a new run) remembers nothing."""
    fades = frames_at(media / "synthetic_fades__pyscenedetect_fades.mp4", [3.84, 5.02, 6.15, 8.34])
    assert np.array_equal(fades[0], fades[2]) and np.array_equal(fades[1], fades[3])
    assert not np.array_equal(fades[0], fades[1])
    timecode = frame_at(media / "synthetic_text_timecode__moviepy_smpte-2997.mp4", 5.0)
    config = load_config()
    early = score_options(config["ocr"], config["thresholds"])
    full = {**early, "stop_above": None}
    # two clips of the fades video (early exit, as the stage scores), then a clip whose two frames are the same
    # timecode frame, scored in full: one batch, every box read
    runs = [(fades[:3], early), (fades[3:], early), ([timecode, timecode.copy()], full)]
    boxes = sum(s >= full["min_box_score"] for s in detector.fresh(memo_frames=0).detect(timecode)[1])
    assert boxes >= 2

    counts = counting_passes(monkeypatch, detector)
    plain = detector.fresh(memo_frames=0)
    expected = [score_text(plain, frames, **opts) for frames, opts in runs]
    assert counts["det"] == 6 and counts["rec"] >= 2 * boxes
    assert expected[2]["box_count"] == boxes and "00:00:05" in expected[2]["text_sample"]
    plain_reads = counts["rec"]

    counts.update(det=0, rec=0)
    remembering = detector.fresh()
    assert [score_text(remembering, frames, **opts) for frames, opts in runs] == expected
    # 2 distinct fades frames of 4 and 1 timecode frame of 2; the copy's boxes were read with the first
    assert counts["det"] == 3 and counts["rec"] <= plain_reads - boxes, (counts, plain_reads)
    assert remembering.memo.hits >= 3
    # the text_scores step reports the reuse in its summary (asset metadata)
    from vidgen_dagster.core.coarse.scoring.registry import BY_NAME

    scorer = type("Scorer", (), {"options": early, "detector": remembering})()
    summary = BY_NAME["text_scores"].summarize([{"frames_scored": 6}], scorer)
    assert summary["repeated_frame_results_reused"] == remembering.memo.hits

    counts.update(det=0, rec=0)
    assert score_text(detector.fresh(), fades[:1], **early) == score_text(plain, fades[:1], **early)
    assert counts["det"] == 2  # the new detector's memo was empty: the frame went through the network


def test_frame_memo_is_a_bounded_lru():
    from vidgen_dagster.core.coarse.scoring.text_rapidocr import FrameMemo

    a, b, c = (np.full((32, 48, 3), v, np.uint8) for v in (0, 1, 2))
    keys = [FrameMemo.frame_key(x) for x in (a, b, c)]
    assert len(set(keys)) == 3 and FrameMemo.frame_key(a.copy()) == keys[0]
    assert FrameMemo.frame_key(np.zeros((48, 32, 3), np.uint8)) != keys[0]  # same bytes, other shape
    memo = FrameMemo(2)
    memo.put(keys[0], "a")
    memo.put(keys[1], "b")
    assert memo.get(keys[0]) == "a"  # a is now the most recent
    memo.put(keys[2], "c")  # evicts b, the least recent
    assert memo.get(keys[1]) is None and memo.get(keys[0]) == "a" and memo.get(keys[2]) == "c"
    assert memo.hits == 3
    off = FrameMemo(0)
    off.put(keys[0], "a")
    assert off.get(keys[0]) is None


def test_detectors_share_sessions_not_memos():
    """build_text_detector loads the ONNX sessions once per process and settings (a worker runs many shards);
    each call gets its own, empty memo."""
    first, second = build_text_detector(OCR_CFG), build_text_detector(OCR_CFG)
    assert first is not second and first._det is second._det and first._rec is second._rec
    assert first.memo is not second.memo and first.memo.size > 0
    other_threads = build_text_detector({**OCR_CFG, "threads": first._threads + 1})
    assert other_threads._det is not first._det
    frame = np.zeros((64, 96, 3), np.uint8)
    first.detect(frame)
    second.detect(frame)
    assert first.memo.hits == 0 and second.memo.hits == 0
    first.detect(frame.copy())
    assert first.memo.hits == 1
