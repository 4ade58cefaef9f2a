"""The LLM judge: asks a chat model whether a caption shows the paper's three errors.

Backend-independent: any :class:`~vidgen_dagster.core.llm.ChatModel` (a local ``transformers``
causal LM or an ``openai`` endpoint). The prompt file (``judge_v1.txt``) explains the three errors and
asks for ONLY ``{"scene_transition": bool, "frame_level": bool, "reduplication": bool,
"rationale": str}``; the caption replaces ``{caption}`` in it.

Models do not always comply, so :func:`parse_judgement` is tolerant (code fences, leading/trailing
prose, Python ``True``/``False``, trailing commas, ``"true"``/``"false"`` strings) but strict about the
result: three booleans or a :class:`ValueError` that says what was wrong. :class:`LLMJudge` retries
unparsable output, and output cut by the token limit (``finish_reason "length"``: even when an object
parses, it may be a draft), at temperature 0 first, then slightly higher when the backend samples, and
records ``status="failed"`` with the last reason and a snippet of the output; it never guesses labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..backends.chat import ChatModel
from ..captioning.base import Prompt
from ..common.errors import ConfigError, ModelUnavailableError, VidgenError
from . import LABELS

JUDGE_PROMPT_FILE = "judge_v1.txt"
CAPTION_SLOT = "{caption}"
RETRY_TEMPERATURE_STEP = 0.3  # attempt i (0-based) samples at min(1.0, 0.3 * i) when the backend supports it
_SNIPPET = 200

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_PY_LITERALS = ((re.compile(r"\bTrue\b"), "true"), (re.compile(r"\bFalse\b"), "false"),
                (re.compile(r"\bNone\b"), "null"), (re.compile(r",\s*([}\]])"), r"\1"))
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


@dataclass
class JudgeResult:
    """The judge's verdict on one caption. ``labels``: ``{label: bool}`` for each of
    :data:`~vidgen_dagster.core.fine_curation.LABELS` when ``status == "ok"``, else None."""

    labels: dict[str, bool] | None
    rationale: str = ""
    status: str = "ok"  # ok | failed
    error: str | None = None
    attempts: int = 0
    model_id: str = ""
    prompt_version: str = ""
    raw: str = ""  # the last raw model output (for debugging a failure)


def _objects(text: str) -> Iterable[Any]:
    """Every JSON value that decodes starting at a ``{`` in ``text``, left to right."""
    decoder = json.JSONDecoder()
    pos = text.find("{")
    while pos != -1:
        try:
            value, _ = decoder.raw_decode(text, pos)
        except ValueError:
            pass
        else:
            yield value
        pos = text.find("{", pos + 1)


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"{key!r} must be a boolean, got {value!r}")


def parse_judgement(text: str) -> dict[str, Any]:
    """The judge's output -> ``{"scene_transition": bool, "frame_level": bool, "reduplication": bool,
    "rationale": str}``.

    Looks inside code fences first, then the whole text, then the text with Python literals
    (``True``/``False``/``None``) and trailing commas fixed; takes the first JSON object holding all
    three labels. Accepts booleans, ``"true"``/``"false"``/``"yes"``/``"no"`` strings and 0/1 for a
    label; ``rationale`` is optional (``""``). Raises :class:`ValueError` saying what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty output")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    fixed = text
    for pattern, repl in _PY_LITERALS:
        fixed = pattern.sub(repl, fixed)
    if fixed != text:
        candidates.append(fixed)
    partial: dict | None = None
    for candidate in candidates:
        for obj in _objects(candidate):
            if not isinstance(obj, dict):
                continue
            if all(k in obj for k in LABELS):
                out: dict[str, Any] = {k: _as_bool(k, obj[k]) for k in LABELS}
                rationale = obj.get("rationale", "")
                out["rationale"] = rationale if isinstance(rationale, str) else json.dumps(rationale)
                return out
            if partial is None:
                partial = obj
    if partial is not None:
        missing = [k for k in LABELS if k not in partial]
        raise ValueError(f"JSON object lacks {', '.join(missing)} (keys: {', '.join(map(str, partial)) or 'none'})")
    raise ValueError("no JSON object found in the output")


def render_judge_prompt(prompt: Prompt, caption: str) -> str:
    """The prompt text with every ``{caption}`` replaced by ``caption`` (no other braces are touched)."""
    return caption.join(prompt.text.split(CAPTION_SLOT))


def _snippet(text: str) -> str:
    text = text.strip().replace("\n", " ")
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


