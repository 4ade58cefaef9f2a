"""The default models' own architectures, end to end on tiny random-weight copies (no mocks, no hub).

The default captioner is Qwen2.5-VL-7B-Instruct and the default judge Llama-3.1-8B-Instruct. Their tiny
copies (:mod:`tiny_qwen_vl`, :mod:`tiny_llama3`) are built from the real config, tokenizer, processor
and chat-template classes, saved like hub snapshots and loaded by ``TransformersCaptioner.from_config``
/ ``TransformersChatModel.from_config``, i.e. the loaders the defaults use: Qwen2.5-VL's image grid,
per-image placeholder expansion, M-RoPE positions over left-padded batches, Llama 3's header template,
``<|eot_id|>`` stop and llama3 rope scaling all run here.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tiny_llama3 import BOT, EOT, build_tiny_llama3, teach_reply
from tiny_models import install_in_hf_cache
from tiny_qwen_vl import IMAGE_PAD, VISION_END, VISION_START, build_tiny_qwen_vl, image_tokens

from vidgen_dagster.core.backends import transformers_chat
from vidgen_dagster.core.backends.transformers_chat import (
    DEFAULT_JUDGE_LLM,
    TransformersChatModel,
    greedy_or_sampling,
)
from vidgen_dagster.core.captioning import transformers_backend
from vidgen_dagster.core.captioning.base import CaptionRequest, Prompt, load_prompt
from vidgen_dagster.core.captioning.transformers_backend import (
    DEFAULT_VLM,
    TransformersCaptioner,
    resolve_vlm,
)
from vidgen_dagster.core.fine_curation.judge import LLMJudge

MAX_NEW = 6
VISION = VISION_START + IMAGE_PAD + VISION_END
# Frame shapes (h, w) of different aspect ratios: each gives its own grid (1 to 9 image tokens).
SHAPES = [(48, 64), (64, 48), (36, 36), (90, 160), (120, 80), (200, 60)]


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2.5-vl"))


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return build_tiny_llama3(tmp_path_factory.mktemp("tiny-llama3.1"))


def _captioner(folder, **cfg) -> TransformersCaptioner:
    return TransformersCaptioner.from_config({"model": str(folder), "device": "cpu", "max_new_tokens": MAX_NEW,
                                              **cfg})


@pytest.fixture(scope="module")
def qwen(qwen_folder):
    return _captioner(qwen_folder, batch_size=4)


@pytest.fixture(scope="module")
def llama(llama_folder):
    return TransformersChatModel.from_config({"model": str(llama_folder), "device": "cpu"})


def _frames(n: int, shape: tuple[int, int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(n)]


def _mixed_requests() -> list[CaptionRequest]:
    """Clips of 1 to 5 frames, each clip its own frame shape, prompts of different lengths: every batch
    holds rows of different lengths (left-padded) and different image grids."""
    counts = [3, 1, 5, 2, 4, 2]
    return [CaptionRequest(f"clip-{i}", _frames(n, SHAPES[i], i), "Describe this video." + " Be precise." * (i % 3))
            for i, n in enumerate(counts)]


def _expected_prompt_tokens(cap: TransformersCaptioner, req: CaptionRequest) -> int:
    """The rendered prompt's tokens with each image's one ``<|image_pad|>`` expanded to its grid's count."""
    text, _ = cap._prepare(req)
    n_text = len(cap.tokenizer(text, add_special_tokens=False)["input_ids"])
    return n_text - len(req.frames) + sum(image_tokens(*f.shape[:2]) for f in req.frames)


# --- Qwen2.5-VL (the default captioner) -----------------------------------------------------------------

def test_qwen_loads_through_the_default_loader(qwen):
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLImageProcessor

    assert isinstance(qwen.model, Qwen2_5_VLForConditionalGeneration)
    assert isinstance(qwen.processor, Qwen2_5_VLProcessor)
    assert isinstance(qwen.processor.image_processor, Qwen2VLImageProcessor)
    assert qwen.tokenizer.padding_side == "left"
    # EOS: <|im_end|> and <|endoftext|> (the checkpoint's generation_config); pad: <|endoftext|>.
    ids = qwen.tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    assert qwen.eos_ids == set(ids) and qwen.generation_config.pad_token_id == ids[1]


