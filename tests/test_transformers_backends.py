"""The transformers captioner and chat model, end to end on tiny random-weight models (no mocks, no hub).

The tiny LLaVA (:mod:`tests.tiny_vlm`) and tiny Llama (:mod:`tests.tiny_lm`) are written to temp
folders and loaded through ``TransformersCaptioner.from_config`` / ``TransformersChatModel.from_config``,
i.e. the real ``AutoProcessor`` / ``AutoModelForImageTextToText`` / ``AutoModelForCausalLM`` loaders.
Random weights generate gibberish, deterministically under greedy decoding.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_lm import build_tiny_lm
from tiny_models import install_in_hf_cache
from tiny_vlm import TINY_VLM_TOKENS_PER_IMAGE, build_tiny_vlm

from vidgen_dagster.core.backends.transformers_chat import TransformersChatModel
from vidgen_dagster.core.captioning.base import CaptionRequest
from vidgen_dagster.core.captioning.transformers_backend import TransformersCaptioner, resolve_vlm
from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError, ScoringError

MAX_NEW = 6
SIZES = [(48, 64), (64, 48), (36, 36), (90, 160), (120, 80)]


@pytest.fixture(scope="module")
def vlm_folder(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def captioner(vlm_folder):
    return TransformersCaptioner.from_config(
        {"model": str(vlm_folder), "device": "cpu", "batch_size": 2, "max_new_tokens": MAX_NEW})


@pytest.fixture(scope="module")
def chat(lm_folder):
    return TransformersChatModel.from_config({"model": str(lm_folder), "device": "cpu"})


def _clip(i: int) -> list[np.ndarray]:
    """4 BGR frames of clip ``i``: random noise for even clips, solid colours for odd ones, each clip
    its own frame size."""
    h, w = SIZES[i % len(SIZES)]
    rng = np.random.default_rng(i)
    if i % 2 == 0:
        return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(4)]
    return [np.full((h, w, 3), (40 * k, 255 - 50 * k, 30 + 60 * i), dtype=np.uint8) for k in range(4)]


def _requests(n: int = 5) -> list[CaptionRequest]:
    # Prompts of different lengths, so a batch is padded (on the left) and padding must not change output.
    return [CaptionRequest(f"clip-{i}", _clip(i), "Describe this video." + " Be precise." * i) for i in range(n)]


def test_captions_every_clip_in_order(captioner, vlm_folder):
    results = captioner.caption(_requests())
    assert [r.clip_id for r in results] == [f"clip-{i}" for i in range(5)]
    for i, r in enumerate(results):
        assert r.status == "ok", r.error
        assert r.caption and r.caption == r.caption.strip()
        assert r.model_id == str(vlm_folder.resolve())
        # 4 frames x 16 image tokens, plus the prompt (longer for later clips).
        assert r.prompt_tokens > 4 * TINY_VLM_TOKENS_PER_IMAGE
        assert r.completion_tokens == MAX_NEW
        assert r.finish_reason == "length" and r.truncated
        assert r.seconds > 0 and r.extra["batch_size"] == (2 if i < 4 else 1)
    prompt_tokens = [r.prompt_tokens for r in results]
    assert prompt_tokens == sorted(prompt_tokens) and len(set(prompt_tokens)) == 5  # unpadded counts


def test_greedy_is_deterministic_and_batch_invariant(captioner, vlm_folder):
    """Same inputs give the same captions; batch size 1 (no padding) and 4 (left-padded rows of
    different lengths) agree exactly: the attention mask hides the pads and position ids start at each
    row's first real token, and in float32 on the CPU the per-row arithmetic of this tiny model is
    unaffected by the batch, so greedy picks the same tokens."""
    reqs = _requests()
    texts, images = zip(*(captioner._prepare(r) for r in reqs[:2]), strict=True)
    enc = captioner.processor(text=list(texts), images=list(images), padding=True, return_tensors="pt",
                              add_special_tokens=False)
    assert enc["attention_mask"][0, 0] == 0 and enc["attention_mask"][:, -1].all()  # left padding
    first = [r.caption for r in captioner.caption(reqs)]
    assert [r.caption for r in captioner.caption(reqs)] == first
    for batch_size in (1, 4):
        other = TransformersCaptioner.from_config(
            {"model": str(vlm_folder), "device": "cpu", "batch_size": batch_size, "max_new_tokens": MAX_NEW})
        assert [r.caption for r in other.caption(reqs)] == first


def test_conversation_has_one_image_part_per_frame_then_the_prompt(captioner):
    req = CaptionRequest("c", _clip(0), "Describe.", system="Be factual.")
    conv = captioner.conversation(req)
    assert [m["role"] for m in conv] == ["system", "user"]
    assert conv[1]["content"] == [{"type": "image"}] * 4 + [{"type": "text", "text": "Describe."}]
    text, images = captioner._prepare(req)
    assert text.count("<image>") == 4 and text.endswith("<|assistant|>\n")
    assert len(images) == 4 and images[0].mode == "RGB"
    # BGR in, RGB to the processor.
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 0] = 255
    _, (pil,) = captioner._prepare(CaptionRequest("b", [bgr], "x"))
    assert pil.getpixel((0, 0)) == (0, 0, 255)


def test_a_system_prompt_is_rendered(captioner):
    (r,) = captioner.caption([CaptionRequest("s", _clip(1), "Describe.", system="You write dense captions.")])
    (plain,) = captioner.caption([CaptionRequest("s", _clip(1), "Describe.")])
    assert r.status == "ok" and r.prompt_tokens > plain.prompt_tokens


def test_bad_clips_fail_alone(captioner):
    reqs = _requests(3)
    reqs.insert(1, CaptionRequest("gray", [np.zeros((32, 32), np.uint8)], "Describe."))
    reqs.insert(3, CaptionRequest("empty", [], "Describe."))
    results = captioner.caption(reqs)
    assert [r.clip_id for r in results] == ["clip-0", "gray", "clip-1", "empty", "clip-2"]
    assert [r.status for r in results] == ["ok", "failed", "ok", "failed", "ok"]
    assert results[1].error.startswith("scoring_failed:") and "HxWx3 uint8" in results[1].error
    assert "no frames" in results[3].error


def test_a_failing_batch_is_retried_one_by_one(captioner, monkeypatch):
    """A request that breaks generation (here: injected into ``_generate``) fails only its own clip."""
    reqs = _requests(4)
    expected = [r.caption for r in captioner.caption(reqs)]
    reqs[2].prompt = "POISON " + reqs[2].prompt
    real = captioner._generate
    calls = []

    def generate(batch):
        calls.append(len(batch))
        if any("POISON" in text for text, _ in batch):
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(batch)

    monkeypatch.setattr(captioner, "_generate", generate)
    results = captioner.caption(reqs)
    assert [r.status for r in results] == ["ok", "ok", "failed", "ok"]
    assert "simulated" in results[2].error
    assert [r.caption for i, r in enumerate(results) if i != 2] == [c for i, c in enumerate(expected) if i != 2]
    assert calls == [2, 2, 1, 1]  # batch 2 failed, then each of its requests alone


def test_stop_at_eos_is_finish_reason_stop(vlm_folder):
    """Make a token the greedy decode emits later in the caption an extra EOS: generation stops there,
    the EOS is counted but not decoded, and the caption is not truncated."""
    import torch

    cap = TransformersCaptioner.from_config({"model": str(vlm_folder), "batch_size": 1, "max_new_tokens": 12})
    req = _requests(1)[0]
    text, images = cap._prepare(req)
    enc = cap.processor(text=[text], images=[images], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        row = cap.model.generate(**enc, generation_config=cap.generation_config)[0, enc["input_ids"].shape[1]:]
    row = row.tolist()
    stop_at = next(i for i in range(1, len(row)) if row[i] not in row[:i])  # first position of a new token
    eos = row[stop_at]
    cap.eos_ids.add(eos)
    cap.generation_config.eos_token_id = sorted(cap.eos_ids)
    (r,) = cap.caption([req])
    assert r.status == "ok"
    assert r.finish_reason == "stop" and not r.truncated
    assert r.completion_tokens == stop_at + 1
    assert r.caption == cap.tokenizer.decode(row[:stop_at], skip_special_tokens=True).strip()


def test_missing_vlm_is_model_unavailable(tmp_path):
    with pytest.raises(ModelUnavailableError, match="captions.model folder .* does not exist"):
        TransformersCaptioner.from_config({"model": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        TransformersCaptioner.from_config({"model": str(tmp_path / "empty")})
    with pytest.raises(ModelUnavailableError, match="vidgen models pull"):
        TransformersCaptioner.from_config({"model": "someorg/some-vlm"}, cache_dir=tmp_path / "hub")
    folder, where = resolve_vlm({"model": "someorg/some-vlm"}, cache_dir=tmp_path / "hub")
    assert folder is None and "captions.model" in where


def test_a_text_only_model_is_not_a_captioner(lm_folder):
    with pytest.raises(ModelUnavailableError, match="not a vision-language model"):
        TransformersCaptioner.from_config({"model": str(lm_folder)})


def test_bad_device_or_dtype_is_a_config_error(vlm_folder):
    with pytest.raises(ConfigError, match="captions.dtype"):
        TransformersCaptioner.from_config({"model": str(vlm_folder), "dtype": "int8"})
    with pytest.raises(ConfigError, match="captions.device"):
        TransformersCaptioner.from_config({"model": str(vlm_folder), "device": "tpu"})


def test_hf_id_resolves_from_the_cache_offline(vlm_folder, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    install_in_hf_cache(vlm_folder, tmp_path / "hub", "tiny-org/tiny-vlm", commit)
    cap = TransformersCaptioner.from_config({"model": "tiny-org/tiny-vlm", "max_new_tokens": 3},
                                            cache_dir=tmp_path / "hub")
    assert cap.model_id == f"tiny-org/tiny-vlm@{commit}"
    (r,) = cap.caption(_requests(1))
    assert r.status == "ok" and r.model_id == cap.model_id


def test_chat_completion(chat, lm_folder):
    messages = [{"role": "system", "content": "You check captions."},
                {"role": "user", "content": "Caption: a dog runs. Any errors?"}]
    out = chat.complete(messages, max_tokens=8)
    assert out.text
    assert out.prompt_tokens > 10 and 0 < out.completion_tokens <= 8
    assert out.finish_reason in ("stop", "length")
    if out.finish_reason == "length":
        assert out.completion_tokens == 8
    assert chat.complete(messages, max_tokens=8) == out  # greedy: deterministic
    assert chat.model_id == str(lm_folder.resolve())


def test_chat_sampling_is_seeded(chat):
    messages = [{"role": "user", "content": "Describe the video."}]
    greedy = chat.complete(messages, max_tokens=12)
    a = chat.complete(messages, max_tokens=12, temperature=1.5)
    b = chat.complete(messages, max_tokens=12, temperature=1.5)
    assert a == b and a.completion_tokens > 0  # the fixed seed makes sampling reproducible
    assert a.text != greedy.text  # ... and it does sample


def test_chat_errors(chat, tmp_path):
    with pytest.raises(ScoringError):
        chat.complete([{"role": "robot", "content": "hi"}])
    with pytest.raises(ScoringError):
        chat.complete([])
    with pytest.raises(ModelUnavailableError, match="judge.model folder"):
        TransformersChatModel.from_config({"model": str(tmp_path / "missing")})
    with pytest.raises(ModelUnavailableError, match="vidgen models pull"):
        TransformersChatModel.from_config({}, cache_dir=tmp_path / "hub")  # the default id, not cached
