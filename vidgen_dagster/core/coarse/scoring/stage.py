"""The shape of a per-clip scoring stage (the registry of stages is :mod:`.registry`).

A stage (in the spirit of NeMo Curator's stages and Dagster's resources) declares everything the rest of
the pipeline needs to know about it:

* ``sections``: the configuration sections it reads; its typed settings are built from them in ``setup``;
* ``setup(config, inputs)``: load the model once per run, return a scorer whose ``process(batch)`` scores a
  batch of clips (their stored frames: no scorer opens a video);
* ``schema``: its output table (one row per clip; ``status``/``error``/``config_hash`` always present);
* ``filters``: the thresholds it feeds (column, direction, ``thresholds.<key>``), applied by coarse selection;
* ``figures`` and ``exports``: its distributions in the dataset report and its columns in the export;
* ``model_status(config)``: what ``vidgen models check`` prints for it;
* ``version(config)``: the one hash (its sections, the frames section it reads, its extra inputs) that is both
  its Dagster code version and its rows' ``config_hash``. Which model will run is not part of it: that is the
  data version of the step's model source asset (``<step>_model``), read when the code runs, never at load.

:data:`.registry.STAGES` lists the stages; everything generated from it reads their declarations.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ...common.config import section_hash
from ...common.errors import ModelUnavailableError

STR, F64 = pa.string(), pa.float64()
# Every score table has these: one row per clip; status ok | partial (some scores unavailable, `error` says
# why) | unavailable (backend off or model absent) | failed (this clip; `error` says why).
COMMON_COLUMNS = ("clip_id", "shard", "status", "error", "config_hash")
STAGE_CODE_REVISION = "2"  # bump when a stage's code changes its output for the same inputs


@dataclass(frozen=True)
class Filter:
    """``thresholds.<key>`` rejects a clip whose ``column`` is below (``min``) / above (``max``) it;
    the rejection reason starts with ``label``."""
    key: str
    column: str
    kind: str  # min | max
    label: str
    lo: float | None = None  # the range a configured threshold must lie in (validated before anything runs)
    hi: float | None = None


@dataclass(frozen=True)
class Figure:
    """A distribution in the dataset report (``fig_<name>.png``)."""
    name: str
    column: str
    title: str
    xlabel: str
    skewed: bool = False  # log x axis: values span decades


@dataclass(frozen=True)
class ExportColumn:
    """A field of the exported record: ``name`` (type, meaning) from the stage table's ``column``;
    ``opensora`` names the Open-Sora CSV column with the same meaning, if there is one."""
    name: str
    column: str
    type: pa.DataType
    meaning: str
    opensora: str | None = None


@dataclass
class ModelStatus:
    step: str  # a stage's config section, or captions | judge | aesthetic
    backend: str  # what will run
    model_id: str
    revision: str
    present: bool
    where: str  # path it loads from, or why it is not there
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Resources:
    """What one run of the stage asks a cluster for (Kubernetes requests/limits; ``gpu`` also puts it in
    the ``gpu`` concurrency pool)."""
    cpu: str = "2"
    memory: str = "4Gi"
    gpu: bool = False


@dataclass
class StageInputs:
    """What ``setup`` may read besides the configuration: the store and the shard being scored."""
    store: Any
    shard: str


@dataclass
class StageBatch:
    """A batch of clips to score: :class:`~vidgen_dagster.core.coarse.ClipFrames` (images on demand)."""
    clips: list = field(default_factory=list)


class Scorer(Protocol):
    label: str | None        # what ran, for the run summary (None: nothing ran)
    unavailable: str | None  # why the model is not there (rows say so); None when it loaded
    batch_size: int

    def process(self, batch: StageBatch) -> list[dict]:
        """One dict of column values per clip of the batch, in order (may set ``status``/``error``)."""
        ...


def clip_failed(exc: BaseException) -> dict:
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


class ClipByClipScorer:
    """A weight-free scorer that scores each clip on its own: ``score(clip) -> columns``. One clip's failure
    is recorded as that clip's row; the batch goes on."""

    backend = ""
    model_id = ""
    unavailable = None
    batch_size = 64

    def __init__(self, settings: Any):
        self.settings = settings

    def score(self, clip: Any) -> dict:
        raise NotImplementedError

    def process(self, batch: Any) -> list[dict]:
        out = []
        for clip in batch.clips:
            try:
                out.append({"backend": self.backend, "model_id": self.model_id, **self.score(clip)})
            except Exception as exc:  # noqa: BLE001 - recorded per clip
                out.append(clip_failed(exc))
        return out


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


