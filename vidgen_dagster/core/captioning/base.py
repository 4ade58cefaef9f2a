"""The captioner protocol shared by every backend, and prompt files.

A backend receives :class:`CaptionRequest` items (a clip's frames as HxWx3 uint8 **BGR** arrays,
in time order, plus the rendered prompt) and returns one :class:`CaptionResult` per request, in the
same order. A backend never raises for one bad clip: that clip's result has ``status="failed"`` and
the reason in ``error``; it raises :class:`~vidgen_dagster.core.errors.ModelUnavailableError` only
when it cannot run at all (weights absent, server unreachable after the last retry on the first
request, package missing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..common.errors import ConfigError


@dataclass
class CaptionRequest:
    clip_id: str
    frames: list[np.ndarray]  # BGR uint8, time order
    prompt: str  # the user instruction (from a versioned prompt file)
    system: str = ""  # optional system prompt


@dataclass
class CaptionResult:
    clip_id: str
    status: str  # ok | failed
    caption: str = ""
    error: str | None = None
    model_id: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # "stop", "length" (cut by the token limit), ...
    truncated: bool = False  # finish_reason == "length"
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class Captioner(Protocol):
    backend: str
    model_id: str

    def caption(self, requests: list[CaptionRequest]) -> list[CaptionResult]: ...


@dataclass(frozen=True)
class Prompt:
    """A versioned prompt file under ``assets/prompts/`` (or an absolute path).

    ``version`` is ``<file stem>@<sha256[:12] of the text>``: editing the file changes it, and it
    feeds the captions asset's code version, so edited prompts make captions stale.
    """

    name: str
    text: str
    path: str

    @property
    def version(self) -> str:
        return f"{Path(self.path).stem}@{hashlib.sha256(self.text.encode()).hexdigest()[:12]}"


def load_prompt(spec: str) -> Prompt:
    from ..common.config import ASSETS_DIR

    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = ASSETS_DIR / "prompts" / path
    if not path.is_file():
        raise ConfigError(f"prompt file {path} not found")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ConfigError(f"prompt file {path} is empty")
    return Prompt(path.stem, text, str(path))
