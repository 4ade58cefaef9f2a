"""OCR text scoring: how much of a clip's frames is covered by text (VidGen-1M drops text-heavy clips).

Two backends share the :class:`TextDetector` protocol:

* ``rapidocr`` (default): PaddleOCR's PP-OCR detection/recognition networks as ONNX, run by
  onnxruntime, models bundled in its wheel (:mod:`.text_rapidocr`).
* ``paddleocr``: PaddleOCR 3.x proper (``pip install 'vidgen-dagster[paddle]'``), models fetched
  beforehand on a networked machine (:mod:`.text_paddle`, imported only for that backend).

:func:`score_text` turns detections on a few frames into the clip's ``text_*`` columns.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ...common.errors import ConfigError, ModelUnavailableError, ScoringError
from .settings import OcrSettings

BACKENDS = ("rapidocr", "paddleocr", "none")

# Detection runs at the frame's own resolution (rounded to multiples of 32, as the network
# needs); only frames with a side above this are scaled down. rapidocr's default instead scales
# the SHORT side UP to 736 px: 5x the pixels of a 320 px frame, ~9x slower, and on our footage
# it adds false boxes rather than finding more text.
DET_MAX_SIDE = 960
# Boxes below this confidence are not even returned by detect(); score_text applies the
# configured ``min_box_score`` on top.
DET_BOX_FLOOR = 0.3

TEXT_SAMPLE_CHARS = 200
TEXT_SAMPLE_SEP = " | "


@runtime_checkable
class TextDetector(Protocol):
    """A loaded text detector/recogniser, reused for a whole shard."""

    backend: str  # "rapidocr" | "paddleocr"
    model_id: str  # model files and package version: makes result rows reproducible

    def detect(self, image_bgr: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        """Text polygons ((k, 2) float32, pixel coordinates of ``image_bgr``) and their scores."""
        ...

    def recognize(self, image_bgr: np.ndarray, polygons: list[np.ndarray]) -> list[str]:
        """The text inside each polygon (one string per polygon, "" when unreadable)."""
        ...


def available_threads() -> int:
    """CPU cores this process may use (affinity / cpuset aware, unlike ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def ocr_threads(configured: object = 0) -> int:
    """Intra-op threads for one OCR session: ``ocr.threads`` when set (> 0); else ``$VIDGEN_THREADS``,
    the share of the cores ``vidgen curate --jobs N`` gives each of its N parallel runs; else every core
    this process may use. N runs that each took every core would put N threads on each core, and
    onnxruntime's thread pool runs 2-3x slower oversubscribed than with one thread per core."""
    n = int(configured or 0)
    if n > 0:
        return n
    share = os.environ.get("VIDGEN_THREADS", "").strip()
    if share.isdigit() and int(share) > 0:
        return int(share)
    return available_threads()


def onnx_providers(device: str) -> list[str]:
    """onnxruntime execution providers for ``ocr.device``: ``auto`` uses CUDA when the installed
    onnxruntime has it (``onnxruntime-gpu`` on GPU nodes: OCR is the coarse stage's largest CPU cost),
    ``cpu`` never does, ``cuda`` requires it."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    device = device.strip().lower()
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"ocr.device must be auto, cpu or cuda; got {device!r}")
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelUnavailableError("ocr.device is cuda but this onnxruntime has no CUDAExecutionProvider "
                                    "(install onnxruntime-gpu)")
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]



def build_text_detector(cfg: OcrSettings | dict) -> TextDetector | None:
    """Load the detector named by ``cfg.backend`` (the ocr settings, or the raw ``ocr`` section) once.

    Returns None for backend ``none``. Raises :class:`ConfigError` on an unknown backend and
    :class:`ModelUnavailableError` when its package or model files are missing.
    Optional keys: ``threads`` (onnxruntime / Paddle CPU threads; default: :func:`ocr_threads`),
    ``paddleocr_model_dir`` / ``paddleocr_rec_model`` (paddleocr only).

    rapidocr's sessions are shared within a process (:func:`.text_rapidocr.load`).
    """
    s = OcrSettings.of(cfg)
    backend = str(s.backend or "none").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"ocr.backend must be one of {', '.join(BACKENDS)}, got {s.backend!r}")
    if backend == "none":
        return None
    threads = ocr_threads(s.threads)
    load_rec = s.recognize
    if backend == "rapidocr":
        providers = onnx_providers(s.device or "auto")
        from . import text_rapidocr

        # verification reads boxes too: load the recogniser now, shared with later runs
        return text_rapidocr.load(threads, bool(s.recognize or s.verify), providers)
    from .text_paddle import PaddleOCRTextDetector

    return PaddleOCRTextDetector(
        det_model=s.paddleocr_model or OcrSettings.paddleocr_model,
        rec_model=s.paddleocr_rec_model or None,
        model_dir=s.paddleocr_model_dir or None,
        threads=threads,
        load_recognizer=load_rec,
    )


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


def text_mask(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    """uint8 mask (1 = text) of the UNION of ``polygons`` on an image of ``shape`` (h, w)."""
    mask = np.zeros(shape[:2], dtype=np.uint8)
    if polygons:
        # One fillPoly call per polygon: given several polygons at once, fillPoly fills them as
        # one shape with the even-odd rule, so where two boxes overlap the pixels cancel out.
        for polygon in polygons:
            pts = np.round(np.asarray(polygon, dtype=np.float32).reshape(-1, 2)).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1)
    return mask


def _readable(text: str, score: float, min_rec_score: float) -> bool:
    """A detection counts as text when the recogniser reads >= 2 letters/digits from it with at least
    ``min_rec_score`` confidence. Textures, faces and colour bars trip the detector at box scores
    as high as real subtitles, but read as nothing or as one low-confidence glyph."""
    return score >= min_rec_score and sum(ch.isalnum() for ch in text) >= 2


def score_options(cfg: OcrSettings | dict, thresholds: dict | None = None) -> dict:
    """:func:`score_text`'s keyword arguments from the ocr settings (or the raw ``ocr`` section); with
    ``ocr.early_exit`` on, ``stop_above`` is the text filter's ``thresholds.ocr_max_area`` (None when that
    filter is off)."""
    s = OcrSettings.of(cfg)
    limit = (thresholds or {}).get("ocr_max_area")
    return {"recognize": s.recognize, "min_box_score": s.min_box_score,
            "verify": s.verify, "min_rec_score": s.min_rec_score,
            "stop_above": float(limit) if s.early_exit and limit is not None else None}


def score_text(
    detector: TextDetector,
    frames: list[np.ndarray],
    recognize: bool = True,
    min_box_score: float = 0.5,
    verify: bool = True,
    min_rec_score: float = 0.5,
    stop_above: float | None = None,
) -> dict:
    """Text coverage of a clip from a few of its frames (BGR, analysis resolution).

    ``text_area``: max over frames of the fraction of the frame covered by the union of text
    boxes; ``box_count``: max boxes on one frame; ``frames_with_text``: frames with >= 1 box;
    ``text_sample``: the text recognised on the frame with the largest area (" | "-joined,
    at most 200 characters; "" without text or with ``recognize`` and ``verify`` off);
    ``frames_scored``: how many of ``frames`` were scored.
    With ``verify`` every detected box is read by the recogniser and kept only when it reads as
    text (see :func:`_readable`): one recognition pass per frame that has boxes.

    ``stop_above`` (the text filter's threshold) stops as soon as the clip's area exceeds it: the
    filter's decision is then made, so the remaining frames are not detected, and on the frame that
    decides only the largest boxes whose union could exceed it are read first (all of the frame's
    boxes when they do not read as enough text). A clip that stays at or below it is scored exactly
    as without ``stop_above``; one above it gets lower bounds (``text_area`` still > ``stop_above``,
    ``frames_scored`` < len(frames) when frames were left out).
    """
    if not frames:
        raise ScoringError("no frames to score for text")
    best_area, best_count, with_text, scored = 0.0, 0, 0, 0
    best_frame: np.ndarray | None = None
    best_polys: list[np.ndarray] = []
    best_texts: list[str] | None = None
    # Without stop_above one network call for the clip's frames where the backend batches (rapidocr;
    # batching buys nothing on CPU, where frames are detected one at a time once a clip may stop early).
    batched = stop_above is None and hasattr(detector, "detect_many")
    detections = detector.detect_many(frames) if batched else None
    for i, frame in enumerate(frames):
        polygons, scores = detections[i] if detections is not None else detector.detect(frame)
        scored += 1
        kept = [p for p, s in zip(polygons, scores, strict=True) if s >= min_box_score]
        texts = None
        if verify and kept:
            read = None
            if stop_above is not None:
                read = _read_largest_first(detector, frame, kept, stop_above, min_rec_score)
            if read is None:
                read = _read(detector, frame, kept)
            pairs = [(p, t) for p, (t, sc) in zip(kept, read, strict=True)
                     if sc is not None and _readable(t, sc, min_rec_score)]
            kept, texts = [p for p, _ in pairs], [t for _, t in pairs]
        best_count = max(best_count, len(kept))
        if not kept:
            continue
        with_text += 1
        area = float(text_mask(frame.shape, kept).mean())
        if area > best_area:
            best_area, best_frame, best_polys, best_texts = area, frame, kept, texts
        if stop_above is not None and best_area > stop_above:
            break
    sample = ""
    if best_texts is not None:
        sample = TEXT_SAMPLE_SEP.join(t for t in best_texts if t)[:TEXT_SAMPLE_CHARS]
    elif recognize and best_frame is not None:
        texts = [t for t in detector.recognize(best_frame, best_polys) if t]
        sample = TEXT_SAMPLE_SEP.join(texts)[:TEXT_SAMPLE_CHARS]
    return {
        "text_area": round(best_area, 6),
        "box_count": int(best_count),
        "frames_with_text": int(with_text),
        "text_sample": sample,
        "frames_scored": int(scored),
    }


def _read(detector: TextDetector, frame: np.ndarray, polygons: list[np.ndarray]) -> list[tuple[str, float]]:
    """Every polygon read in one recogniser call (text, confidence)."""
    if hasattr(detector, "recognize_scored"):
        return detector.recognize_scored(frame, polygons)
    return [(t, 1.0) for t in detector.recognize(frame, polygons)]


def _read_largest_first(detector: TextDetector, frame: np.ndarray, polygons: list[np.ndarray],
                        stop_above: float, min_rec_score: float) -> list[tuple[str, float | None]] | None:
    """Read only the largest of ``polygons`` whose union exceeds ``stop_above`` of the frame; when what
    they read as text still exceeds it, the clip's text decision is made: return their readings
    (confidence None for the boxes left unread, which then do not count). None when that set is every
    polygon, or when it does not read as enough text: the caller then reads them all in one call,
    exactly as without early exit (the recogniser pads a call's crops to a common width, so a box's
    reading may depend on the crops read with it)."""
    shape = frame.shape[:2]
    by_area = sorted(range(len(polygons)), key=lambda k: -float(cv2.contourArea(
        np.asarray(polygons[k], np.float32).reshape(-1, 2))))
    mask = np.zeros(shape, np.uint8)
    chosen: list[int] = []
    for k in by_area:
        chosen.append(k)
        mask |= text_mask(shape, [polygons[k]])
        if float(mask.mean()) > stop_above:
            break
    else:
        return None  # even every box together is not above it
    if len(chosen) == len(polygons):
        return None
    chosen.sort()  # in reading order, as a full call would pass them
    read = _read(detector, frame, [polygons[k] for k in chosen])
    readable = [polygons[k] for k, (t, sc) in zip(chosen, read, strict=True) if _readable(t, sc, min_rec_score)]
    if not readable or float(text_mask(shape, readable).mean()) <= stop_above:
        return None
    out: list[tuple[str, float | None]] = [("", None)] * len(polygons)
    for k, r in zip(chosen, read, strict=True):
        out[k] = r
    return out


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        shape = getattr(image, "shape", None)
        raise ScoringError(f"expected an HxWx3 BGR frame, got {type(image).__name__} {shape}")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def crop_polygon(image: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Perspective-rectified crop of one text box (the crop PP-OCR's recogniser expects)."""
    pts = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    if len(pts) != 4:  # curved-text polygons: use their minimum-area rectangle
        pts = cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3]), 1))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2]), 1))
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(
        image,
        cv2.getPerspectiveTransform(pts, dst),
        (width, height),
        borderMode=cv2.BORDER_REPLICATE,
        flags=cv2.INTER_CUBIC,
    )
    if height >= 1.5 * width:  # vertical text line: the recogniser reads left to right
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop
