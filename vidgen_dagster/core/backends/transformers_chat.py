"""The ``transformers`` chat-model backend, and offline HF model loading shared with the VLM captioner.

:class:`TransformersChatModel` runs a local causal LM (``AutoTokenizer`` + ``AutoModelForCausalLM``)
through its own chat template. Config keys (the judge's config section):

* ``model``: an HF repo id (default :data:`DEFAULT_JUDGE_LLM`, the paper's LLaMA 3.1) or a local folder.
* ``revision``: the revision of an HF id (empty: :data:`JUDGE_LLM_REVISION` for
  :data:`DEFAULT_JUDGE_LLM`, else ``main``, i.e. whatever ``refs/main`` of the local HF cache points
  at). The snapshot's commit ends up in ``model_id`` (``<repo>@<commit>``).
* ``device``: ``auto`` (CUDA when present) | ``cpu`` | ``cuda`` | ``cuda:N``.
* ``dtype``: ``auto`` (bfloat16 on CUDA, float16 where bf16 is unsupported, float32 on the CPU) |
  ``float32`` | ``bfloat16`` | ``float16``.
* ``seed``: the sampling seed (used only when ``temperature > 0``; default 0).

Weights are never downloaded here. An HF id loads only from the local HF cache
(``local_files_only=True``); a folder loads as is. What is missing raises
:class:`~vidgen_dagster.core.errors.ModelUnavailableError` naming the key to set and ``vidgen models
pull``. :func:`resolve_hf_model`, :func:`resolve_device`, :func:`resolve_dtype` and
:func:`from_pretrained_offline` are shared with :mod:`.captioning.transformers_backend`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..common.errors import ConfigError, ModelUnavailableError, ScoringError
from .chat import Completion
from .hf_models import HFSource, hf_cache_dir, pinned_revision, resolve_hf_model

# VidGen-1M's fine curation uses LLaMA 3.1 to check captions.
DEFAULT_JUDGE_LLM = "meta-llama/Llama-3.1-8B-Instruct"
# The commit of huggingface.co/meta-llama/Llama-3.1-8B-Instruct that `vidgen models pull` fetches and
# the judge loads (the snapshot folder name in HF caches and the `revision` other projects pin).
JUDGE_LLM_REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
# Files a text LLM snapshot needs (the repos also hold original/ consolidated .pth copies).
LLM_ALLOW_PATTERNS = ("*.json", "*.safetensors", "*.jinja", "tokenizer.model", "*.txt")

_DTYPES = ("auto", "float32", "bfloat16", "float16")


# --- offline resolution (shared with the VLM captioner) ---------------------------------------------

def resolve_device(name: str | None, key: str) -> str:
    """``auto`` → ``cuda`` when available else ``cpu``; an explicit CUDA device without CUDA is a
    :class:`ConfigError` naming ``key``."""
    import torch

    name = str(name or "auto").strip()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key} {name!r} requested but CUDA is not available")
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"{key} must be auto, cpu, cuda or cuda:N; got {name!r}")
    return name


def resolve_dtype(name: str | None, device: str, key: str):
    """The torch dtype for ``name`` (see the module doc); ``auto`` depends on ``device``."""
    import torch

    name = str(name or "auto").strip()
    if name not in _DTYPES:
        raise ConfigError(f"{key} must be one of {', '.join(_DTYPES)}; got {name!r}")
    if name == "auto":
        if not device.startswith("cuda"):
            return torch.float32  # half precision matmuls are slow (or missing) on most CPUs
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, name)


def _dtype_kwarg() -> str:
    """``dtype`` (transformers >= 4.56) or the older ``torch_dtype`` keyword of ``from_pretrained``."""
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def pretrained_source(src: HFSource, cache_dir: str | Path | None) -> tuple[str, dict[str, Any]]:
    """(name, kwargs) for ``from_pretrained``: the HF id at the snapshot's commit from the cache only
    (the real hub code path, kept offline), or the local folder."""
    if src.repo_id:
        return src.repo_id, {"revision": src.revision, "cache_dir": str(hf_cache_dir(cache_dir)),
                             "local_files_only": True}
    return str(src.folder), {"local_files_only": True}


def from_pretrained_offline(loader, src: HFSource, cache_dir: str | Path | None, **kwargs):
    """``loader.from_pretrained`` on ``src`` with ``local_files_only=True``; a ``dtype`` keyword is
    passed under the name this transformers version expects."""
    name, base = pretrained_source(src, cache_dir)
    if "dtype" in kwargs:
        kwargs[_dtype_kwarg()] = kwargs.pop("dtype")
    return loader.from_pretrained(name, **base, **kwargs)


def eos_token_ids(generation_config, tokenizer) -> set[int]:
    """Every id that ends a generation: the generation config's ``eos_token_id`` (an int or a list,
    e.g. Llama 3's ``<|eot_id|>`` and ``<|end_of_text|>``) and the tokenizer's EOS."""
    ids: set[int] = set()
    eos = getattr(generation_config, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif eos is not None:
        ids.update(int(i) for i in eos)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def split_generation(new_ids: list[int], eos: set[int], max_new_tokens: int) -> tuple[list[int], int, str]:
    """(content ids, completion token count, finish_reason) of one generated row (prompt removed).

    The row ends at its first EOS (the EOS counts as a completion token, as OpenAI-compatible servers
    count it; what follows is batch padding). Without an EOS the row hit the limit: ``"length"`` when
    it holds ``max_new_tokens`` tokens, else ``"stop"`` (another stopping criterion ended it).
    """
    for pos, tok in enumerate(new_ids):
        if tok in eos:
            return new_ids[:pos], pos + 1, "stop"
    return new_ids, len(new_ids), "length" if len(new_ids) >= max_new_tokens else "stop"


# Sampling knobs at the values that switch them off (transformers' global defaults). A checkpoint's own
# generation_config.json may set them (Qwen2.5-VL: top_k 1, top_p 0.001, temperature 0.1; Llama 3.1:
# temperature 0.6, top_p 0.9).
NEUTRAL_SAMPLING = {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0, "min_p": None,
                    "epsilon_cutoff": 0.0, "eta_cutoff": 0.0}


def greedy_or_sampling(generation_config, *, max_new_tokens: int, temperature: float, pad_token_id: int | None,
                       repetition_penalty: float | None = None):
    """A copy of the model's generation config set for greedy decoding (``temperature <= 0``) or plain
    temperature sampling (no top-k/top-p), so a checkpoint's own sampling defaults (top_k/top_p/temperature
    in its ``generation_config.json``) never change decoding by surprise. ``repetition_penalty`` None keeps
    the checkpoint's own (e.g. Qwen2.5-VL ships 1.05).

    Every knob is set to an explicit value, never None: ``generate`` fills a None field of the config it is
    given from the model's own ``generation_config`` (transformers 5), so ``top_k=None`` brought back
    Qwen2.5-VL's ``top_k=1`` and sampling was silently greedy. Transformers 4.x instead replaces fields
    equal to the global default; :func:`own_generation_config` covers that case."""
    import copy

    gen = copy.deepcopy(generation_config)
    gen.max_new_tokens = int(max_new_tokens)
    gen.max_length = None
    gen.min_new_tokens = None
    gen.min_length = 0
    for key, value in NEUTRAL_SAMPLING.items():
        setattr(gen, key, value)
    if temperature and temperature > 0:
        gen.do_sample, gen.temperature, gen.top_k = True, float(temperature), 0  # top_k 0: off
    else:
        gen.do_sample = False
    gen.num_beams = 1
    if repetition_penalty is not None:
        gen.repetition_penalty = float(repetition_penalty)
    if pad_token_id is not None:
        gen.pad_token_id = int(pad_token_id)
    return gen


def own_generation_config(model, generation_config) -> None:
    """Make ``generation_config`` (from :func:`greedy_or_sampling`) the model's own, so ``generate`` has
    no checkpoint sampling defaults left to merge into the config it is given (whatever rule this
    transformers version merges by)."""
    import copy

    model.generation_config = copy.deepcopy(generation_config)


@contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Seed torch (CPU and the CUDA device in use) inside the block and restore the global RNG state
    afterwards, so sampling is reproducible without disturbing other users of the RNG."""
    import torch

    devices = [torch.device(device).index or 0] if device.startswith("cuda") and torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


