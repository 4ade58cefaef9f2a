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


def build_tiny_clip(folder: str | Path, seed: int = 0) -> Path:
    """Write a random-weight CLIP (projection dim 16, 32 px images) with its tokenizer and image
    processor to ``folder``, in the layout of a hub snapshot. Returns the folder."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A BPE vocabulary with no merges: every byte-level character alone and as a word end (`</w>`),
    # plus the special tokens. Real CLIP tokenization rules, just one token per character.
    alphabet = sorted(set(_bytes_to_unicode().values()))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in alphabet:
            vocab[ch + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer.from_pretrained(folder)

    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
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
