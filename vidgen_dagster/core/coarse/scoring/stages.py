"""The stages of the three model-bound scorers (motion, OCR text, CLIP visual + quality).

Each class puts a scorer module (:mod:`.motion`, :mod:`.text`, :mod:`.visual` with :mod:`.quality`) in the
:class:`~.stage.ClipStage` shape: settings from its config section, the model loaded once in ``setup``,
``process`` per batch of clips, its table, filters, report figures, export columns and ``models check``
status. The scorer modules hold the maths and the model loading; this module holds only the glue, and imports
them (and PyAV, OpenCV, torch) only when a stage runs: the registry is read by every table schema.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa

from ...common.errors import ConfigError
from .settings import MotionSettings, OcrSettings, VisualSettings
from .stage import (
    ClipStage,
    ExportColumn,
    Figure,
    Filter,
    ModelStatus,
    Resources,
    StageBatch,
    StageInputs,
    Unavailable,
    build_or_unavailable,
    clip_failed,
    package_version,
)

STR, F64, I64 = pa.string(), pa.float64(), pa.int64()
_OPENCV = "opencv-python-headless"


# ---------------------------------------------------------------------------------------------- motion


class _MotionScorer:
    batch_size = 1  # RAFT batches the clip's flow pairs itself (motion.batch_size)

    def __init__(self, backend, short_side: int):
        self.backend, self.short_side = backend, short_side
        self.label = f"{backend.backend} ({backend.model_id})"
        self.unavailable = None

    def process(self, batch: StageBatch) -> list[dict]:
        from .motion import motion_stats

        out = []
        for cf in batch.clips:
            pairs = cf.pairs()
            try:
                flows = self.backend.flow([(cf.image(a), cf.image(b)) for a, b in pairs])
                stats = motion_stats(flows, [cf.time(b) - cf.time(a) for a, b in pairs])
            except Exception as exc:  # one clip's failure is recorded; the shard goes on
                out.append(clip_failed(exc))
                continue
            row = {"backend": self.backend.backend, "model_id": self.backend.model_id,
                   "motion_mean": stats.motion_mean, "motion_p95": stats.motion_p95,
                   "motion_max": stats.motion_max, "pairs": stats.pairs, "flow_short_side": self.short_side}
            if stats.pairs == 0:
                row.update(status="failed", error="clip has no flow pair (one frame)")
            out.append(row)
        return out


class MotionStage(ClipStage):
    name = "motion_scores"
    sections = ("motion",)
    description = ("Optical-flow motion per clip (RAFT, or OpenCV DIS/Farneback without weights): "
                   "mean / p95 magnitude in frame short-sides per second.")
    filters = (Filter("motion_min", "motion_mean", "min", "motion_low", lo=0),
               Filter("motion_max", "motion_mean", "max", "motion_high", lo=0))
    figures = (Figure("motion", "motion_mean", "Motion", "mean optical-flow magnitude (frame short sides per second)",
                      skewed=True),)
    exports = (ExportColumn("motion", "motion_mean", F64, "mean optical-flow magnitude, in frame short sides per second",
                            opensora="flow"),)
    kinds = ("torch", "opencv")
    resources = Resources("2", "8Gi", gpu=True)
    schema = pa.schema([
        ("clip_id", STR), ("backend", STR), ("model_id", STR), ("motion_mean", F64), ("shard", STR),
        ("status", STR), ("error", STR), ("motion_p95", F64), ("motion_max", F64), ("pairs", I64),
        ("flow_short_side", I64), ("config_hash", STR),
    ])

    def setup(self, config: dict, inputs: StageInputs):
        from .motion import build_flow_backend

        settings = MotionSettings.from_section(config["motion"])
        backend, why = build_or_unavailable(build_flow_backend, settings, "motion")
        return Unavailable(why) if backend is None else _MotionScorer(backend, settings.short_side)

    def model_status(self, config: dict) -> list[ModelStatus]:
        from .motion import raft_weights_file, resolve_raft_weights

        cfg = MotionSettings.from_section(config["motion"])
        backend = cfg.backend
        model = cfg.raft_model
        if backend in ("dis", "farneback"):
            return [ModelStatus("motion", backend, f"opencv:{backend}", package_version(_OPENCV), True,
                                "built into OpenCV (no weights)")]
        if backend == "none":
            return [ModelStatus("motion", "none", "", "", False, "motion.backend is none", "motion filter not applied")]
        path, where = resolve_raft_weights(cfg)
        if path is None and backend == "auto":
            return [ModelStatus("motion", "dis", "opencv:dis", package_version(_OPENCV), True,
                                "built into OpenCV (no weights)", f"auto: RAFT weights absent, so DIS runs ({where})")]
        return [ModelStatus("motion", "raft", f"torchvision:{model}", raft_weights_file(model), path is not None,
                            where, "" if path else "motion_scores will record the model as unavailable")]


# ---------------------------------------------------------------------------------------------- text


class _TextScorer:
    batch_size = 1  # one clip at a time: a clip's frames stop at the text filter's decision (ocr.early_exit)

    def __init__(self, detector, cfg: OcrSettings, thresholds: dict):
        from ..frames import ROLE_FIRST, ROLE_LAST, ROLE_MIDDLE
        from .text import score_options

        self.detector = detector
        self.label = f"{detector.backend} ({detector.model_id})"
        self.unavailable = None
        self.roles = list(cfg.frames or [ROLE_FIRST, ROLE_MIDDLE, ROLE_LAST])
        self.options = score_options(cfg, thresholds)

    def process(self, batch: StageBatch) -> list[dict]:
        from .text import score_text

        out = []
        for cf in batch.clips:
            try:
                s = score_text(self.detector, [cf.image(r) for r in self.roles if cf.has(r)], **self.options)
            except Exception as exc:  # one clip's failure is recorded; the shard goes on
                out.append(clip_failed(exc))
                continue
            out.append({"backend": self.detector.backend, "model_id": self.detector.model_id, **s})
        return out


class TextStage(ClipStage):
    name = "text_scores"
    sections = ("ocr",)
    description = ("PP-OCR text detection (rapidocr ONNX or PaddleOCR): fraction of the frame covered "
                   "by text, box count, a sample of the recognised text.")
    filters = (Filter("ocr_max_area", "text_area", "max", "text", lo=0, hi=1),)
    figures = (Figure("text_area", "text_area", "OCR text area",
                      "fraction of the frame covered by text (max over sampled frames)", skewed=True),)
    exports = (ExportColumn("text_area", "text_area", F64, "fraction of the frame covered by detected text (union of "
                            "boxes; max over first/middle/last frame)"),
               ExportColumn("text_boxes", "box_count", I64, "number of detected text regions (boxes)", opensora="ocr"))
    kinds = ("onnx",)
    schema = pa.schema([
        ("clip_id", STR), ("backend", STR), ("text_area", F64), ("shard", STR), ("model_id", STR),
        ("status", STR), ("error", STR), ("box_count", I64), ("frames_with_text", I64),
        ("text_sample", STR), ("frames_scored", I64), ("config_hash", STR),
    ])
    # Bump when the text scores change for the same frames and settings. 2: ocr.early_exit (a clip stops at
    # the text filter's threshold; frames_scored).
    code_revision = "2"

    def setup(self, config: dict, inputs: StageInputs):
        from .text import build_text_detector

        cfg = OcrSettings.from_section(config["ocr"])
        detector, why = build_or_unavailable(build_text_detector, cfg, "ocr")
        return Unavailable(why) if detector is None else _TextScorer(detector, cfg, config.get("thresholds") or {})

    def summarize(self, rows: list[dict], scorer) -> dict:
        """How many frames were scored (early exit leaves out the frames of clips already rejected), and how
        many network results were reused for frames repeated within the run (rapidocr's frame memo)."""
        scored = [r["frames_scored"] for r in rows if r.get("frames_scored") is not None]
        stop = getattr(scorer, "options", {}).get("stop_above")
        if not scored:
            return {}
        out = {"frames_scored": sum(scored), "early_exit_above": stop}
        memo = getattr(getattr(scorer, "detector", None), "memo", None)
        if memo is not None:
            out["repeated_frame_results_reused"] = memo.hits
        return out

    def version(self, config: dict) -> str:
        """With ``ocr.early_exit`` the scores depend on ``thresholds.ocr_max_area`` (a clip stops there), so
        changing that threshold re-scores text; with it off, only the ``ocr`` and ``frames`` sections count."""
        from .text import score_options

        stop = score_options(config["ocr"], config.get("thresholds"))["stop_above"]
        extra = f"text-revision={self.code_revision}|stop_above={stop!r}"
        return hashlib.sha256(f"{super().version(config)}|{extra}".encode()).hexdigest()[:12]

    def model_status(self, config: dict) -> list[ModelStatus]:
        cfg = OcrSettings.from_section(config["ocr"])
        backend = cfg.backend
        if backend == "none":
            return [ModelStatus("ocr", "none", "", "", False, "ocr.backend is none", "text filter not applied")]
        if backend == "rapidocr":
            version = package_version("rapidocr")
            if not version:
                return [ModelStatus("ocr", backend, "rapidocr", "", False, "rapidocr is not installed")]
            from . import text

            path, where = text.resolve_rapidocr_det() if hasattr(text, "resolve_rapidocr_det") else (None, "")
            return [ModelStatus("ocr", backend, "PP-OCR det (ONNX, rapidocr)", version, bool(path) or not where,
                                where or "bundled in the rapidocr wheel")]
        if backend == "paddleocr":
            version = package_version("paddleocr")
            model = cfg.paddleocr_model
            if not version:
                return [ModelStatus("ocr", backend, model, "", False,
                                    "paddleocr is not installed (pip install 'vidgen-dagster[paddle]')")]
            home = Path(os.environ.get("PADDLE_PDX_CACHE_HOME", Path.home() / ".paddlex")) / "official_models" / model
            return [ModelStatus("ocr", backend, model, version, home.is_dir(), str(home) if home.is_dir() else
                                f"{home} not found; `vidgen models pull` lets PaddleOCR fetch it")]
        raise ConfigError(f"ocr.backend must be rapidocr, paddleocr or none; got {backend!r}")


# ---------------------------------------------------------------------------------------------- visual


class _VisualScorer:
    """CLIP tags when the model is available; the weight-free quality measures always."""

    def __init__(self, clip, unavailable: str | None, settings: VisualSettings, config: dict, inputs: StageInputs):
        from .quality import QualitySettings

        self.clip, self.unavailable = clip, unavailable
        self.label = clip.model_id if clip is not None else None
        self.batch_size = max(1, settings.batch_size)
        self.quality = QualitySettings.from_dict(config["quality"])
        self.spans = {c["clip_id"]: c for c in inputs.store.rows("clips", inputs.shard)}
        self.per_frame = {r["video_id"]: r for r in inputs.store.rows("scene_runs", inputs.shard) if r["status"] == "ok"}

    def process(self, batch: StageBatch) -> list[dict]:
        from ..frames import ROLE_FIRST, ROLE_LAST, ROLE_MIDDLE
        from .quality import frame_quality, span_quality

        out, triples = [], []
        for cf in batch.clips:
            triple = (cf.image(ROLE_FIRST), cf.image(ROLE_MIDDLE), cf.image(ROLE_LAST))
            span = self.spans[cf.clip_id]
            run = self.per_frame[span["video_id"]]
            row = frame_quality(list(triple))
            row.update(span_quality(run["brightness"], run.get("frame_delta"), span["start_frame"],
                                    span["end_frame"], self.quality))
            if self.clip is None:
                row.update(status="partial", error=f"CLIP scores not computed: {self.unavailable}")
            out.append(row)
            triples.append(triple)
        if self.clip is None:
            return out
        try:
            scores = self.clip.score_clips(triples)
        except Exception as exc:  # the batch's clips are failed (their quality measures kept); the shard goes on
            return [{**row, **clip_failed(exc)} for row in out]
        aesthetic_off = getattr(self.clip, "aesthetic_unavailable", None)
        for row, sc in zip(out, scores, strict=True):
            row.update(model_id=self.clip.model_id, head_id=getattr(self.clip, "head_id", None),
                       aesthetic=sc.get("aesthetic"), consistency=sc.get("consistency"), category=sc.get("category"),
                       category_score=sc.get("category_score"), category_top3=json.dumps(sc.get("category_top3")),
                       embedding=sc.get("embedding"))
            if sc.get("aesthetic") is None and aesthetic_off:
                row.update(status="partial", error=f"aesthetic: {aesthetic_off}")
        return out


class VisualStage(ClipStage):
    name = "visual_scores"
    sections = ("visual", "quality")
    description = ("CLIP tags (LAION aesthetic, first/last temporal consistency, category, embedding) "
                   "and weight-free quality (sharpness, exposure, black and frozen frames).")
    filters = (Filter("aesthetic_min", "aesthetic", "min", "aesthetic_low", lo=0, hi=10),
               Filter("consistency_min", "consistency", "min", "inconsistent", lo=-1, hi=1),
               Filter("sharpness_min", "sharpness", "min", "blurry", lo=0),
               Filter("black_max", "black_fraction", "max", "black_frames", lo=0, hi=1),
               Filter("frozen_max", "frozen_fraction", "max", "frozen_frames", lo=0, hi=1))
    figures = (Figure("aesthetic", "aesthetic", "LAION aesthetic score", "aesthetic score (1-10)"),
               Figure("consistency", "consistency", "Temporal consistency",
                      "CLIP cosine similarity (first vs last frame)"))
    exports = (ExportColumn("aesthetic", "aesthetic", F64, "LAION aesthetic score (CLIP ViT-L/14 embedding + MLP "
                            "head), about 1-10", opensora="aes"),
               ExportColumn("consistency", "consistency", F64, "temporal consistency: cosine of the CLIP embeddings "
                            "of first and last frame"))
    kinds = ("transformers", "torch")
    resources = Resources("2", "12Gi", gpu=True)
    schema = pa.schema([
        ("clip_id", STR), ("model_id", STR), ("aesthetic", F64), ("consistency", F64), ("category", STR),
        ("category_score", F64), ("shard", STR), ("status", STR), ("error", STR), ("head_id", STR),
        ("category_top3", STR),  # JSON [[name, score], ...]
        ("embedding", pa.list_(pa.float32())),  # L2-normalised mean CLIP embedding of first/middle/last
        ("sharpness", F64), ("luma_mean", F64), ("underexposed", F64), ("overexposed", F64),
        ("black_fraction", F64), ("frozen_fraction", F64), ("config_hash", STR),
    ])

    def setup(self, config: dict, inputs: StageInputs):
        from .visual import build_visual_scorer

        settings = VisualSettings.from_section(config["visual"])
        clip, why = build_or_unavailable(build_visual_scorer, settings, "visual")
        return _VisualScorer(clip, why, settings, config, inputs)

    def model_status(self, config: dict) -> list[ModelStatus]:
        from . import visual

        cfg = VisualSettings.from_section(config["visual"])
        if cfg.backend == "none":
            return [ModelStatus("visual", "none", "", "", False, "visual.backend is none",
                                "aesthetic, consistency and category filters not applied")]
        model = cfg.clip_model or visual.DEFAULT_CLIP
        revision = cfg.clip_revision or (visual.CLIP_REVISION if model == visual.DEFAULT_CLIP else "")
        path, where = visual.resolve_clip(cfg)
        head, _ = visual.aesthetic_head_path(cfg)
        return [
            ModelStatus("visual", "transformers", model, revision, path is not None, where,
                        "" if path else "CLIP scores will be recorded as unavailable"),
            ModelStatus("aesthetic", "laion-mlp", visual.AESTHETIC_HEAD_FILE, "", head.is_file(),
                        str(head) if head.is_file() else f"{head} not found",
                        "" if head.is_file() else "aesthetic filter not applied"),
        ]

    def version_extra(self, config: dict) -> str:
        from .visual import load_taxonomy

        categories = VisualSettings.from_section(config["visual"]).categories or VisualSettings.categories
        return load_taxonomy(categories).hash  # edits change categories

    def summarize(self, rows: list[dict], scorer) -> dict:
        out: dict = {}
        aesthetic_off = getattr(getattr(scorer, "clip", None), "aesthetic_unavailable", None)
        if aesthetic_off:
            out["aesthetic"] = f"not computed: {aesthetic_off}"
        cats = Counter(r.get("category") for r in rows if r.get("category"))
        out.update({f"category_{k}": n for k, n in cats.most_common(8)})
        return out