# --- the chat model ---------------------------------------------------------------------------------

def chat_model_revision(cfg: dict) -> str:
    """The revision to load: the section's ``revision``, else :data:`JUDGE_LLM_REVISION` for
    :data:`DEFAULT_JUDGE_LLM`, else ``main``."""
    return pinned_revision(cfg.get("model") or DEFAULT_JUDGE_LLM, cfg.get("revision"), DEFAULT_JUDGE_LLM,
                           JUDGE_LLM_REVISION)


def resolve_chat_model(cfg: dict, *, cache_dir: str | Path | None = None, section: str = "judge") -> HFSource:
    """Where the judge LLM would load from (``cfg`` is its config section), without loading."""
    return resolve_hf_model(cfg.get("model") or DEFAULT_JUDGE_LLM, chat_model_revision(cfg),
                            key=f"{section}.model", what="judge LLM", cache_dir=cache_dir,
                            allow_patterns=LLM_ALLOW_PATTERNS)


class TransformersChatModel:
    """A local causal LM behind the :class:`~vidgen_dagster.core.llm.ChatModel` protocol (module doc)."""

    backend = "transformers"

    def __init__(self, model, tokenizer, *, model_id: str, device: str = "cpu", seed: int = 0):
        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self.seed = int(seed)
        self.eos_ids = eos_token_ids(model.generation_config, tokenizer)
        pad = getattr(model.generation_config, "pad_token_id", None)
        if pad is None:
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids, default=None)
        self.pad_token_id = pad
        # Greedy as the model's own config: complete() derives each call's config from it.
        own_generation_config(self.model, greedy_or_sampling(
            model.generation_config, max_new_tokens=256, temperature=0.0, pad_token_id=pad))

    @classmethod
    def from_config(cls, cfg: dict, *, cache_dir: str | Path | None = None,
                    section: str = "judge") -> TransformersChatModel:
        """Load from the judge's config section (keys in the module doc; ``section`` names it in
        messages). Raises :class:`ModelUnavailableError` when the model is not available locally."""
        src = resolve_chat_model(cfg, cache_dir=cache_dir, section=section)
        if src.folder is None:
            raise ModelUnavailableError(src.where)
        device = resolve_device(cfg.get("device"), f"{section}.device")
        dtype = resolve_dtype(cfg.get("dtype"), device, f"{section}.dtype")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelUnavailableError(f"the transformers package is not installed ({exc})") from exc
        try:
            tokenizer = from_pretrained_offline(AutoTokenizer, src, cache_dir)
            model = from_pretrained_offline(AutoModelForCausalLM, src, cache_dir, dtype=dtype)
        except Exception as exc:  # corrupt weights, missing tokenizer files, not a causal LM config
            raise ModelUnavailableError(f"cannot load the judge LLM from {src.where}: {exc}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise ModelUnavailableError(f"the judge LLM at {src.where} has no chat template (use an instruct/chat "
                                        f"model, or set {section}.model to one)")
        return cls(model, tokenizer, model_id=src.model_id, device=device, seed=int(cfg.get("seed", 0) or 0))

    def complete(self, messages: list[dict], max_tokens: int = 256, temperature: float = 0.0) -> Completion:
        """One chat completion: greedy at ``temperature <= 0``, else sampling seeded with ``seed`` (the same
        messages and settings give the same text). Raises :class:`ScoringError` for a malformed or failed
        request."""
        import torch

        _check_messages(messages)
        if int(max_tokens) < 1:
            raise ScoringError(f"max_tokens must be >= 1, got {max_tokens}")
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            # The template already holds BOS and the role markers.
            enc = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        except Exception as exc:  # a template that rejects a role (e.g. no system turn), bad content
            raise ScoringError(f"chat template of {self.model_id} failed: {exc}") from exc
        gen = greedy_or_sampling(self.model.generation_config, max_new_tokens=int(max_tokens),
                                 temperature=float(temperature), pad_token_id=self.pad_token_id)
        input_ids = enc["input_ids"].to(self.device)
        attention_mask = enc["attention_mask"].to(self.device)
        try:
            with torch.inference_mode(), seeded(self.seed, self.device):
                out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=gen)
        except Exception as exc:  # out of memory, a prompt longer than the context, ...
            raise ScoringError(f"generation with {self.model_id} failed: {exc}") from exc
        new_ids = out[0, input_ids.shape[1]:].tolist()
        content, n_completion, finish = split_generation(new_ids, self.eos_ids, int(max_tokens))
        return Completion(
            text=self.tokenizer.decode(content, skip_special_tokens=True).strip(),
            finish_reason=finish,
            prompt_tokens=int(attention_mask.sum()),
            completion_tokens=n_completion,
        )


def _check_messages(messages: list[dict]) -> None:
    if not isinstance(messages, list) or not messages:
        raise ScoringError("messages must be a non-empty list of {role, content} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ScoringError(f"message #{i} needs a role of system, user or assistant")
        if not isinstance(m.get("content"), str):
            raise ScoringError(f"message #{i}: content must be a string")
