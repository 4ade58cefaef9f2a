"""The ``paddleocr`` text backend: PaddleOCR 3.x proper (``pip install 'vidgen-dagster[paddle]'``), models
fetched beforehand on a networked machine. Same :class:`~.text.TextDetector` protocol as the default
``rapidocr`` backend in :mod:`.text`, which loads this module only when ``ocr.backend: paddleocr``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ...common.errors import ModelUnavailableError, ScoringError
from .text import DET_BOX_FLOOR, DET_MAX_SIDE, available_threads, check_image, crop_polygon


class PaddleOCRTextDetector:
    """PaddleOCR 3.x ``TextDetection`` / ``TextRecognition`` modules (BGR numpy input)."""

    backend = "paddleocr"

    def __init__(
        self,
        det_model: str = "PP-OCRv5_mobile_det",
        rec_model: str | None = None,
        model_dir: str | None = None,
        threads: int | None = None,
        load_recognizer: bool = True,
    ):
        try:
            import paddleocr
            from paddleocr import TextDetection
        except ImportError as exc:
            raise ModelUnavailableError(
                "paddleocr backend needs the paddleocr package: pip install 'vidgen-dagster[paddle]' "
                "(paddleocr + paddlepaddle), then fetch its models on a networked machine "
                f"(`vidgen models pull`), or set ocr.backend: rapidocr (works offline). [{exc}]"
            ) from exc
        self._det_model = det_model
        # PP-OCRv5_mobile_det -> PP-OCRv5_mobile_rec (PaddleOCR's naming scheme).
        self._rec_model = rec_model or det_model.replace("_det", "_rec")
        self._model_dir = Path(model_dir) if model_dir else None
        self._threads = max(1, int(threads or available_threads()))
        self.model_id = f"{det_model}+{self._rec_model}@paddleocr-{getattr(paddleocr, '__version__', '?')}"
        self._det = self._load(
            TextDetection, det_model, "det", limit_type="max", limit_side_len=DET_MAX_SIDE
        )
        self._rec = None
        self._rec_lock = threading.Lock()
        if load_recognizer:
            self._load_recognizer()

    def _load(self, cls, model_name: str, kind: str, **kwargs):
        if self._model_dir is not None:
            folder = self._model_dir / model_name
            if not folder.is_dir():
                raise ModelUnavailableError(
                    f"paddleocr {kind} model {model_name} not found under {self._model_dir} "
                    "(fetch it with `vidgen models pull` on a networked machine)"
                )
            kwargs["model_dir"] = str(folder)
        try:
            return cls(model_name=model_name, device="cpu", cpu_threads=self._threads, **kwargs)
        except Exception as exc:  # offline without cached weights: PaddleX download errors
            raise ModelUnavailableError(
                f"paddleocr {kind} model {model_name} could not be loaded ({type(exc).__name__}: {exc}); "
                "fetch it on a networked machine (`vidgen models pull`) or set ocr.paddleocr_model_dir"
            ) from exc

    def _load_recognizer(self):
        if self._rec is None:
            with self._rec_lock:
                if self._rec is None:
                    from paddleocr import TextRecognition

                    self._rec = self._load(TextRecognition, self._rec_model, "rec")
        return self._rec

    def detect(self, image_bgr: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        image = check_image(image_bgr)
        try:
            results = list(self._det.predict(input=image, batch_size=1))
        except Exception as exc:
            raise ScoringError(f"text detection failed: {exc}") from exc
        if not results:
            return [], []
        res = results[0]
        polys = [np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in res["dt_polys"]]
        scores = [float(s) for s in res["dt_scores"]]
        keep = [i for i, s in enumerate(scores) if s >= DET_BOX_FLOOR]
        return [polys[i] for i in keep], [scores[i] for i in keep]

    def recognize(self, image_bgr: np.ndarray, polygons: list[np.ndarray]) -> list[str]:
        if not polygons:
            return []
        image = check_image(image_bgr)
        crops = [crop_polygon(image, p) for p in polygons]
        try:
            results = list(self._load_recognizer().predict(input=crops, batch_size=len(crops)))
        except ModelUnavailableError:
            raise
        except Exception as exc:
            raise ScoringError(f"text recognition failed: {exc}") from exc
        return [str(r["rec_text"]).strip() for r in results]