class Unavailable:
    """The scorer of a stage whose backend is off or whose model is absent: every clip says why."""

    label = None
    batch_size = 1024

    def __init__(self, why: str):
        self.unavailable = why

    def process(self, batch: StageBatch) -> list[dict]:
        return [{"status": "unavailable", "error": self.unavailable} for _ in batch.clips]


def build_or_unavailable(builder, cfg: dict, section: str):
    """``(backend, None)``, or ``(None, why)`` when the section's backend is ``none`` or its model is
    unavailable (the stage then records every clip as unavailable with that reason)."""
    try:
        backend = builder(cfg)
    except ModelUnavailableError as exc:
        return None, exc.record()
    return backend, None if backend is not None else f"{section}.backend is none"


class ClipStage:
    """The shape of a per-clip scoring stage; subclasses set the class attributes and ``setup``."""

    name: str = ""                      # its asset and its table
    sections: tuple[str, ...] = ()      # configuration sections it reads (the first is its model step)
    description: str = ""
    columns: tuple[tuple[str, pa.DataType], ...] = ()  # its own columns (besides COMMON_COLUMNS)
    filters: tuple[Filter, ...] = ()
    figures: tuple[Figure, ...] = ()
    exports: tuple[ExportColumn, ...] = ()
    kinds: tuple[str, ...] = ()         # Dagster asset kinds (libraries it runs)
    resources: Resources = Resources()
    # "<section>.<key>" -> (kind, lo, hi): ranges of its settings, validated with the whole configuration
    settings_rules: dict[str, tuple[str, float | None, float | None]] = {}

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([("clip_id", STR), ("shard", STR), ("status", STR), ("error", STR),
                          ("model_id", STR), *self.columns, ("config_hash", STR)])

    @property
    def step(self) -> str:
        """Its name in ``vidgen models check`` (its first configuration section)."""
        return self.sections[0]

    def setup(self, config: dict, inputs: StageInputs) -> Scorer:
        raise NotImplementedError

    def model_status(self, config: dict) -> list[ModelStatus]:
        """Weight-free by default: OpenCV, always present."""
        return [ModelStatus(self.step, "opencv", f"opencv:{self.name}", package_version("opencv-python-headless"),
                            True, "built into OpenCV (no weights)")]

    def version_extra(self, config: dict) -> str:
        """Inputs besides the configuration and the weights that change its scores (e.g. a taxonomy file)."""
        return ""

    def summarize(self, rows: list[dict], scorer: Scorer) -> dict:
        """Stage-specific figures for the run summary / asset metadata."""
        return {}

    def version(self, config: dict) -> str:
        return hashlib.sha256("|".join([
            STAGE_CODE_REVISION, section_hash(config, "frames", *self.sections), self.version_extra(config),
        ]).encode()).hexdigest()[:12]


def model_fingerprint(statuses: list[ModelStatus]) -> str:
    """Short hash of what will run (backend, model, revision, where its weights are and their size): cheap,
    no model is loaded. Pulling or removing a model changes it."""
    parts = []
    for s in statuses:
        size = ""
        if s.present and s.where and Path(s.where).is_file():
            size = str(Path(s.where).stat().st_size)
        parts.append(f"{s.backend}|{s.model_id}|{s.revision}|{s.present}|{s.where if s.present else ''}|{size}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]
