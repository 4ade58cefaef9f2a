"""A tiny random-weight causal LM with a locally trained tokenizer, for tests that must not download.

:func:`build_tiny_lm` writes a folder in the layout of a hub snapshot (``config.json``,
``model.safetensors``, ``generation_config.json``, ``tokenizer.json``, ``tokenizer_config.json``,
``chat_template.jinja``), so ``AutoTokenizer.from_pretrained(folder)`` and
``AutoModelForCausalLM.from_pretrained(folder)`` load it offline through the same code paths as real
weights, ``apply_chat_template`` works, and ``generate`` stops on the end-of-turn token.

The tokenizer is a byte-level BPE trained with the ``tokenizers`` library on the small corpus below
(any text round-trips, since every byte is in the alphabet). The weights are random: generated text
is gibberish, deterministic for a given seed under greedy decoding.

Keep :func:`build_tiny_lm`'s signature stable: other test helpers import it.
"""

from __future__ import annotations

from pathlib import Path

TINY_LM_VOCAB = 640  # target BPE vocabulary size (256 byte symbols + specials + merges)
TINY_LM_CONTEXT = 4096  # max_position_embeddings
EOS_BOOST = 2.0  # scale of the eos row of lm_head: some replies stop on their own, long ones hit max_tokens

BOS, EOS, PAD = "<|bos|>", "<|im_end|>", "<|pad|>"
IM_START = "<|im_start|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, IM_START, "<image>"]

# ChatML-style template. ``content`` may be a string or a list of OpenAI-style parts (``text`` parts
# are inlined, any other part becomes ``<image>``), so the same template serves text and VLM-style chats.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% else %}{{ '<image>' }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "A golden retriever runs across a sunny park, chasing a red ball while the camera pans slowly to follow it.",
    "The video shows a busy city street at night with neon signs, wet asphalt and cars passing in both directions.",
    "A woman in a blue coat walks along a beach at sunset; waves roll in gently and the light turns warm orange.",
    "Close-up of hands kneading dough on a wooden table, flour dust in the air, soft window light from the left.",
    "The camera tracks a cyclist climbing a mountain road surrounded by pine trees under a clear sky.",
    "A drone shot glides over a green valley with a river, then tilts up to reveal snowy peaks in the distance.",
    "Two children play with a kite in a windy field; the kite dips and rises as clouds drift across the sky.",
    "A chef slices vegetables in a modern kitchen, steam rising from a pot on the stove behind him.",
    "The scene cuts to a different room. First frame: a cat. Second frame: a dog. Third frame: a bird.",
    "The camera slowly zooms in on a candle flame flickering in a dark room, casting long shadows on the wall.",
    "Then the video transitions to an outdoor market where people browse fruit stalls under striped awnings.",
    "The caption repeats itself. The caption repeats itself. The caption repeats itself.",
    'Return only JSON: {"scene_transition": false, "frame_level": false, "reduplication": false, '
    '"rationale": "one continuous shot"}',
    '{"scene_transition": true, "frame_level": false, "reduplication": true, "rationale": "a cut and a loop"}',
    "Describe the video in one dense paragraph: subjects, motion, setting, lighting, atmosphere and camera.",
    "These are frames sampled in order from one continuous video clip. Images attached: 4.",
    "You are a careful annotator who checks video captions for errors and answers with a JSON object.",
]


def _train_tokenizer():
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on :data:`_CORPUS` (well under a second)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_LM_VOCAB,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 3, trainer=trainer)
    return tok


def build_tiny_lm(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny random-weight Llama causal LM (hidden 64, 2 layers, ~640-token byte-level BPE,
    ChatML chat template, bos/eos/pad set, eos = ``<|im_end|>``) to ``folder``. Returns the folder.

    Untied embeddings (a tied random model just echoes its last token) and a boosted eos row: greedy
    replies are varied gibberish that ends by itself after roughly 5-60 tokens, depending on the prompt.

    Loads offline with ``AutoTokenizer.from_pretrained(folder)`` and
    ``AutoModelForCausalLM.from_pretrained(folder)``; builds in well under 3 s.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(),
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, "<image>"],
        model_max_length=TINY_LM_CONTEXT,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)

    bos_id, eos_id, pad_id = (tokenizer.convert_tokens_to_ids(t) for t in (BOS, EOS, PAD))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=TINY_LM_CONTEXT,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=False,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # make the end-of-turn token likelier, so greedy replies stop after ~5-60 tokens
        model.lm_head.weight[eos_id] *= EOS_BOOST
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id, do_sample=False
    )
    model.save_pretrained(folder)
    return folder
