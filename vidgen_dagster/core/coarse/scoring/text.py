"""OCR text scoring: how much of a clip's frames is covered by text (VidGen-1M drops text-heavy clips).

Two backends share the :class:`TextDetector` protocol:

* ``rapidocr`` (default): PaddleOCR's PP-OCR detection/recognition networks as ONNX, run by
  onnxruntime. The models ship inside the ``rapidocr`` wheel, so it works offline; it is wired
  here from rapidocr's building blocks (not its ``RapidOCR`` pipeline) so that nothing can
  trigger a model download, the classifier is never loaded and threads are set explicitly.
* ``paddleocr``: PaddleOCR 3.x proper (``pip install 'vidgen-dagster[paddle]'``), models fetched
  beforehand on a networked machine (:mod:`.text_paddle`, imported only for that backend).

:func:`score_text` turns detections on a few frames into the clip's ``text_*`` columns.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ...common.errors import ConfigError, ModelUnavailableError, ScoringError
from .settings import OcrSettings

BACKENDS = ("rapidocr", "paddleocr", "none")

# Bundled rapidocr model files (rapidocr >= 3.10 ships PP-OCRv6 small det/rec in the wheel).
_RAPIDOCR_DET_MODEL = "PP-OCRv6_det_small.onnx"
_RAPIDOCR_REC_MODEL = "PP-OCRv6_rec_small.onnx"

# PaddleOCR normalises detector input with the ImageNet statistics (inference.yml of the PP-OCR
# det models); rapidocr's config uses 0.5/0.5. On the shared footage ImageNet statistics give
# the same true boxes and markedly fewer large false boxes on text-free frames.
_DET_MEAN = (0.485, 0.456, 0.406)
_DET_STD = (0.229, 0.224, 0.225)
# Detection runs at the frame's own resolution (rounded to multiples of 32, as the network
# needs); only frames with a side above this are scaled down. rapidocr's default instead scales
# the SHORT side UP to 736 px: 5x the pixels of a 320 px frame, ~9x slower, and on our footage
# it adds false boxes rather than finding more text.
DET_MAX_SIDE = 960
# Boxes below this confidence are not even returned by detect(); score_text applies the
# configured ``min_box_score`` on top.
DET_BOX_FLOOR = 0.3

# How many recently seen frames a detector remembers its networks' results for (see FrameMemo).
MEMO_FRAMES = 256

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


# rapidocr detectors already loaded in this process, by (threads, recogniser loaded, providers).
_LOADED: dict[tuple, RapidOCRTextDetector] = {}
_LOADED_LOCK = threading.Lock()


def build_text_detector(cfg: OcrSettings | dict) -> TextDetector | None:
    """Load the detector named by ``cfg.backend`` (the ocr settings, or the raw ``ocr`` section) once.

    Returns None for backend ``none``. Raises :class:`ConfigError` on an unknown backend and
    :class:`ModelUnavailableError` when its package or model files are missing.
    Optional keys: ``threads`` (onnxruntime / Paddle CPU threads; default: :func:`ocr_threads`),
    ``paddleocr_model_dir`` / ``paddleocr_rec_model`` (paddleocr only).

    rapidocr's ONNX sessions are loaded once per process and settings and then shared (they are
    thread-safe): a ``curate`` worker process runs shard after shard, and each run would otherwise create
    both sessions again (~0.15 s CPU, plus the first inferences' allocations). Each call still returns a
    detector of its own, whose :class:`FrameMemo` starts empty: frames are only matched within one run.
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
        load_rec = bool(s.recognize or s.verify)  # verification reads boxes too: load it now, shared
        key = (threads, load_rec, tuple(providers))
        with _LOADED_LOCK:
            if key not in _LOADED:
                _LOADED[key] = RapidOCRTextDetector(threads=threads, load_recognizer=load_rec, providers=providers)
            return _LOADED[key].fresh()
    from .text_paddle import PaddleOCRTextDetector

    return PaddleOCRTextDetector(
        det_model=s.paddleocr_model or OcrSettings.paddleocr_model,
        rec_model=s.paddleocr_rec_model or None,
        model_dir=s.paddleocr_model_dir or None,
        threads=threads,
        load_recognizer=load_rec,
    )


# --------------------------------------------------------------------------------------------
# rapidocr
# --------------------------------------------------------------------------------------------


class FrameMemo:
    """What the networks returned for the most recently seen frames (a bounded LRU), keyed by the frame's
    pixels: shape and SHA-1 of its bytes. A frame identical to one already scored (the first and last frame
    of a still shot, a slate or colour card repeated across clips, the same frame of a re-muxed copy) then
    costs a hash (~0.3 ms at 320x568) instead of a detector pass (~60 ms) and its recogniser call (~30 ms).
    The stored results are exactly what the networks gave for those pixels, so no score can change."""

    def __init__(self, size: int = MEMO_FRAMES):
        self.size = max(0, int(size))
        self.hits = 0
        self._items: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def frame_key(image: np.ndarray) -> bytes:
        """``image`` must be C-contiguous (:func:`check_image` makes it so)."""
        return repr(image.shape).encode() + hashlib.sha1(image.data, usedforsecurity=False).digest()

    def get(self, key: bytes):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: bytes, value) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class RapidOCRTextDetector:
    """PP-OCR det (+ rec on demand) through rapidocr's ONNX building blocks.

    Input frames are BGR, which is what the PP-OCR networks were trained on (rapidocr passes
    numpy arrays through unchanged and converts only PIL/file inputs to BGR).
    """

    backend = "rapidocr"

    def __init__(self, threads: int | None = None, load_recognizer: bool = True,
                 providers: list[str] | None = None, memo_frames: int = MEMO_FRAMES):
        try:
            import onnxruntime as ort
            import rapidocr
            from omegaconf import flag_override
            from rapidocr.ch_ppocr_det import TextDetector as _RapidDet
            from rapidocr.main import DEFAULT_CFG_PATH
            from rapidocr.utils.parse_parameters import ParseParams
        except ImportError as exc:
            raise ModelUnavailableError(
                f"rapidocr backend needs the rapidocr and onnxruntime packages ({exc}): "
                "pip install 'rapidocr>=3.10' onnxruntime"
            ) from exc

        # rapidocr logs every model load at INFO on its own handler; keep shard logs clean.
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        self._ort = ort
        self._flag_override = flag_override
        self._threads = max(1, int(threads or available_threads()))
        self._providers = list(providers or ["CPUExecutionProvider"])
        self._model_dir = Path(rapidocr.__file__).resolve().parent / "models"
        version = getattr(rapidocr, "__version__", None) or _dist_version("rapidocr")
        self.model_id = f"{_RAPIDOCR_DET_MODEL}+{_RAPIDOCR_REC_MODEL}@rapidocr-{version}"

        # rapidocr's own config (enums already parsed); we only override what we need.
        self._cfg = ParseParams.load(DEFAULT_CFG_PATH)
        det_cfg = self._section("Det", _RAPIDOCR_DET_MODEL)
        det_cfg.limit_type = "max"
        det_cfg.limit_side_len = DET_MAX_SIDE
        det_cfg.mean = list(_DET_MEAN)
        det_cfg.std = list(_DET_STD)
        det_cfg.box_thresh = DET_BOX_FLOOR
        self._det_scale = (1.0 / (255.0 * np.asarray(_DET_STD, np.float64))).astype(np.float32)
        self._det_shift = (np.asarray(_DET_MEAN, np.float64) / np.asarray(_DET_STD, np.float64)).astype(np.float32)
        try:
            self._det = _RapidDet(det_cfg)
        except Exception as exc:  # onnxruntime load failure: corrupt file, unsupported opset
            raise ModelUnavailableError(
                f"rapidocr detector {_RAPIDOCR_DET_MODEL} failed to load: {exc}"
            ) from exc

        self._rec = None
        self._rec_lock = threading.Lock()
        if load_recognizer:
            self._load_recognizer()
        # Detections and readings of recently seen frames (0 frames: always run the networks).
        self.memo = FrameMemo(memo_frames)

    def fresh(self, memo_frames: int = MEMO_FRAMES) -> RapidOCRTextDetector:
        """A detector sharing this one's ONNX sessions and settings, with an empty memo of ``memo_frames``."""
        twin = copy.copy(self)
        twin.memo = FrameMemo(memo_frames)
        return twin

    def _model_path(self, name: str) -> Path:
        path = self._model_dir / name
        if not path.is_file():
            raise ModelUnavailableError(
                f"rapidocr model {name} is missing from {self._model_dir} (it ships in the rapidocr wheel; "
                "reinstall it: pip install --force-reinstall 'rapidocr>=3.10'). Refusing to download it."
            )
        return path

    def _session(self, path: Path):
        opts = self._ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One intra-op pool sized to the cores we may use; ORT's default counts the host's
        # physical cores, which oversubscribes a container limited to fewer (2x slower here).
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: between the network's operators and between
        # frames a spinning pool burns the cores that parallel runs and decoder threads need
        # (measured under load on 2 cores: 2 spinning threads 3x slower than 1 thread; not spinning, 1.4x faster).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        return self._ort.InferenceSession(str(path), sess_options=opts, providers=self._providers)

    def _section(self, name: str, model_file: str):
        """A rapidocr Det/Rec config section bound to our own ONNX session for ``model_file``.

        With a ready ``session`` rapidocr's OrtInferSession never resolves or downloads a model.
        """
        section = self._cfg[name].copy()
        section.engine_cfg = self._cfg.EngineConfig.onnxruntime
        path = self._model_path(model_file)
        section.model_path = str(path)
        try:
            session = self._session(path)
        except Exception as exc:
            raise ModelUnavailableError(f"rapidocr model {model_file} failed to load: {exc}") from exc
        with self._flag_override(section, "allow_objects", True):
            section.session = session
        return section

    def _load_recognizer(self):
        if self._rec is not None:
            return self._rec
        with self._rec_lock:
            if self._rec is None:
                from rapidocr.ch_ppocr_rec import TextRecognizer as _RapidRec

                rec_cfg = self._section("Rec", _RAPIDOCR_REC_MODEL)
                rec_cfg.font_path = None
                rec_cfg.model_root_dir = str(self._model_dir)
                # The character table is embedded in the ONNX metadata; without it rapidocr
                # would download a dictionary file, which we never allow.
                meta = rec_cfg.session.get_modelmeta().custom_metadata_map
                if "character" not in meta:
                    raise ModelUnavailableError(
                        f"rapidocr recogniser {_RAPIDOCR_REC_MODEL} carries no character table; "
                        "reinstall rapidocr (pip install --force-reinstall 'rapidocr>=3.10')"
                    )
                try:
                    self._rec = _RapidRec(rec_cfg)
                except Exception as exc:
                    raise ModelUnavailableError(f"rapidocr recogniser failed to load: {exc}") from exc
        return self._rec

    def detect(self, image_bgr: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        return self.detect_many([image_bgr])[0]

    def detect_many(self, images: list[np.ndarray]) -> list[tuple[list[np.ndarray], list[float]]]:
        """:meth:`detect` for several frames; frames of one size go through the network as one batch.

        rapidocr's ``TextDetector.__call__`` is bypassed for two reasons: its preprocessing normalises
        in float64 (a sixth of the detector's time at 320 px), and it sorts the boxes into reading order
        without reordering their scores, so score i belonged to another box whenever the sort moved one
        (our ``min_box_score`` filter then dropped or kept the wrong boxes). The resize, normalisation
        and DB post-processing are rapidocr's own settings; boxes and scores are sorted together.
        A frame identical to one seen recently (:class:`FrameMemo`) gets that frame's detections
        without a network pass, and so does a repeat of a frame within ``images``.
        """
        checked = [check_image(im) for im in images]
        use_memo = self.memo.size > 0
        keys = [FrameMemo.frame_key(im) if use_memo else b"" for im in checked]
        out: list[tuple[list[np.ndarray], list[float]]] = [([], []) for _ in checked]
        by_shape: dict[tuple[int, int], list[int]] = {}
        repeats: dict[bytes, list[int]] = {}
        for i, im in enumerate(checked):
            if use_memo:
                known = self.memo.get(b"det" + keys[i])
                if known is not None:
                    out[i] = (list(known[0]), list(known[1]))
                    continue
                if keys[i] in repeats:  # the same pixels earlier in this call: detected once
                    repeats[keys[i]].append(i)
                    continue
                repeats[keys[i]] = [i]
            by_shape.setdefault(im.shape[:2], []).append(i)
        self._detect_batches(checked, by_shape, out)
        if use_memo:
            for first, same in repeats.items():
                polygons, scores = out[same[0]]
                self.memo.put(b"det" + first, (tuple(polygons), tuple(scores)))
                for i in same[1:]:
                    out[i] = (list(polygons), list(scores))
        return out

    def _detect_batches(self, checked: list[np.ndarray], by_shape: dict[tuple[int, int], list[int]],
                        out: list[tuple[list[np.ndarray], list[float]]]) -> None:
        """Run the network on the frames ``by_shape`` names (one batch per frame size) into ``out``."""
        for (h, w), idx in by_shape.items():
            size = _det_input_size(h, w)
            if size is None:  # smaller than half the network's 32 px stride: nothing to find
                continue
            batch = np.empty((len(idx), 3, size[1], size[0]), np.float32)
            for j, i in enumerate(idx):
                self._det_input(checked[i], size, out=batch[j])
            try:
                maps = self._det.session(batch)
            except Exception as exc:
                raise ScoringError(f"text detection failed: {exc}") from exc
            for j, i in enumerate(idx):
                # rapidocr maps boxes back from the network's resized input to the frame.
                boxes, scores = self._det.postprocess_op(maps[j:j + 1], (h, w))
                if len(boxes) == 0:
                    continue
                order = _reading_order(np.asarray(boxes))
                out[i] = ([np.asarray(boxes[k], dtype=np.float32).reshape(-1, 2) for k in order],
                          [float(scores[k]) for k in order])

    def _det_input(self, image: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
        """CHW float32 network input (into ``out`` when given): resized as rapidocr does (cv2 bilinear to
        ``size``), then ``(x / 255 - mean) / std`` per channel folded into one multiply-add in float32.
        Each uint8 plane is scaled straight into its float32 output plane: no float HWC image and no
        transposing copy (5x cheaper than converting the HWC image and stacking its transpose; same bits)."""
        x = cv2.resize(image, size)
        if out is None:
            out = np.empty((3, size[1], size[0]), np.float32)
        for c, plane in enumerate(cv2.split(x)):
            np.multiply(plane, self._det_scale[c], out=out[c], dtype=np.float32)
            out[c] -= self._det_shift[c]
        return out

    def recognize(self, image_bgr: np.ndarray, polygons: list[np.ndarray]) -> list[str]:
        return [t for t, _ in self.recognize_scored(image_bgr, polygons)]

    def recognize_scored(self, image_bgr: np.ndarray, polygons: list[np.ndarray]) -> list[tuple[str, float]]:
        """Recognised text and the recogniser's confidence for each polygon (one recogniser call; the
        same polygons on a frame identical to one read recently are not read again: :class:`FrameMemo`)."""
        if not polygons:
            return []
        image = check_image(image_bgr)
        key = b""
        if self.memo.size > 0:
            # The call's whole polygon list is the key: a crop's reading depends on the crops it is read with.
            key = b"rec" + FrameMemo.frame_key(image) + b"".join(
                np.int32(len(p)).tobytes() + np.ascontiguousarray(p, np.float32).tobytes() for p in polygons)
            known = self.memo.get(key)
            if known is not None:
                return list(known)
        read = self._read_crops(image, polygons)
        if key:
            self.memo.put(key, tuple(read))
        return read

    def _read_crops(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[tuple[str, float]]:
        from rapidocr.ch_ppocr_rec import TextRecInput

        crops = [crop_polygon(image, p) for p in polygons]
        try:
            out = self._load_recognizer()(TextRecInput(img=crops))
        except ModelUnavailableError:
            raise
        except Exception as exc:
            raise ScoringError(f"text recognition failed: {exc}") from exc
        scores = list(out.scores) if out.scores is not None else [1.0] * len(crops)
        return [(str(t).strip(), float(sc)) for t, sc in zip(out.txts, scores, strict=True)]


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


def _det_input_size(h: int, w: int) -> tuple[int, int] | None:
    """(width, height) of the detector input for an ``h`` x ``w`` frame: rapidocr's rule for
    ``limit_type: max`` (scale down only when a side exceeds the limit), each side rounded to a
    multiple of 32; None when a side rounds to 0."""
    ratio = min(1.0, DET_MAX_SIDE / max(h, w))
    rh, rw = int(round(int(h * ratio) / 32) * 32), int(round(int(w * ratio) / 32) * 32)
    return (rw, rh) if rh > 0 and rw > 0 else None


def _reading_order(boxes: np.ndarray, line_gap: float = 10.0) -> np.ndarray:
    """Indices of (n, 4, 2) boxes in rapidocr's reading order: by top-left y, boxes whose y differs
    from the previous one by less than ``line_gap`` px form one line, lines left to right."""
    y = boxes[:, 0, 1]
    by_y = np.argsort(y, kind="stable")
    line = np.concatenate([[0], np.cumsum(np.diff(y[by_y]) >= line_gap)])
    return by_y[np.lexsort((boxes[by_y, 0, 0], line))]


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


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