def test_qwen_chat_template_has_one_vision_block_per_frame(qwen):
    req = CaptionRequest("c", _frames(4, (48, 64), 0), "Describe.")
    text, images = qwen._prepare(req)
    # Qwen's own template: a default system turn, the frames in order, then the prompt; no BOS.
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\n" + VISION * 4 + "Describe.<|im_end|>\n<|im_start|>assistant\n")
    assert len(images) == 4 and images[0].mode == "RGB"
    with_system, _ = qwen._prepare(CaptionRequest("c", req.frames, "Describe.", system="Be factual."))
    assert with_system.startswith("<|im_start|>system\nBe factual.<|im_end|>\n") and "helpful" not in with_system
    # The processor expands each placeholder to its own grid: frames of different shapes in one clip.
    shapes = [(48, 64), (90, 160), (36, 36)]
    mixed = CaptionRequest("m", [f for i, s in enumerate(shapes) for f in _frames(1, s, i)], "Describe.")
    text, images = qwen._prepare(mixed)
    enc = qwen.processor(text=[text], images=[images], return_tensors="pt", add_special_tokens=False)
    grid = enc["image_grid_thw"].tolist()
    assert [t for t, _, _ in grid] == [1, 1, 1]  # one frame is one image (temporal patch of a repeated frame)
    assert [h * w // 4 for _, h, w in grid] == [image_tokens(*s) for s in shapes]
    image_id = qwen.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
    assert int((enc["input_ids"] == image_id).sum()) == sum(image_tokens(*s) for s in shapes)
    assert enc["pixel_values"].shape[0] == sum(t * h * w for t, h, w in grid)


def test_qwen_captions_clips_of_several_frames(qwen, qwen_folder):
    reqs = _mixed_requests()
    results = qwen.caption(reqs)
    assert [r.clip_id for r in results] == [r.clip_id for r in reqs]
    for req, r in zip(reqs, results, strict=True):
        assert r.status == "ok", r.error
        assert r.caption and r.caption == r.caption.strip()
        assert r.model_id == str(qwen_folder.resolve())
        # Unpadded prompt length: text tokens plus each frame's grid of image tokens.
        assert r.prompt_tokens == _expected_prompt_tokens(qwen, req)
        assert 1 <= r.completion_tokens <= MAX_NEW and r.truncated == (r.finish_reason == "length")
        if r.completion_tokens < MAX_NEW:  # ended on <|im_end|> before the limit
            assert r.finish_reason == "stop"
    assert [r.extra["batch_size"] for r in results] == [4, 4, 4, 4, 2, 2]


def test_qwen_mixed_batches_give_the_captions_of_one_at_a_time(qwen, qwen_folder):
    """Rows of different frame counts, grids and prompt lengths, left-padded into one batch, caption
    exactly as each clip alone (greedy, float32): padding is masked and M-RoPE positions start at each
    row's first real token."""
    reqs = _mixed_requests()
    prepared = [qwen._prepare(r) for r in reqs[:4]]
    enc = qwen.processor(text=[t for t, _ in prepared], images=[i for _, i in prepared], padding=True,
                         return_tensors="pt", add_special_tokens=False)
    mask = enc["attention_mask"]
    assert mask[:, -1].all() and not mask[:, 0].all()  # left padding, and the rows really differ in length
    batched = qwen.caption(reqs)
    alone = _captioner(qwen_folder, batch_size=1).caption(reqs)
    assert [r.extra["batch_size"] for r in alone] == [1] * len(reqs)
    assert [(r.caption, r.prompt_tokens, r.completion_tokens, r.finish_reason) for r in batched] == \
        [(r.caption, r.prompt_tokens, r.completion_tokens, r.finish_reason) for r in alone]
    assert len({r.caption for r in batched}) > 1  # the clips' inputs matter


def test_qwen_sampling_is_not_the_checkpoints_near_greedy_default(qwen_folder):
    """Qwen2.5-VL's generation_config.json ships top_k=1, top_p=0.001: sampling at a temperature must not
    inherit them (it did: a None top_k was filled back from the checkpoint and every seed gave the
    greedy caption)."""
    req = [CaptionRequest("c", _frames(2, (48, 64), 7), "Describe this video.")]
    greedy = _captioner(qwen_folder).caption(req)[0].caption
    sampled = [_captioner(qwen_folder, temperature=1.0, seed=s).caption(req)[0].caption for s in range(4)]
    assert len(set(sampled)) > 1 and set(sampled) != {greedy}
    assert _captioner(qwen_folder, temperature=1.0, seed=2).caption(req)[0].caption == sampled[2]  # seeded


def test_qwen_resolves_by_the_default_id_from_the_hf_cache_offline(qwen_folder, tmp_path, monkeypatch):
    """As after `vidgen models pull`: the snapshot of the default id (at the pinned commit, if one is
    pinned) in the HF cache, no `model` set, the hub offline."""
    commit = getattr(transformers_backend, "VLM_REVISION", "") or "c" * 40
    hub = tmp_path / "hub"
    install_in_hf_cache(qwen_folder, hub, DEFAULT_VLM, commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, where = resolve_vlm({}, cache_dir=hub)
    assert folder and folder.endswith(commit) and DEFAULT_VLM in where
    cap = TransformersCaptioner.from_config({"device": "cpu", "max_new_tokens": 3}, cache_dir=hub)
    assert cap.model_id == f"{DEFAULT_VLM}@{commit}"
    (r,) = cap.caption([CaptionRequest("c", _frames(2, (64, 48), 1), "Describe.")])
    assert r.status == "ok" and r.model_id == cap.model_id


# --- Llama 3.1 (the default judge) ----------------------------------------------------------------------

def _render(chat: TransformersChatModel, messages: list[dict]) -> str:
    return chat.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def test_llama3_loads_with_llama3_rope_and_eot_stops(llama):
    from transformers import LlamaForCausalLM

    assert isinstance(llama.model, LlamaForCausalLM)
    cfg = llama.model.config
    rope = getattr(cfg, "rope_parameters", None) or cfg.rope_scaling
    assert rope["rope_type"] == "llama3" and rope["factor"] == 8.0 and cfg.max_position_embeddings == 131072
    ids = llama.tokenizer.convert_tokens_to_ids(["<|end_of_text|>", "<|eom_id|>", EOT])
    assert llama.eos_ids == set(ids) and llama.tokenizer.eos_token == EOT
    assert llama.tokenizer.pad_token is None  # as Llama 3.1: padding falls back to an EOS id
    assert llama.pad_token_id in llama.eos_ids


def test_llama3_prompt_has_the_headers_and_one_bos(llama):
    messages = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "A dog runs."}]
    text = _render(llama, messages)
    assert text == (BOT + "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                    "Today Date: 26 Jul 2024\n\nAnswer in JSON.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nA dog runs.<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
    completion = llama.complete(messages, max_tokens=4)
    once = llama.tokenizer(text, add_special_tokens=False)["input_ids"]
    # The template writes BOS and the tokenizer's post-processor would add another: the backend must not.
    assert len(llama.tokenizer(text)["input_ids"]) == len(once) + 1
    assert completion.prompt_tokens == len(once) and once.count(llama.tokenizer.bos_token_id) == 1


def test_llama3_generation_stops_at_eot(llama):
    import torch

    messages = [{"role": "user", "content": "Is the caption accurate? A red car drives down a road."}]
    completion = llama.complete(messages, max_tokens=200)
    assert completion.finish_reason == "stop"
    # The same greedy generation, raw: the reply ends on <|eot_id|>, the token the completion stopped at.
    enc = llama.tokenizer(_render(llama, messages), add_special_tokens=False, return_tensors="pt")
    gen = greedy_or_sampling(llama.model.generation_config, max_new_tokens=200, temperature=0.0,
                             pad_token_id=llama.pad_token_id)
    with torch.inference_mode():
        row = llama.model.generate(**enc, generation_config=gen)[0, enc["input_ids"].shape[1]:].tolist()
    assert row[completion.completion_tokens - 1] == llama.tokenizer.convert_tokens_to_ids(EOT)
    content = row[:completion.completion_tokens - 1]
    assert not set(content) & llama.eos_ids
    assert llama.tokenizer.decode(content, skip_special_tokens=True).strip() == completion.text


def test_judge_records_a_random_llama3s_unparsable_answers_as_failed(llama):
    judge = LLMJudge(llama, load_prompt("judge_v1.txt"), max_attempts=2, max_tokens=12)
    result = judge.judge("A dog runs across a park. Then the scene cuts to a kitchen.")
    assert result.status == "failed" and result.labels is None and result.attempts == 2
    assert result.error.startswith("unparsable judge output after 2 attempts: ")
    assert result.model_id == llama.model_id and result.prompt_version.startswith("judge_v1@")


def test_a_llama3_that_answers_json_gives_verdicts(llama_folder, tmp_path):
    """A copy of the tiny Llama 3.1 taught one JSON reply: the judge's verdicts come through the Llama-3
    template, generation and the <|eot_id|> stop, and parse on the first attempt."""
    folder = shutil.copytree(llama_folder, tmp_path / "taught")
    prompt = Prompt("judge_tiny", "Check this caption for the three errors; reply with JSON only.\n{caption}",
                    str(tmp_path / "judge_tiny.txt"))
    captions = ["A dog runs across a park.", "The scene cuts to a kitchen where a chef slices onions."]
    reply = '{"scene_transition": true, "frame_level": false, "reduplication": false, "rationale": "a cut"}'
    teach_reply(folder, [[{"role": "user", "content": prompt.text.replace("{caption}", c)}] for c in captions],
                reply)
    chat = TransformersChatModel.from_config({"model": str(folder), "device": "cpu"})
    for result in LLMJudge(chat, prompt, max_attempts=1, max_tokens=64).judge_many(captions):
        assert result.status == "ok", result.error
        assert result.labels == {"scene_transition": True, "frame_level": False, "reduplication": False}
        assert result.rationale == "a cut" and result.attempts == 1 and result.raw == reply


def test_llama3_resolves_by_the_default_id_from_the_hf_cache_offline(llama_folder, tmp_path, monkeypatch):
    commit = getattr(transformers_chat, "JUDGE_LLM_REVISION", "") or "d" * 40
    hub = tmp_path / "hub"
    install_in_hf_cache(llama_folder, hub, DEFAULT_JUDGE_LLM, commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    chat = TransformersChatModel.from_config({"device": "cpu"}, cache_dir=hub)
    assert chat.model_id == f"{DEFAULT_JUDGE_LLM}@{commit}"
    completion = chat.complete([{"role": "user", "content": "Hello"}], max_tokens=3)
    assert completion.completion_tokens >= 1 and completion.prompt_tokens > 10
