"""A tiny random-weight Llama-3.1-style chat model (the default judge's architecture) in the real on-disk format.

:func:`build_tiny_llama3` writes what a hub snapshot of ``meta-llama/Llama-3.1-8B-Instruct`` holds, with
every dimension shrunk: ``config.json`` (``LlamaConfig`` with the 3.1 ``rope_scaling`` of type ``llama3``,
``rope_theta`` 500000, 131072 positions, ``eos_token_id`` = ``<|end_of_text|>``, ``<|eom_id|>``,
``<|eot_id|>``) + ``model.safetensors``, ``generation_config.json`` with the checkpoint's sampling defaults
(temperature 0.6, top_p 0.9), and a fast tokenizer whose byte-level BPE is **trained here** with the
Llama-3 pre-tokenizer regex and the Llama-3 special tokens (``<|begin_of_text|>`` added by the
post-processor, ``<|start_header_id|>``, ``<|end_header_id|>``, ``<|eot_id|>`` = EOS, no pad token) and the
Llama-3.1 chat template's shape (BOS, a system header block with the knowledge-cutoff and date lines
always present, one ``<|start_header_id|>role<|end_header_id|>\\n\\n ... <|eot_id|>`` block per message;
the tool-calling branches are left out).

Sizes: hidden 64, 2 layers, 4 heads of 16, 2 KV heads, intermediate 128. Untied embeddings and a boosted
``<|eot_id|>`` row of ``lm_head``: greedy replies are gibberish that ends on ``<|eot_id|>`` by itself.

:func:`teach_reply` fine-tunes such a model for a few steps so that greedy decoding answers any chat with
one fixed reply (e.g. a JSON verdict), to drive a parser end to end through a real model.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ID = "meta-llama/Llama-3.1-8B-Instruct"
EOT_BOOST = 2.0
MARGIN = 2.0  # logit lead of each taught token over the runner-up

BOT, EOT_TEXT, EOM, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"
START_HEADER, END_HEADER = "<|start_header_id|>", "<|end_header_id|>"
# The first special tokens of the Llama 3 vocabulary, in their real order (ids 128000..128010 there).
SPECIAL_TOKENS = [BOT, EOT_TEXT, "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                  "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", START_HEADER, END_HEADER, EOM, EOT,
                  "<|python_tag|>"]
# Llama 3's pre-tokenizer split (tiktoken cl100k-style: numbers in groups of up to 3 digits).
PRETOKENIZE_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                     r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Llama-3.1-8B-Instruct's chat template without its tool-calling branches: the same text for plain chats.
CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- if not date_string is defined %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_message = \"\" %}\n"
    "{%- endif %}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{{- system_message }}\n"
    "{{- \"<|eot_id|>\" }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim"
    " + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n"
)

_CORPUS = [
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n",
    "You are a careful annotator who checks video captions for errors and answers with a JSON object.",
    'Return only JSON: {"scene_transition": false, "frame_level": false, "reduplication": false, '
    '"rationale": "one continuous shot"}',
    '{"scene_transition": true, "frame_level": false, "reduplication": true, "rationale": "a cut and a loop"}',
    "A golden retriever runs across a sunny park, chasing a red ball while the camera pans slowly to follow it.",
    "The video shows a busy city street at night with neon signs, wet asphalt and cars passing in both directions.",
    "The scene cuts to a different room. First frame: a cat. Second frame: a dog. Third frame: a bird.",
    "system user assistant 0123456789 ,.;:!?'\"()-_/",
]


def train_tokenizer(vocab_size: int = 640):
    """A fast tokenizer over a byte-level BPE trained on :data:`_CORPUS` with Llama 3's pre-tokenizer, the
    Llama 3 special tokens, BOS prepended by the post-processor, EOS ``<|eot_id|>`` and no pad token
    (as Llama-3.1-8B-Instruct's ``tokenizer.json`` / ``tokenizer_config.json``)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 3, trainer=trainer)
    tok.add_special_tokens(SPECIAL_TOKENS)
    bos_id = tok.token_to_id(BOT)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOT}:0 $A:0", pair=f"{BOT}:0 $A:0 {BOT}:1 $B:1", special_tokens=[(BOT, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOT, eos_token=EOT, model_max_length=131072,
                                   clean_up_tokenization_spaces=False, model_input_names=["input_ids", "attention_mask"])


def build_tiny_llama3(folder: str | Path, seed: int = 0) -> Path:
    """Write a random-weight tiny Llama-3.1-style chat model (module doc) to ``folder``. Returns the folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    eos = [ids[EOT_TEXT], ids[EOM], ids[EOT]]

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=131072, rms_norm_eps=1e-5,
        # As in Llama-3.1's config.json: llama3 frequency scaling of a 8192-token base context.
        rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192},
        bos_token_id=ids[BOT], eos_token_id=eos, tie_word_embeddings=False, initializer_range=0.2,
        hidden_act="silu", attention_bias=False, mlp_bias=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # make <|eot_id|> likelier, so greedy replies end on it by themselves
        model.lm_head.weight[ids[EOT]] *= EOT_BOOST
    model.generation_config = GenerationConfig(bos_token_id=ids[BOT], eos_token_id=eos, do_sample=True,
                                               temperature=0.6, top_p=0.9)
    model.save_pretrained(folder)
    return folder


def teach_reply(folder: str | Path, prompts: list[list[dict]], reply: str, max_steps: int = 300, lr: float = 1e-2,
                seed: int = 0) -> int:
    """Fine-tune the model in ``folder`` (in place) so that after each chat in ``prompts`` (rendered by
    its own template with the generation prompt) greedy decoding says ``reply`` then ``<|eot_id|>``.

    Loss only on the reply tokens; training stops as soon as every reply token is the argmax given its
    prefix, by a logit margin of :data:`MARGIN` (then greedy decoding reproduces the reply). Returns the steps taken; raises
    ``RuntimeError`` when ``max_steps`` were not enough."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    target = tokenizer(reply + EOT, add_special_tokens=False)["input_ids"]
    rows = []
    for messages in prompts:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + target])
        labels = ids.clone()
        labels[:, :len(prompt)] = -100
        rows.append((ids, labels, len(prompt)))
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(max_steps):
        learnt = True
        opt.zero_grad()
        for ids, labels, n_prompt in rows:
            out = model(input_ids=ids, labels=labels)
            out.loss.backward()
            top2 = out.logits[0, n_prompt - 1:-1].topk(2, dim=-1)
            margin = top2.values[:, 0] - top2.values[:, 1]  # so KV-cache rounding cannot flip a token
            learnt = learnt and bool((top2.indices[:, 0] == ids[0, n_prompt:]).all() and (margin > MARGIN).all())
        if learnt:
            model.eval()
            model.save_pretrained(folder)
            return step
        opt.step()
    raise RuntimeError(f"the reply was not learnt in {max_steps} steps")
