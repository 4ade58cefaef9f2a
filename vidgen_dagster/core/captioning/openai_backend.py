"""The ``openai`` captioning backend: any OpenAI-compatible multi-image chat server (vLLM, SGLang, TGI).

Each :class:`~.base.CaptionRequest` becomes one chat completion: the system prompt (if any), then one
user message whose content is one ``image_url`` part per frame (a ``data:image/jpeg;base64,...`` URL,
in time order) followed by the ``text`` prompt. Requests run concurrently (``concurrency`` threads);
retries, backoff and error semantics are :class:`~vidgen_dagster.core.openai_client.OpenAIClient`'s.

Config keys (the ``captions`` section): ``openai_base_url``, ``openai_model`` (empty: ``model``),
``openai_api_key_env`` (name of the env var holding the key), ``timeout_s``, ``max_retries``,
``concurrency``, ``max_tokens`` (falls back to ``max_new_tokens``), ``temperature``,
``jpeg_quality`` (1-100), and optional ``jpeg_max_side`` (downscale frames whose longer side exceeds
it), ``backoff_s`` and ``max_backoff_s`` (retry waits; defaults 1 s and 30 s).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from ..backends.openai_client import (
    ImagesRefusedError,
    OpenAIClient,
    ServerUnreachableError,
    client_from_config,
)
from ..common.errors import ConfigError, ModelUnavailableError, ScoringError, VidgenError
from .base import CaptionRequest, CaptionResult

DEFAULT_VISION_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"  # named in the message for a text-only endpoint


def _opt(section: Mapping[str, Any], key: str, default: Any) -> Any:
    value = section.get(key)
    return default if value is None or value == "" else value


def encode_jpeg_data_url(frame: np.ndarray, quality: int = 90, max_side: int | None = None) -> str:
    """A BGR uint8 HxWx3 frame -> ``data:image/jpeg;base64,...`` (downscaled with INTER_AREA so its
    longer side is at most ``max_side`` when given). Raises :class:`ScoringError` on a bad frame."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.size == 0:
        shape = getattr(frame, "shape", None)
        raise ScoringError(f"frame must be an HxWx3 BGR array, got shape {shape}")
    if frame.dtype != np.uint8:
        raise ScoringError(f"frame must be uint8, got {frame.dtype}")
    if max_side and max(frame.shape[:2]) > max_side:
        h, w = frame.shape[:2]
        scale = max_side / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ScoringError(f"JPEG encoding failed for a frame of shape {frame.shape}")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def build_messages(request: CaptionRequest, quality: int = 90, max_side: int | None = None) -> list[dict]:
    """The chat messages for one clip: optional system prompt, then images + prompt as one user turn."""
    if not request.frames:
        raise ScoringError("clip has no frames to caption")
    parts: list[dict] = [
        {"type": "image_url", "image_url": {"url": encode_jpeg_data_url(f, quality, max_side)}}
        for f in request.frames
    ]
    parts.append({"type": "text", "text": request.prompt})
    messages: list[dict] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": parts})
    return messages


def _error_record(exc: BaseException) -> str:
    if isinstance(exc, VidgenError):
        return exc.record()
    return f"{type(exc).__name__}: {exc}"


class OpenAICaptioner:
    """:class:`~.base.Captioner` on an OpenAI-compatible endpoint (``model_id``: ``<model>@<base_url>``).

    The first :meth:`caption` call checks the server (``GET /models``) and raises
    :class:`ModelUnavailableError` if it is down or does not serve the model. Afterwards one clip's
    failure is that clip's ``failed`` result; only a batch in which *every* request found the server
    unreachable (after all retries), or in which the server refused the images (a text-only model),
    raises :class:`ModelUnavailableError`, so a dead or misconfigured endpoint fails the run instead of
    recording every clip as failed. A reasoning model's reasoning is ignored (the caption is the
    answer); an answer cut by ``max_tokens`` is recorded ``truncated`` (``finish_reason "length"``).
    """

    backend = "openai"

    def __init__(self, cfg: Mapping[str, Any], *, client: OpenAIClient | None = None):
        self.client = client if client is not None else client_from_config(cfg, default_concurrency=8)
        self.model_id = self.client.model_id
        self.max_tokens = int(_opt(cfg, "max_tokens", _opt(cfg, "max_new_tokens", 256)))
        self.temperature = float(_opt(cfg, "temperature", 0.0))
        self.jpeg_quality = int(_opt(cfg, "jpeg_quality", 90))
        max_side = _opt(cfg, "jpeg_max_side", None)
        self.max_side = int(max_side) if max_side else None
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"captions.jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.max_tokens < 1:
            raise ConfigError(f"captions.max_tokens must be >= 1, got {self.max_tokens}")
        self._checked = False

    def check(self) -> None:
        """Raise :class:`ModelUnavailableError` unless the server is up and serves the model."""
        self.client.check()
        self._checked = True

    def caption(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        if not requests:
            return []
        if not self._checked:
            self.check()
        outcomes = self.client.map_concurrent(self._caption_one, requests)
        results: list[CaptionResult] = []
        for request, outcome in zip(requests, outcomes, strict=True):
            if outcome.ok:
                results.append(outcome.value)
            else:
                results.append(CaptionResult(clip_id=request.clip_id, status="failed", model_id=self.model_id,
                                             error=_error_record(outcome.error)))
        errors = [o.error for o in outcomes]
        refused = next((e for e in errors if isinstance(e, ImagesRefusedError)), None)
        if refused is not None:  # the same for every clip: a configuration error, so the run fails
            raise ModelUnavailableError(
                f"captions: {refused.message}; set captions.openai_model to a vision-language model the server "
                f"serves (e.g. `vllm serve {DEFAULT_VISION_MODEL}`), or captions.openai_base_url to a server "
                "that serves one")
        if all(isinstance(e, ServerUnreachableError) for e in errors):
            raise ModelUnavailableError(f"captioning server {self.client.base_url} became unreachable: {errors[0]}")
        return results

    def _caption_one(self, request: CaptionRequest) -> CaptionResult:
        start = time.perf_counter()
        messages = build_messages(request, self.jpeg_quality, self.max_side)
        completion = self.client.chat(messages, max_tokens=self.max_tokens, temperature=self.temperature)
        caption = completion.text.strip()
        truncated = completion.finish_reason == "length"
        return CaptionResult(
            clip_id=request.clip_id,
            status="ok" if caption else "failed",
            caption=caption,
            error=None if caption else f"scoring_failed: empty caption (finish_reason {completion.finish_reason!r})",
            model_id=self.model_id,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
            truncated=truncated,
            seconds=time.perf_counter() - start,
            extra={"n_images": len(request.frames)},
        )

    def close(self) -> None:
        self.client.close()
