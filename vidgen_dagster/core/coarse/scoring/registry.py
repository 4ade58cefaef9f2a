"""The registry of per-clip scoring stages (their shape: :mod:`.stage`).

``core/common/schema.py`` (tables), ``core/coarse/selection.py`` (filters), ``core/coarse/stages.py`` (runner, accounting),
``core/dataset/report.py`` (figures), ``core/dataset/export_schema.py`` (export columns), ``models/registry.py``
(``models check``), ``defs/coarse.py`` (assets) and ``defs/checks.py`` (schema checks) all read
:data:`STAGES`. Adding a scorer = one module with its :class:`~.stage.ClipStage` + one line below + its
``assets/defaults.yaml`` section (and its ``thresholds.*`` key when it feeds a filter).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from .phash import PerceptualHashStage
from .similarity import FrameSimilarityStage
from .stage import ClipStage, Filter
from .stages import MotionStage, TextStage, VisualStage

# One line per stage, in the order their filters are applied and their columns exported.
STAGES: tuple[ClipStage, ...] = (
    MotionStage(),
    TextStage(),
    VisualStage(),
    FrameSimilarityStage(),
    PerceptualHashStage(),
)
BY_NAME: dict[str, ClipStage] = {s.name: s for s in STAGES}
BY_STEP: dict[str, ClipStage] = {s.step: s for s in STAGES}


def filters() -> Iterator[tuple[ClipStage, Filter]]:
    for s in STAGES:
        for f in s.filters:
            yield s, f


def tables() -> dict[str, pa.Schema]:
    return {s.name: s.schema for s in STAGES}


def config_rules() -> dict[str, tuple[str, float | None, float | None, bool]]:
    """Validation rules the stages declare: ``thresholds.<key>`` of every filter (a number in its range, or
    null to disable it) and the ranges of their settings. ``core/common/config.py`` applies them."""
    rules = {f"thresholds.{f.key}": ("number", f.lo, f.hi, True) for _, f in filters()}
    for s in STAGES:
        # (kind, lo, hi) or (kind, lo, hi, nullable): a stage's own threshold keys may be null (disabled)
        rules.update({k: (r[0], r[1], r[2], bool(r[3:] and r[3])) for k, r in s.settings_rules.items()})
    return rules
