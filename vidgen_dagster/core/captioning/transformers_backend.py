"""The ``transformers`` captioning backend: any image-text-to-text VLM, run locally.

:class:`TransformersCaptioner` loads a VLM with ``AutoProcessor`` + ``AutoModelForImageTextToText``
(``AutoModelForVision2Seq`` on transformers 4.x, ``AutoModelForCausalLM`` as a last resort) and
captions each clip from its frames:

* The chat is built with the **processor's own chat template**: an optional system turn, then one user
  turn whose content is one ``{"type": "image"}`` part per frame (time order) followed by the prompt
  text; ``apply_chat_template(..., add_generation_prompt=True)`` renders it, and the processor expands
  each image part into the model's image tokens (``images=`` the clip's frames as RGB PIL images).
* Requests are generated in batches of ``batch_size`` with **left padding** (so every row's last prompt
  token sits at the end and the new tokens line up); decoding is greedy unless ``temperature > 0``.
* ``prompt_tokens`` counts the request's unpadded prompt (text and image placeholder tokens);
  ``completion_tokens`` the generated tokens up to and including the EOS.
* One bad request never takes the batch down: a frame that is not HxWx3 uint8 fails that clip before
  inference, and when a batch raises, it is retried one request at a time so only the offending clip
  is recorded as failed (``status="failed"``, ``error`` = ``scoring_failed: ...``).

Config keys (the ``captions`` section):

* ``model``: an HF repo id (default :data:`DEFAULT_VLM`) or a local folder.
* ``revision``: the revision of an HF id (empty: :data:`VLM_REVISION` for :data:`DEFAULT_VLM`, else
  ``main``, whatever ``refs/main`` of the local HF cache points at); ``model_id`` records the
  snapshot's commit (``<repo>@<commit>``), or the folder path.
* ``device``: ``auto`` (CUDA when present) | ``cpu`` | ``cuda`` | ``cuda:N``.
* ``dtype``: ``auto`` (bfloat16 on CUDA, float16 where bf16 is unsupported, float32 on the CPU) |
  ``float32`` | ``bfloat16`` | ``float16``.
* ``batch_size``: clips per ``generate`` call (default 4).
* ``max_new_tokens``: the caption's token limit (default 256; VidGen-1M captions average ~89 words).
  A caption cut by it has ``finish_reason="length"`` and ``truncated=True``.
* ``frames_per_clip``: how many frames the caller samples per clip (it passes them in each
  :class:`~.base.CaptionRequest`; this backend captions whatever it is given).
* ``temperature`` (default 0: greedy), ``seed`` (sampling seed), ``repetition_penalty`` (empty: the
  checkpoint's ``generation_config.json`` value, e.g. 1.05 for Qwen2.5-VL; 1.0 disables it).

Weights are never downloaded here (``local_files_only=True``); a missing model raises
:class:`~vidgen_dagster.core.errors.ModelUnavailableError` naming ``captions.model`` and
``vidgen models pull``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..backends.hf_models import pinned_revision
from ..backends.transformers_chat import (
    HFSource,
    eos_token_ids,
    from_pretrained_offline,
    greedy_or_sampling,
    own_generation_config,
    resolve_device,
    resolve_dtype,
    resolve_hf_model,
    seeded,
    split_generation,
)
from ..common.errors import ModelUnavailableError, ScoringError
from .base import CaptionRequest, CaptionResult

# Default captioner: a multi-image/video instruct VLM that AutoModelForImageTextToText loads natively
# (transformers >= 4.49). The paper used VILA, which needs remote code; Qwen2.5-VL is the closest
# natively supported open model for dense video captioning.
DEFAULT_VLM = "Qwen/Qwen2.5-VL-7B-Instruct"
# The commit of huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct that `vidgen models pull` fetches and the
# captioner loads (the snapshot folder name in HF caches and the `revision` other projects pin, e.g.
# vLLM deployment tables; pinned like CLIP_REVISION so a moved `main` never changes captions silently).
VLM_REVISION = "cc594898137f460bfe9f0759e9844b3ce807cfb5"
# Files a VLM snapshot needs: configs (model, generation, processor, preprocessor, tokenizer), weights,
# tokenizer vocab/merges, and a chat template kept in its own file.
VLM_ALLOW_PATTERNS = ("*.json", "*.safetensors", "*.jinja", "*.txt", "tokenizer.model")


def resolve_vlm(cfg: dict, *, cache_dir: str | Path | None = None) -> tuple[str | None, str]:
    """Where the captioning VLM would load from, without loading: (local folder or None, where/why).

    ``cfg`` is the ``captions`` section; an HF id is looked up only in the local HF cache."""
    src = _resolve(cfg, cache_dir)
    return src.folder, src.where


def vlm_revision(cfg: dict) -> str:
    """The revision to load: ``captions.revision``, else :data:`VLM_REVISION` for :data:`DEFAULT_VLM`,
    else ``main``."""
    return pinned_revision(cfg.get("model") or DEFAULT_VLM, cfg.get("revision"), DEFAULT_VLM, VLM_REVISION)


def _resolve(cfg: dict, cache_dir: str | Path | None) -> HFSource:
    return resolve_hf_model(cfg.get("model") or DEFAULT_VLM, vlm_revision(cfg), key="captions.model",
                            what="captioning VLM", cache_dir=cache_dir, allow_patterns=VLM_ALLOW_PATTERNS)


def _model_classes():
    """Auto classes to try, most specific first (``AutoModelForVision2Seq`` exists only in 4.x)."""
    import transformers

    names = ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM")
    return [getattr(transformers, n) for n in names if hasattr(transformers, n)]


def _load_model(src: HFSource, cache_dir, dtype):
    """The VLM through the first Auto class whose mapping knows its config class."""
    from transformers import AutoConfig

    config = from_pretrained_offline(AutoConfig, src, cache_dir)
    for cls in _model_classes():
        try:
            known = type(config) in cls._model_mapping
        except Exception:  # a private mapping that changed shape: just try the class
            known = True
        if known:
            return from_pretrained_offline(cls, src, cache_dir, dtype=dtype)
    raise ModelUnavailableError(f"{src.where}: model type {getattr(config, 'model_type', '?')!r} is not an "
                                "image-text-to-text model transformers can load (set captions.model to a VLM)")


def _to_pil(frame: np.ndarray, where: str):
    """An RGB PIL image of a BGR frame; :class:`ScoringError` when the frame is not HxWx3 uint8."""
    from PIL import Image

    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ScoringError(f"{where}: frames must be HxWx3 uint8 BGR arrays, got {got}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise ScoringError(f"{where}: frame of size {frame.shape[1]}x{frame.shape[0]} is too small")
    return Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1]))  # BGR -> RGB


class TransformersCaptioner:
    """A local VLM behind the :class:`~.base.Captioner` protocol (see the module doc)."""

    backend = "transformers"

    def __init__(self, model, processor, *, model_id: str, device: str = "cpu", batch_size: int = 4,
                 max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
                 repetition_penalty: float | None = None):
        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        # Left padding: in a batch every prompt ends at the last position, where generation continues.
        self.tokenizer.padding_side = "left"
        self.model_id = model_id
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.max_new_tokens = max(1, int(max_new_tokens))
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.eos_ids = eos_token_ids(model.generation_config, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        if pad is None:  # e.g. Llama 3 tokenizers: pad with EOS (masked out by the attention mask)
            pad = getattr(model.generation_config, "pad_token_id", None)
            if pad is None:
                pad = min(self.eos_ids) if self.eos_ids else 0
            self.tokenizer.pad_token = self.tokenizer.convert_ids_to_tokens(int(pad))
        self.generation_config = greedy_or_sampling(
            model.generation_config, max_new_tokens=self.max_new_tokens, temperature=self.temperature,
            pad_token_id=pad, repetition_penalty=repetition_penalty)
        own_generation_config(self.model, self.generation_config)

    @classmethod
    def from_config(cls, cfg: dict, *, cache_dir: str | Path | None = None) -> TransformersCaptioner:
        """Load from the ``captions`` config section (keys in the module doc). Raises
        :class:`ModelUnavailableError` when the VLM is not available locally or cannot be loaded."""
        src = _resolve(cfg, cache_dir)
        if src.folder is None:
            raise ModelUnavailableError(src.where)
        device = resolve_device(cfg.get("device"), "captions.device")
        dtype = resolve_dtype(cfg.get("dtype"), device, "captions.dtype")
        try:
            from transformers import AutoProcessor
        except ImportError as exc:
            raise ModelUnavailableError(f"the transformers package is not installed ({exc})") from exc
        try:
            processor = from_pretrained_offline(AutoProcessor, src, cache_dir)
            model = _load_model(src, cache_dir, dtype)
        except ModelUnavailableError:
            raise
        except Exception as exc:  # corrupt weights, missing processor/tokenizer files, unknown architecture
            raise ModelUnavailableError(f"cannot load the captioning VLM from {src.where}: {exc}") from exc
        if getattr(processor, "image_processor", None) is None:
            raise ModelUnavailableError(f"{src.where} is not a vision-language model (AutoProcessor found no image "
                                        "processor); set captions.model to an image-text-to-text VLM")
        if not getattr(processor, "chat_template", None):
            raise ModelUnavailableError(f"the captioning VLM at {src.where} has no processor chat template "
                                        "(use an instruct/chat VLM, or set captions.model to one)")
        return cls(model, processor, model_id=src.model_id, device=device,
                   batch_size=int(cfg.get("batch_size", 4) or 4),
                   max_new_tokens=int(cfg.get("max_new_tokens", 256) or 256),
                   temperature=float(cfg.get("temperature", 0.0) or 0.0), seed=int(cfg.get("seed", 0) or 0),
                   repetition_penalty=_optional_float(cfg.get("repetition_penalty")))

    # -- one request ---------------------------------------------------------------------------------

    def conversation(self, req: CaptionRequest) -> list[dict]:
        """The chat for one clip: optional system turn, then the frames (one image part each, time
        order) and the prompt in one user turn."""
        conv: list[dict] = []
        if req.system.strip():
            conv.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
        parts: list[dict] = [{"type": "image"} for _ in req.frames]
        parts.append({"type": "text", "text": req.prompt})
        conv.append({"role": "user", "content": parts})
        return conv

    def _prepare(self, req: CaptionRequest) -> tuple[str, list]:
        """(rendered prompt, RGB PIL frames) of a request; :class:`ScoringError` when it is malformed."""
        if not req.frames:
            raise ScoringError("no frames")
        if not str(req.prompt or "").strip():
            raise ScoringError("empty prompt")
        images = [_to_pil(f, f"frame #{i}") for i, f in enumerate(req.frames)]
        try:
            text = self.processor.apply_chat_template(self.conversation(req), add_generation_prompt=True,
                                                      tokenize=False)
        except Exception as exc:  # a template that rejects a system turn or several images
            raise ScoringError(f"chat template of {self.model_id} failed: {exc}") from exc
        return text, images

    # -- generation ----------------------------------------------------------------------------------

    def _generate(self, batch: list[tuple[str, list]]) -> list[tuple[str, int, int, str]]:
        """(caption, prompt tokens, completion tokens, finish_reason) for each prepared request of one
        batch, in order. Raises on any failure (the caller retries one by one)."""
        import torch

        texts = [text for text, _ in batch]
        images = [imgs for _, imgs in batch]
        # The rendered template already holds BOS and the role markers.
        enc = self.processor(text=texts, images=images, padding=True, return_tensors="pt",
                             add_special_tokens=False)
        dtype = self.model.dtype
        inputs = {k: (v.to(self.device, dtype) if torch.is_floating_point(v) else v.to(self.device))
                  for k, v in enc.items() if isinstance(v, torch.Tensor)}
        with torch.inference_mode(), seeded(self.seed, self.device):
            out = self.model.generate(**inputs, generation_config=self.generation_config)
        prompt_len = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(1).tolist() if "attention_mask" in inputs else (
            [prompt_len] * len(batch))
        results = []
        for row, n_prompt in zip(out[:, prompt_len:].tolist(), prompt_tokens, strict=True):
            content, n_completion, finish = split_generation(row, self.eos_ids, self.max_new_tokens)
            caption = self.tokenizer.decode(content, skip_special_tokens=True).strip()
            results.append((caption, int(n_prompt), n_completion, finish))
        return results

    def _run(self, batch: list[tuple[int, str, tuple[str, list]]], results: list[CaptionResult | None]) -> None:
        """Generate one batch into ``results``; on failure retry each request alone."""
        started = time.perf_counter()
        try:
            outs = self._generate([prepared for _, _, prepared in batch])
        except Exception as exc:
            _free_cuda_cache(self.device)
            if len(batch) > 1:
                for item in batch:
                    self._run([item], results)
                return
            index, clip_id, _ = batch[0]
            results[index] = CaptionResult(clip_id, "failed", model_id=self.model_id,
                                           error=ScoringError(f"generation failed: {exc}").record(),
                                           seconds=time.perf_counter() - started)
            return
        seconds = (time.perf_counter() - started) / len(batch)
        for (index, clip_id, _), (caption, n_prompt, n_completion, finish) in zip(batch, outs, strict=True):
            if not caption:
                results[index] = CaptionResult(
                    clip_id, "failed", model_id=self.model_id, prompt_tokens=n_prompt,
                    completion_tokens=n_completion, finish_reason=finish, truncated=finish == "length",
                    error=ScoringError("the model returned an empty caption").record(), seconds=seconds)
                continue
            results[index] = CaptionResult(
                clip_id, "ok", caption=caption, model_id=self.model_id, prompt_tokens=n_prompt,
                completion_tokens=n_completion, finish_reason=finish, truncated=finish == "length",
                seconds=seconds, extra={"batch_size": len(batch)})

    def caption(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        """One :class:`CaptionResult` per request, in order. ``seconds`` is the request's share of its
        batch's wall time (``extra["batch_size"]`` says how many shared it)."""
        results: list[CaptionResult | None] = [None] * len(requests)
        ready: list[tuple[int, str, tuple[str, list]]] = []
        for i, req in enumerate(requests):
            try:
                ready.append((i, req.clip_id, self._prepare(req)))
            except ScoringError as exc:
                results[i] = CaptionResult(req.clip_id, "failed", model_id=self.model_id, error=exc.record())
        for start in range(0, len(ready), self.batch_size):
            self._run(ready[start:start + self.batch_size], results)
        return [r for r in results if r is not None]


def _optional_float(value) -> float | None:
    return None if value is None or str(value).strip() == "" else float(value)


def _free_cuda_cache(device: str) -> None:
    """Release cached CUDA blocks after a failed batch (an out-of-memory batch leaves them behind)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