class LLMJudge:
    """Labels captions with a :class:`ChatModel` and a judge prompt (``{caption}`` marks the slot)."""

    def __init__(self, model: ChatModel, prompt: Prompt, max_attempts: int = 3, max_tokens: int = 200):
        if CAPTION_SLOT not in prompt.text:
            raise ConfigError(f"judge prompt {prompt.path} has no {CAPTION_SLOT} slot for the caption")
        if max_attempts < 1:
            raise ConfigError(f"judge.max_attempts must be >= 1, got {max_attempts}")
        if max_tokens < 1:
            raise ConfigError(f"judge.max_tokens must be >= 1, got {max_tokens}")
        self.model = model
        self.prompt = prompt
        self.max_attempts = int(max_attempts)
        self.max_tokens = int(max_tokens)

    @property
    def model_id(self) -> str:
        return getattr(self.model, "model_id", "")

    def _temperature(self, attempt: int) -> float:
        if attempt == 0 or not getattr(self.model, "supports_temperature", True):
            return 0.0
        return min(1.0, RETRY_TEMPERATURE_STEP * attempt)

    def _result(self, **kwargs: Any) -> JudgeResult:
        return JudgeResult(model_id=self.model_id, prompt_version=self.prompt.version, **kwargs)

    def judge(self, caption: str) -> JudgeResult:
        """One caption -> :class:`JudgeResult`. Unparsable output is retried up to ``max_attempts``;
        a failed request (:class:`~vidgen_dagster.core.errors.ScoringError`, already retried by the
        backend) fails this caption at once; :class:`ModelUnavailableError` propagates."""
        if not caption or not caption.strip():
            return self._result(labels=None, status="failed", error="empty caption: nothing to judge")
        messages = [{"role": "user", "content": render_judge_prompt(self.prompt, caption.strip())}]
        error = ""
        raw = ""
        cut_short = False
        for attempt in range(self.max_attempts):
            try:
                completion = self.model.complete(messages, max_tokens=self.max_tokens,
                                                 temperature=self._temperature(attempt))
            except ModelUnavailableError:
                raise
            except VidgenError as exc:
                return self._result(labels=None, status="failed", error=f"request failed: {exc.record()}",
                                    attempts=attempt + 1, raw=raw)
            raw = completion.text or ""
            try:
                parsed = parse_judgement(raw)
            except ValueError as exc:
                cut = " (output cut at max_tokens)" if completion.finish_reason == "length" else ""
                error, cut_short = f"{exc}{cut}; output: {_snippet(raw)}", False
                continue
            if completion.finish_reason == "length":
                # Cut by the token limit: what parsed may be a draft or an example, not the verdict.
                error, cut_short = (f"the verdict was cut at judge.max_tokens={self.max_tokens} (finish_reason "
                                    f"\"length\"); raise judge.max_tokens; output: {_snippet(raw)}"), True
                continue
            rationale = parsed.pop("rationale")
            return self._result(labels=parsed, rationale=rationale, attempts=attempt + 1, raw=raw)
        what = "no complete judge verdict" if cut_short else "unparsable judge output"
        return self._result(labels=None, status="failed", attempts=self.max_attempts, raw=raw,
                            error=f"{what} after {self.max_attempts} attempts: {error}")

    def judge_many(self, captions: list[str], concurrency: int | None = None) -> list[JudgeResult]:
        """:meth:`judge` over ``captions`` on up to ``concurrency`` threads (default: the model's
        ``concurrency`` attribute, else 1), results in input order. An unexpected exception fails only
        its caption; :class:`ModelUnavailableError` is raised once every caption has finished."""
        n = concurrency if concurrency is not None else getattr(self.model, "concurrency", 1)
        n = max(1, int(n or 1))

        def run(caption: str) -> JudgeResult | ModelUnavailableError:
            try:
                return self.judge(caption)
            except ModelUnavailableError as exc:
                return exc
            except Exception as exc:  # one bad caption must not sink the batch
                return self._result(labels=None, status="failed", error=f"{type(exc).__name__}: {exc}")

        if n == 1 or len(captions) <= 1:
            outcomes = [run(c) for c in captions]
        else:
            with ThreadPoolExecutor(max_workers=min(n, len(captions)), thread_name_prefix="judge") as pool:
                outcomes = list(pool.map(run, captions))
        for outcome in outcomes:
            if isinstance(outcome, ModelUnavailableError):
                raise outcome
        return outcomes  # type: ignore[return-value]
