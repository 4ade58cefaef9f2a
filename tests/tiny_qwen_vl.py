"""A tiny random-weight Qwen2.5-VL (the default captioner's architecture) in the real on-disk format.

:func:`build_tiny_qwen_vl` writes what a hub snapshot of ``Qwen/Qwen2.5-VL-7B-Instruct`` holds, with
every dimension shrunk: ``config.json`` + ``model.safetensors`` of a
:class:`~transformers.Qwen2_5_VLForConditionalGeneration` built from the real config classes
(``Qwen2_5_VLConfig`` with its text and vision sub-configs), ``generation_config.json`` with the
checkpoint's own decoding defaults, a ``Qwen2Tokenizer`` whose byte-level BPE is **trained here** (the
Qwen pre-tokenizer regex; the Qwen special tokens ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``,
``<|vision_start|>``, ``<|image_pad|>``, ``<|vision_end|>``, ... appended after the merges as in the real
vocabulary), the real ``Qwen2VLImageProcessor`` / ``Qwen2VLVideoProcessor`` / ``Qwen2_5_VLProcessor``
and the checkpoint's ChatML chat template (one ``<|vision_start|><|image_pad|><|vision_end|>`` per image
part, a default system turn when none is given).

Sizes: text hidden 64 (4 heads of 16, 2 KV heads, 2 layers, M-RoPE sections 2+3+3 = head_dim / 2);
vision hidden 32 (2 heads, depth 2, patch 14, temporal patch 2, spatial merge 2, one window-attention
block and one full-attention block). The image processor's ``min_pixels``/``max_pixels`` keep a frame at
2x2 to 6x6 patches of 14 px, i.e. 1 to 9 ``<|image_pad|>`` tokens per frame after the 2x2 merge,
depending on its aspect ratio (the grid is per image, so frames of different shapes give different
counts: :func:`image_tokens` computes them as the processor does).

Loads through ``AutoProcessor`` / ``AutoModelForImageTextToText`` ``.from_pretrained(folder,
local_files_only=True)``, the captioner's own loader.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ID = "Qwen/Qwen2.5-VL-7B-Instruct"
PATCH = 14
MERGE = 2
TEMPORAL_PATCH = 2
MIN_PIXELS = (PATCH * MERGE) ** 2  # one merged token at least
MAX_PIXELS = 9 * (PATCH * MERGE) ** 2  # at most 9 merged tokens (e.g. 84x84 px)
EOS_BOOST = 2.0  # scale of <|im_end|>'s lm_head row, so some greedy captions end by themselves

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
# The special tokens of the Qwen2.5 vocabulary, in their real order (ids 151643.. in the real one).
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
                  "<|box_end|>", "<|quad_start|>", "<|quad_end|>", VISION_START, VISION_END, "<|vision_pad|>",
                  IMAGE_PAD, VIDEO_PAD]

# The chat template of Qwen/Qwen2.5-VL-7B-Instruct (chat_template.json), verbatim in behaviour: a default
# system turn, ChatML turns, one vision block per image/video part (optionally numbered), no BOS.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "A person walks along a beach at sunset while waves roll onto the sand.",
    "The camera pans slowly across a city skyline at night, lights reflecting on the river.",
    "A close-up of hands kneading dough on a wooden table in a bright kitchen.",
    "Describe this video in detail: the scene, the subjects, their actions and the camera motion.",
    "These are frames sampled in order from one continuous video clip.",
    "A red car drives down a winding mountain road surrounded by green pine trees.",
    "You are a helpful assistant. You write dense, factual video captions.",
    "system user assistant 0123456789 ,.;:!?'\"()-_/",
]


def _vocab_and_merges(vocab_size: int = 512) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE trained on :data:`_CORPUS` with Qwen2's pre-tokenizer (its split regex, then
    byte-level without a prefix space). Every byte is in the alphabet, so any text round-trips."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 3, trainer=trainer)
    import json

    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def train_tokenizer():
    """A real ``Qwen2Tokenizer`` over a locally trained vocabulary, with the Qwen2.5-VL special tokens
    (eos ``<|im_end|>``, pad ``<|endoftext|>``, no BOS, as in the instruct checkpoint)."""
    from transformers import AddedToken
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    vocab, merges = _vocab_and_merges()
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None, eos_token=IM_END,
                               pad_token=ENDOFTEXT, model_max_length=32768, clean_up_tokenization_spaces=False)
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True) for t in SPECIAL_TOKENS]})
    return tokenizer


def image_tokens(height: int, width: int) -> int:
    """``<|image_pad|>`` tokens of one frame of ``height`` x ``width`` px: the processor's grid
    (smart_resize with this model's min/max pixels) divided by the 2x2 merge."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=PATCH * MERGE, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    return (h // PATCH) * (w // PATCH) // (MERGE * MERGE)


def build_tiny_qwen_vl(folder: str | Path, seed: int = 0) -> Path:
    """Write a random-weight tiny Qwen2.5-VL (module doc) with its processor, tokenizer, chat template
    and generation config to ``folder``. Returns the folder."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    hidden = 64
    text = {
        "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "use_sliding_window": False,
        # M-RoPE: temporal/height/width sections of the rotary half-dimension (head_dim 16 -> 8 = 2 + 3 + 3),
        # the real model's [16, 24, 24] of 64 scaled down.
        "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1000000.0},
        "bos_token_id": ids[ENDOFTEXT], "eos_token_id": ids[IM_END], "initializer_range": 0.2,
    }
    vision = {
        "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "in_channels": 3,
        "patch_size": PATCH, "spatial_merge_size": MERGE, "temporal_patch_size": TEMPORAL_PATCH,
        "window_size": 112, "fullatt_block_indexes": [1], "out_hidden_size": hidden, "tokens_per_second": 2,
        "hidden_act": "silu",
    }
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, image_token_id=ids[IMAGE_PAD], video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START], vision_end_token_id=ids[VISION_END], tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    with torch.no_grad():  # make the end-of-turn token likelier: some greedy captions stop on their own
        model.lm_head.weight[ids[IM_END]] *= EOS_BOOST
    # The checkpoint's generation_config.json (its sampling defaults; the captioner overrides them).
    model.generation_config = GenerationConfig(
        bos_token_id=ids[ENDOFTEXT], eos_token_id=[ids[IM_END], ids[ENDOFTEXT]], pad_token_id=ids[ENDOFTEXT],
        do_sample=True, temperature=0.1, top_k=1, top_p=0.001, repetition_penalty=1.05,
    )
    model.save_pretrained(folder)

    sizes = {"min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=PATCH, temporal_patch_size=TEMPORAL_PATCH,
                                              merge_size=MERGE, **sizes),
        video_processor=Qwen2VLVideoProcessor(patch_size=PATCH, temporal_patch_size=TEMPORAL_PATCH,
                                              merge_size=MERGE, **sizes),
        tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder
