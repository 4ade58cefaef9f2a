"""Tiny random-weight models in the real on-disk formats, for tests that must not download anything.

They load through the same code paths as the real weights (``from_pretrained(..., local_files_only=True)``,
``torch.load(..., weights_only=True)``), so a test exercises the loader, not a mock.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TINY_CLIP_DIM = 16  # projection_dim of build_tiny_clip


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: every byte mapped to a printable unicode character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def write_clip_tokenizer(folder: str | Path):
    """Write a CLIP BPE tokenizer (``vocab.json``, ``merges.txt``) to ``folder`` and load it back.

    A vocabulary with no merges: every byte-level character alone and as a word end (``</w>``), plus the
    special tokens (``<|startoftext|>`` 0, ``<|endoftext|>`` 1, also the padding token, as in OpenAI CLIP).
    Real CLIP tokenization rules, just one token per character."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = sorted(set(_bytes_to_unicode().values()))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in alphabet:
            vocab[ch + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(folder)


def build_tiny_clip(folder: str | Path, seed: int = 0) -> Path:
    """Write a random-weight CLIP (projection dim 16, 32 px images) with its tokenizer and image
    processor to ``folder``, in the layout of a hub snapshot. Returns the folder."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder = Path(folder)
    tokenizer = write_clip_tokenizer(folder)

    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2},
        projection_dim=TINY_CLIP_DIM,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


# openai/clip-vit-large-patch14 (the default ``visual.clip_model``) as its config.json gives it: the ViT-L/14
# image tower (24 layers of 1024, 16 heads, 14 px patches of a 224 px image: 257 tokens), the 12-layer 768-wide
# text tower over 77 positions, both projected to 768, which is the input the LAION aesthetic head was trained on.
CLIP_VIT_L14 = {
    "text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                    "num_hidden_layers": 12, "max_position_embeddings": 77, "vocab_size": 49408,
                    "hidden_act": "quick_gelu"},
    "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                      "num_hidden_layers": 24, "image_size": 224, "patch_size": 14, "hidden_act": "quick_gelu"},
    "projection_dim": 768,
    "logit_scale_init_value": 2.6592,
}


def clip_vit_l14(folder: str | Path, *, layers: int | None = None, real_vocab: bool = False, save: bool = True,
                 seed: int = 0):
    """A random-weight CLIP of :data:`CLIP_VIT_L14`'s shape: (model, processor); written to ``folder`` in the
    layout of a hub snapshot when ``save``.

    Every width is the real one. ``layers`` cuts both towers to that many layers (shape checks stay cheap);
    ``real_vocab`` keeps the 49408-row token embedding table (real memory) instead of the local tokenizer's
    size. The image processor is ``CLIPImageProcessor()``'s defaults, which are OpenAI's
    preprocessor_config.json (shortest edge 224, centre crop 224, bicubic, OpenAI mean/std)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder = Path(folder)
    tokenizer = write_clip_tokenizer(folder)
    text = dict(CLIP_VIT_L14["text_config"], bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(CLIP_VIT_L14["vision_config"])
    if not real_vocab:
        text["vocab_size"] = len(tokenizer)
    if layers is not None:
        text["num_hidden_layers"] = vision["num_hidden_layers"] = layers
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=CLIP_VIT_L14["projection_dim"],
                        logit_scale_init_value=CLIP_VIT_L14["logit_scale_init_value"])
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer)
    if save:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    return model, processor


def install_in_hf_cache(model_folder: str | Path, cache_dir: str | Path, repo_id: str, commit: str) -> Path:
    """Lay ``model_folder`` out as the HF hub cache does (``models--org--name/snapshots/<commit>``,
    ``refs/main``), so a repo id resolves offline. Returns the snapshot folder."""
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    shutil.copytree(model_folder, snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def build_laion_head(path: str | Path, dim: int, kind: str = "mlp", seed: int = 0) -> Path:
    """Write a random LAION aesthetic head with ``torch.save`` in a published state-dict format.

    ``mlp``: improved-aesthetic-predictor (``layers.{0,2,4,6,7}``: D->1024->128->64->16->1);
    ``mlp-relu``: its ReLU variant (``layers.{0,3,6,9,11}``); ``linear``: LAION-AI/aesthetic-predictor
    (``weight`` (1, D), ``bias``).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    sizes = [dim, 1024, 128, 64, 16, 1]

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * 0.05

    if kind == "linear":
        state = {"weight": rand(1, dim), "bias": rand(1)}
    elif kind in ("mlp", "mlp-relu"):
        indices = (0, 2, 4, 6, 7) if kind == "mlp" else (0, 3, 6, 9, 11)
        state = {}
        for i, (n_in, n_out) in zip(indices, zip(sizes, sizes[1:], strict=False), strict=True):
            state[f"layers.{i}.weight"] = rand(n_out, n_in)
            state[f"layers.{i}.bias"] = rand(n_out)
    else:
        raise ValueError(f"unknown head kind {kind!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
