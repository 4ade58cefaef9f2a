"""A minimal text chat-model protocol shared by the LLM judge backends.

``transformers`` (a local causal LM with its chat template) and ``openai`` (an OpenAI-compatible
chat-completions endpoint) both implement :class:`ChatModel`; callers never care which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None  # "stop" | "length" | ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatModel(Protocol):
    backend: str
    model_id: str

    def complete(self, messages: list[dict], max_tokens: int = 256, temperature: float = 0.0) -> Completion:
        """``messages``: OpenAI-style ``[{"role": "system"|"user"|"assistant", "content": str}]``.
        Raises :class:`~vidgen_dagster.core.errors.ModelUnavailableError` when the model cannot run
        at all and :class:`~vidgen_dagster.core.errors.ScoringError` for a failed request."""
        ...
