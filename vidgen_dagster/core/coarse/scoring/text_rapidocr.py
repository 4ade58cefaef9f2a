"""The ``rapidocr`` OCR backend: PaddleOCR's PP-OCR detection/recognition networks as ONNX, run by onnxruntime.

The models ship inside the ``rapidocr`` wheel, so it works offline. It is wired here from rapidocr's building blocks
(not its ``RapidOCR`` pipeline) so that nothing can trigger a model download, the classifier is never loaded and
threads are set explicitly. :func:`load` shares the ONNX sessions within a process; :class:`FrameMemo` lets a run
score a repeated frame once. Built through :func:`.text.build_text_detector`.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from ...common.errors import ModelUnavailableError, ScoringError
from .text import DET_BOX_FLOOR, DET_MAX_SIDE, available_threads, check_image, crop_polygon

# Bundled rapidocr model files (rapidocr >= 3.10 ships PP-OCRv6 small det/rec in the wheel).
_RAPIDOCR_DET_MODEL = "PP-OCRv6_det_small.onnx"
_RAPIDOCR_REC_MODEL = "PP-OCRv6_rec_small.onnx"

# PaddleOCR normalises detector input with the ImageNet statistics (inference.yml of the PP-OCR
# det models); rapidocr's config uses 0.5/0.5. On the shared footage ImageNet statistics give
# the same true boxes and markedly fewer large false boxes on text-free frames.
_DET_MEAN = (0.485, 0.456, 0.406)
_DET_STD = (0.229, 0.224, 0.225)

# How many recently seen frames a detector remembers its networks' results for (see FrameMemo).
MEMO_FRAMES = 256

# rapidocr detectors already loaded in this process, by (threads, recogniser loaded, providers).
_LOADED: dict[tuple, RapidOCRTextDetector] = {}
_LOADED_LOCK = threading.Lock()


def load(threads: int, load_recognizer: bool, providers: list[str]) -> RapidOCRTextDetector:
    """A detector for these settings. rapidocr's ONNX sessions are loaded once per process and settings and then
    shared (they are thread-safe): a ``curate`` worker process runs shard after shard, and each run would otherwise
    create both sessions again (~0.15 s CPU, plus the first inferences' allocations). Each call still returns a
    detector of its own, whose :class:`FrameMemo` starts empty: frames are only matched within one run."""
    key = (threads, load_recognizer, tuple(providers))
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = RapidOCRTextDetector(threads=threads, load_recognizer=load_recognizer, providers=providers)
        return _LOADED[key].fresh()


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


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
