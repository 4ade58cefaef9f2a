"""A tiny random-weight LLaVA in the real on-disk format, for captioning tests that must not download.

:func:`build_tiny_vlm` writes what a hub snapshot of a LLaVA-style VLM holds: ``config.json`` +
``model.safetensors`` (:class:`~transformers.LlavaForConditionalGeneration` with a 2-layer CLIP vision
tower and a 2-layer Llama), a byte-level BPE tokenizer **trained here** with the ``tokenizers``
library, a CLIP image processor at 32 px and a processor with a Jinja chat template. It loads through
the real code paths (``AutoProcessor`` / ``AutoModelForImageTextToText`` ``.from_pretrained(folder,
local_files_only=True)``), so the captioner is exercised end to end without a mock.

Each image becomes ``(32 / 8) ** 2 = 16`` ``<image>`` placeholder tokens (the processor expands the one
``<image>`` the template emits per image part); a 4-frame clip is ~64 image tokens + the prompt.
"""

from __future__ import annotations

from pathlib import Path

TINY_VLM_IMAGE_SIZE = 32
TINY_VLM_PATCH = 8
TINY_VLM_TOKENS_PER_IMAGE = (TINY_VLM_IMAGE_SIZE // TINY_VLM_PATCH) ** 2

IMAGE_TOKEN = "<image>"
# Special tokens of the tiny chat format (role markers and turn end are single tokens, as in real models).
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", IMAGE_TOKEN, "<|system|>", "<|user|>", "<|assistant|>",
                  "<|end|>"]

# Renders OpenAI/HF-style messages. ``content`` is a string or a list of parts; an image part
# ({"type": "image"}) becomes one <image> token, which the LlavaProcessor expands to one placeholder per
# vision patch. A turn ends with <|end|> (the model's EOS); add_generation_prompt opens the assistant turn.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|' + message['role'] + '|>\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '<image>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|end|>\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\n' -}}{%- endif -%}"
)

_CORPUS = [
    "A person walks along a beach at sunset while waves roll onto the sand.",
    "The camera pans slowly across a city skyline at night, lights reflecting on the river.",
    "A close-up of hands kneading dough on a wooden table in a bright kitchen.",
    "Describe this video in detail: the scene, the subjects, their actions and the camera motion.",
    "A red car drives down a winding mountain road surrounded by green pine trees.",
    "Two children play football in a park; a dog runs after the ball.",
    "Snow falls gently on a quiet street lined with parked cars and glowing lamps.",
    "Is the caption accurate? Answer yes or no, then explain briefly.",
    "You are a helpful assistant that writes dense, factual video captions.",
    "0123456789 ,.;:!?'\"()-_/",
]


def train_tokenizer(vocab_size: int = 384):
    """A byte-level BPE tokenizer trained on a small built-in corpus, wrapped as a transformers fast
    tokenizer with ``<s>``/``</s>``/``<pad>``/``<unk>`` and the chat specials (incl. ``<image>``).

    Byte-level: any text (and any decoded id sequence) round-trips, so random generations decode.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|end|>", pad_token="<pad>", unk_token="<unk>",
        additional_special_tokens=SPECIAL_TOKENS[4:], clean_up_tokenization_spaces=False,
    )


def build_tiny_vlm(folder: str | Path, seed: int = 0) -> Path:
    """Write a random-weight tiny LLaVA (CLIP vision 32 px / patch 8, 2-layer Llama, hidden 32) with its
    processor, tokenizer and chat template to ``folder``. Returns the folder. Takes ~1 s."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<|end|>", "<pad>", IMAGE_TOKEN)}

    vision = CLIPVisionConfig(image_size=TINY_VLM_IMAGE_SIZE, patch_size=TINY_VLM_PATCH, hidden_size=32,
                              intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, projection_dim=32)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       bos_token_id=ids["<s>"], eos_token_id=ids["<|end|>"], pad_token_id=ids["<pad>"])
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=ids[IMAGE_TOKEN],
        image_seq_length=TINY_VLM_TOKENS_PER_IMAGE,
        # "full" keeps every vision token incl. CLS, "default" drops CLS: with default the model yields
        # one feature per patch, matching the processor's count (patches + 1 additional - 1).
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    config.pad_token_id = ids["<pad>"]
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=ids["<s>"], eos_token_id=ids["<|end|>"],
                                               pad_token_id=ids["<pad>"])
    model.save_pretrained(folder)

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": TINY_VLM_IMAGE_SIZE},
        crop_size={"height": TINY_VLM_IMAGE_SIZE, "width": TINY_VLM_IMAGE_SIZE},
    )
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=TINY_VLM_PATCH,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE, image_token=IMAGE_TOKEN)
    processor.save_pretrained(folder)
    return folder
