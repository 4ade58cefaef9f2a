"""Typed settings of the three model-bound scorers: the ``motion``, ``ocr`` and ``visual`` config sections.

Each stage builds its settings once (``MotionSettings.from_section(config["motion"])``) and hands them to the
scorer module's builders. The defaults are those of ``assets/defaults.yaml`` (a test keeps them equal). A key
the section does not hold, or holds as null, takes its default, except where null has its own meaning
(``ocr.backend: null`` is ``none``; the PaddleOCR model keys are nullable). Values are coerced to the field's
type; one that cannot be is a :class:`ConfigError` naming ``<section>.<key>``. Keys a section holds that are
not fields are ignored here: the whole configuration is validated (unknown keys included) by
:func:`vidgen_dagster.core.common.config.validate` before anything runs.

The builders still take the raw section as a dict (they convert it with the same ``from_section``), and a
stage's version hashes the raw section, not these objects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ...common.errors import ConfigError

S = TypeVar("S", bound="_Section")

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """``value`` as ``kind`` (int, float, bool, str, str | None, tuple[str, ...]) or a ConfigError naming key."""
    nullable = _nullable(kind)
    if nullable:
        if value is None:
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    bad = f"{key} must be {_describe(kind)}{' or null' if nullable else ''}; got {value!r}"
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(bad)
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(bad)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise ConfigError(bad) from None
        raise ConfigError(bad)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(bad)
        try:
            return float(value)
        except ValueError:
            raise ConfigError(bad) from None
    if kind is str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(bad)
        return str(value)  # an all-digit revision or file name may reach here as a YAML number
    if typing.get_origin(kind) is tuple:  # tuple[str, ...]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(bad)
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(bad)
        return tuple(value)
    raise TypeError(f"no coercion for {kind!r} ({key})")  # a field declared with a type this module lacks


def _describe(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return "a list of strings"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]


@dataclass(frozen=True)
class _Section:
    SECTION: ClassVar[str] = ""
    NULL_MEANS: ClassVar[dict[str, Any]] = {}  # fields whose null is a value of its own, not "the default"

    @classmethod
    def from_section(cls: type[S], section: Mapping[str, Any] | None) -> S:
        """The settings from a config section (a mapping); missing and null keys take their defaults."""
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise ConfigError(f"the {cls.SECTION} section must be a mapping; got {type(section).__name__}")
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in section:
                continue
            value = section[f.name]
            key = f"{cls.SECTION}.{f.name}"
            if value is None and f.name in cls.NULL_MEANS:
                values[f.name] = cls.NULL_MEANS[f.name]
            elif value is None and not _nullable(hints[f.name]):
                continue  # null is the default
            else:
                values[f.name] = _coerce(key, value, hints[f.name])
        return cls(**values)

    @classmethod
    def of(cls: type[S], cfg: S | Mapping[str, Any] | None) -> S:
        """``cfg`` when it already is these settings, else :meth:`from_section` of it (callers passing the
        raw section keep working)."""
        return cfg if isinstance(cfg, cls) else cls.from_section(cfg)


def _nullable(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


@dataclass(frozen=True)
class MotionSettings(_Section):
    """The ``motion`` section (:mod:`.motion`)."""
    SECTION: ClassVar[str] = "motion"
    backend: str = "auto"            # raft | dis | farneback | auto | none
    raft_model: str = "raft_small"   # raft_small | raft_large
    raft_weights: str = ""           # a .pth state dict; empty: torchvision's file in the torch hub cache
    device: str = "auto"             # auto | cpu | cuda
    batch_size: int = 8
    short_side: int = 256
    dis_preset: str = "fast"         # ultrafast | fast | medium


@dataclass(frozen=True)
class OcrSettings(_Section):
    """The ``ocr`` section (:mod:`.text`)."""
    SECTION: ClassVar[str] = "ocr"
    NULL_MEANS: ClassVar[dict[str, Any]] = {"backend": "none"}
    backend: str = "rapidocr"        # rapidocr | paddleocr | none
    frames: tuple[str, ...] = ("first", "middle", "last")
    recognize: bool = True
    min_box_score: float = 0.5
    verify: bool = True
    min_rec_score: float = 0.5
    early_exit: bool = True
    paddleocr_model: str = "PP-OCRv5_mobile_det"
    paddleocr_rec_model: str | None = None
    paddleocr_model_dir: str | None = None
    threads: int = 0                 # 0: $VIDGEN_THREADS, else every core this process may use
    device: str = "auto"             # auto | cpu | cuda


@dataclass(frozen=True)
class VisualSettings(_Section):
    """The ``visual`` section (:mod:`.visual`)."""
    SECTION: ClassVar[str] = "visual"
    backend: str = "transformers"    # transformers | none
    clip_model: str = "openai/clip-vit-large-patch14"
    clip_revision: str = ""          # empty: the revision pinned for the default model
    aesthetic_head: str = ""         # empty: the registry's file under the models cache
    device: str = "auto"
    batch_size: int = 16
    categories: str = "categories.yaml"
