"""CLIP visual scoring: aesthetic quality, temporal consistency, coarse category and a clip embedding.

VidGen-1M's coarse curation tags every clip from its first, middle and last frame with CLIP
(ViT-L/14): an aesthetic score from the LAION aesthetic predictor, the similarity of the first and
last frame (a clip that changes completely is a missed cut or a jump), and a coarse category.
:class:`ClipScorer` computes, per clip (frames are HxWx3 uint8 **BGR**, converted to RGB here):

* ``aesthetic``: the LAION aesthetic head applied to each of the three L2-normalised image embeddings
  (the predictor was trained on single normalised image embeddings), then the **mean of the three
  per-frame scores**. For both published heads (the linear head and the improved "linearMSE" MLP,
  which has no activations) the head is affine, so this equals the head applied to the plain mean of
  the normalised embeddings; averaging outputs is also exact for the ReLU variant. ``None`` when no
  head file is present (``ClipScorer.aesthetic_unavailable`` says why).
* ``consistency``: cosine similarity of the first and last frame embeddings.
* ``embedding``: the L2-normalised mean of the three normalised frame embeddings (float32), kept for
  caption-video alignment later.
* ``category`` / ``category_score`` / ``category_top3``: zero-shot classification of ``embedding``
  against the taxonomy in ``assets/categories.yaml``. Each category's text embedding is a prompt
  ensemble (every template x every description, normalised, averaged, renormalised). Scores are
  **softmax probabilities** over the taxonomy at CLIP's own logit scale (100 for OpenAI CLIP), so
  they lie in [0, 1], sum to 1 over the taxonomy and can be thresholded to flag uncertain clips.

Weights are never downloaded here: an HF id loads only from the local HF cache
(``local_files_only=True``) at a pinned revision, a folder loads as is. ``vidgen models pull`` uses
:data:`DEFAULT_CLIP`, :data:`CLIP_REVISION`, :data:`CLIP_ALLOW_PATTERNS`, :data:`AESTHETIC_HEAD_URL`
and :func:`default_head_path` to fetch them on a networked machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ...backends.hf_models import HFSource, hf_cache_dir, resolve_hf_model
from ...common.errors import ConfigError, ModelUnavailableError, ScoringError
from .settings import VisualSettings

# --- model registry ---------------------------------------------------------------------------------

DEFAULT_CLIP = "openai/clip-vit-large-patch14"
# Commit of huggingface.co/openai/clip-vit-large-patch14 (its `main` since 2023; the snapshot folder
# name found in HF caches and in pinned-revision tables of other projects).
CLIP_REVISION = "32bd64288804d66eefd0ccbe215aa642df71cc41"
# Files the scorer needs from the CLIP repo (the repo also holds TF/Flax/.bin copies of the weights).
CLIP_ALLOW_PATTERNS = (
    "config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
    "vocab.json", "merges.txt", "special_tokens_map.json", "model.safetensors",
)

# The improved LAION aesthetic predictor (christophschuhmann/improved-aesthetic-predictor), trained on
# L2-normalised OpenAI CLIP ViT-L/14 image embeddings; predicts a 1-10 rating.
AESTHETIC_HEAD_FILE = "sac+logos+ava1-l14-linearMSE.pth"
AESTHETIC_HEAD_URL = (
    "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac%2Blogos%2Bava1-l14-linearMSE.pth"
)
AESTHETIC_HEAD_MD5 = "b1047fd767a00134b8fd6529bf19521a"

# Used when the taxonomy file gives no templates.
DEFAULT_TEMPLATES = ("a video of {}.", "a photo of {}.", "footage of {}.")



def models_cache_dir() -> Path:
    """Where vidgen keeps weights that do not live in the HF or torch hub caches."""
    env = os.environ.get("VIDGEN_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vidgen-dagster" / "models"


def default_head_path() -> Path:
    return models_cache_dir() / "laion" / AESTHETIC_HEAD_FILE


def clip_revision(cfg: VisualSettings | dict) -> str:
    """The revision to load: ``visual.clip_revision``, else the pinned one for :data:`DEFAULT_CLIP`,
    else ``main`` (whatever ``refs/main`` of the local HF cache points at)."""
    s = VisualSettings.of(cfg)
    rev = (s.clip_revision or "").strip()
    if rev:
        return rev
    return CLIP_REVISION if (s.clip_model or DEFAULT_CLIP).strip() == DEFAULT_CLIP else "main"


def aesthetic_head_path(cfg: VisualSettings | dict) -> tuple[Path, bool]:
    """The aesthetic head to load: ``visual.aesthetic_head`` when set, else :func:`default_head_path`;
    and whether it was configured."""
    configured = (VisualSettings.of(cfg).aesthetic_head or "").strip()
    return (Path(configured).expanduser() if configured else default_head_path()), bool(configured)


def _resolve(cfg: VisualSettings | dict, cache_dir: str | Path | None) -> HFSource:
    s = VisualSettings.of(cfg)
    spec = (s.clip_model or DEFAULT_CLIP).strip()
    return resolve_hf_model(spec, clip_revision(s), key="visual.clip_model", what="CLIP model",
                            cache_dir=cache_dir, allow_patterns=CLIP_ALLOW_PATTERNS)


def resolve_clip(cfg: VisualSettings | dict, *, cache_dir: str | Path | None = None) -> tuple[str | None, str]:
    """Where CLIP would load from, without loading: (local folder or None, a human-readable where/why).

    ``cfg`` is the visual settings (or the raw ``visual`` section). An HF id is looked up only in the local HF cache
    (``cache_dir``, default ``$HF_HUB_CACHE``) at :func:`clip_revision`; the returned folder is the
    cached snapshot.
    """
    src = _resolve(cfg, cache_dir)
    return src.folder, src.where


def _resolve_device(name: str) -> str:
    import torch

    name = (name or "auto").strip()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"visual.device {name!r} requested but CUDA is not available")
    return name


def _folder_fingerprint(folder: Path) -> str:
    """Names, sizes and mtimes of a model folder's files: changes when the weights are replaced."""
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- LAION aesthetic head ---------------------------------------------------------------------------

# Indices of the nn.Linear layers inside ``layers`` (an nn.Sequential) for the two MLP variants of
# improved-aesthetic-predictor: "linearMSE" is Linear,Dropout,Linear,Dropout,Linear,Dropout,Linear,Linear
# (no activations); "reluMSE" puts a ReLU after each of the first four Linears.
_MLP_LAYOUTS = {
    (0, 2, 4, 6, 7): "mlp",
    (0, 3, 6, 9, 11): "mlp-relu",
}


class AestheticHead:
    """A LAION aesthetic predictor head loaded from its published ``torch.save`` state dict.

    Formats (detected from the keys): the improved predictor's MLP (``layers.N.weight``/``bias``,
    :data:`_MLP_LAYOUTS`) and the original LAION-AI/aesthetic-predictor linear head (``weight`` (1, D),
    ``bias``). Input: L2-normalised CLIP image embeddings (N, D); output: scores (N,).
    """

    def __init__(self, state: dict[str, Any], name: str = "head"):
        import torch
        from torch import nn

        self.name = name
        state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        if set(state) == {"weight", "bias"}:
            if state["weight"].ndim != 2 or state["weight"].shape[0] != 1:
                raise ConfigError(f"aesthetic head {name}: linear weight must be (1, D), "
                                  f"got {tuple(state['weight'].shape)}")
            self.kind = "linear"
            net: nn.Module = nn.Linear(state["weight"].shape[1], 1)
        else:
            self.kind, net = _mlp_for(state, name)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:  # shapes that do not chain
            raise ConfigError(f"aesthetic head {name}: state dict does not fit the {self.kind} layout: {exc}") from exc
        self.net = net.float().eval()
        self._forward = net["layers"] if isinstance(net, nn.ModuleDict) else net
        for p in self.net.parameters():
            p.requires_grad_(False)
        first = next(p for n, p in self.net.named_parameters() if n.endswith("weight"))
        self.dim = int(first.shape[1])

    @classmethod
    def load(cls, path: str | Path) -> AestheticHead:
        import torch

        path = Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated download, not a torch file, pickled module (not a state dict)
            raise ModelUnavailableError(f"cannot read aesthetic head {path}: {exc} "
                                        "(re-fetch it with `vidgen models pull`)") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a Lightning checkpoint
        if not isinstance(state, dict):
            raise ConfigError(f"aesthetic head {path} is not a state dict (got {type(state).__name__})")
        return cls(state, name=path.name)

    def __call__(self, embeddings):
        """Scores (N,) float32 for L2-normalised embeddings (N, D) (a torch tensor on the CPU)."""
        return self._forward(embeddings.float()).reshape(-1)


def _mlp_for(state: dict, name: str):
    """(kind, module) for an improved-predictor MLP state dict; the module's keys equal the state's."""
    from torch import nn

    indices: set[int] = set()
    for key in state:
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "layers" or not parts[1].isdigit() or parts[2] not in ("weight", "bias"):
            raise ConfigError(f"aesthetic head {name}: unrecognised key {key!r} (expected the improved "
                              "predictor's `layers.N.weight` MLP or the linear head's `weight`/`bias`)")
        indices.add(int(parts[1]))
    layout = tuple(sorted(indices))
    if layout not in _MLP_LAYOUTS:
        raise ConfigError(f"aesthetic head {name}: unrecognised MLP layout (Linear layers at {layout}; "
                          f"known: {sorted(_MLP_LAYOUTS)})")
    kind = _MLP_LAYOUTS[layout]
    modules: list[nn.Module] = []
    for i in range(layout[-1] + 1):
        if i in indices:
            w = state.get(f"layers.{i}.weight")
            if w is None or w.ndim != 2:
                raise ConfigError(f"aesthetic head {name}: layers.{i}.weight missing or not 2-D")
            modules.append(nn.Linear(w.shape[1], w.shape[0]))
        elif kind == "mlp-relu" and i - 1 in indices:
            modules.append(nn.ReLU())
        else:
            modules.append(nn.Dropout(0.0))  # the original's Dropout: a no-op in eval, keeps the indices
    # A ModuleDict keyed "layers" has exactly the published keys (``layers.0.weight``, ...).
    return kind, nn.ModuleDict({"layers": nn.Sequential(*modules)})


# --- taxonomy ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Taxonomy:
    """Categories for zero-shot tagging: each name with its descriptions, and the prompt templates."""

    templates: tuple[str, ...]
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    source: str

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.categories]

    def prompts(self, index: int) -> list[str]:
        """Every template filled with every description of category ``index``."""
        _, descriptions = self.categories[index]
        return [t.format(d) for d in descriptions for t in self.templates]

    @property
    def hash(self) -> str:
        payload = json.dumps([self.templates, self.categories])
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def load_taxonomy(spec: str | Path) -> Taxonomy:
    """Read a taxonomy YAML (format documented in ``assets/categories.yaml``); a relative path is taken
    under the assets folder."""
    from ...common.config import ASSETS_DIR

    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = ASSETS_DIR / path
    if not path.is_file():
        raise ConfigError(f"visual.categories: taxonomy file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"taxonomy {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list) or not data["categories"]:
        raise ConfigError(f"taxonomy {path} must hold a non-empty `categories` list")
    templates = data.get("templates") or list(DEFAULT_TEMPLATES)
    if not isinstance(templates, list) or not all(isinstance(t, str) and t.count("{}") == 1 for t in templates):
        raise ConfigError(f"taxonomy {path}: `templates` must be strings with exactly one `{{}}`")
    categories: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for i, entry in enumerate(data["categories"]):
        if isinstance(entry, str):
            entry = {"name": entry}
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"taxonomy {path}: category #{i} needs a `name`")
        name = name.strip()
        if name in seen:
            raise ConfigError(f"taxonomy {path}: duplicate category {name!r}")
        seen.add(name)
        prompts = entry.get("prompts") or [name]
        if not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise ConfigError(f"taxonomy {path}: `prompts` of {name!r} must be a list of strings")
        categories.append((name, tuple(p.strip() for p in prompts)))
    return Taxonomy(tuple(templates), tuple(categories), str(path))


# --- scorer -----------------------------------------------------------------------------------------

def _features(out):
    """Projected features from get_image/text_features: a tensor (transformers 4.x) or, in 5.x, an
    output object whose ``pooler_output`` holds the projection."""
    return out if hasattr(out, "ndim") else out.pooler_output


def _check_frame(frame: np.ndarray, where: str) -> np.ndarray:
    """The RGB copy of a BGR frame; :class:`ScoringError` naming ``where`` when it is not HxWx3 uint8."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ScoringError(f"{where}: frames must be HxWx3 uint8 BGR arrays, got {got}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise ScoringError(f"{where}: frame of size {frame.shape[1]}x{frame.shape[0]} is too small")
    return np.ascontiguousarray(frame[:, :, ::-1])  # BGR -> RGB


class ClipScorer:
    """CLIP image/text embeddings, the LAION aesthetic head and zero-shot categories (see module doc)."""

    backend = "transformers"

    def __init__(self, model, processor, *, model_id: str, taxonomy: Taxonomy, device: str = "cpu",
                 batch_size: int = 16, head: AestheticHead | None = None, head_id: str | None = None,
                 aesthetic_unavailable: str | None = None, text_cache: Path | None = None,
                 weights_fingerprint: str = ""):
        """``text_cache``: a folder where the taxonomy's text embeddings are kept between loads (they cost
        tens of seconds for ViT-L on a CPU), keyed by ``model_id``, ``weights_fingerprint`` (what identifies
        the weights beyond the id, e.g. file sizes and mtimes of a local folder) and the taxonomy."""
        import torch

        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.processor = processor
        self.model_id = model_id
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.dim = int(model.config.projection_dim)
        self.head = head
        self.head_id = head_id
        self.aesthetic_unavailable = aesthetic_unavailable
        if head is not None and head.dim != self.dim:
            raise ConfigError(f"aesthetic head {head.name} takes {head.dim}-d embeddings but CLIP {model_id} "
                              f"projects to {self.dim}-d (the head must match the CLIP model it was trained on)")
        self.taxonomy = taxonomy
        self.categories = taxonomy.names
        # CLIP's learned temperature (exp(logit_scale) = 100 for OpenAI CLIP, clamped as in training).
        self.logit_scale = float(min(torch.exp(model.logit_scale.detach().float()).item(), 100.0))
        self.max_text_len = int(model.config.text_config.max_position_embeddings)
        self.category_embeddings = self._cached_category_embeddings(text_cache, weights_fingerprint)  # (C, D)

    @classmethod
    def from_config(cls, cfg: VisualSettings | dict, *, cache_dir: str | Path | None = None) -> ClipScorer:
        """Load from the visual settings (or the raw ``visual`` section). Raises :class:`ModelUnavailableError`
        when CLIP is not available locally; a missing aesthetic head only disables ``aesthetic``."""
        s = VisualSettings.of(cfg)
        src = _resolve(s, cache_dir)
        if src.folder is None:
            raise ModelUnavailableError(src.where)
        try:
            from transformers import CLIPModel, CLIPProcessor
        except ImportError as exc:
            raise ModelUnavailableError(f"the transformers package is not installed ({exc})") from exc

        if src.repo_id:
            # The real hub code path, kept offline: the id at the snapshot's commit, from the cache only.
            source: str = src.repo_id
            kwargs: dict[str, Any] = {"revision": src.revision, "cache_dir": hf_cache_dir(cache_dir)}
            model_id = f"{src.repo_id}@{src.revision}"
        else:
            source, kwargs, model_id = src.folder, {}, src.folder
        try:
            model = CLIPModel.from_pretrained(source, local_files_only=True, **kwargs)
            processor = CLIPProcessor.from_pretrained(source, local_files_only=True, **kwargs)
        except Exception as exc:  # corrupt weights, missing tokenizer/preprocessor files, not a CLIP config
            raise ModelUnavailableError(f"cannot load CLIP from {src.where}: {exc}") from exc

        head, head_id, unavailable = None, None, None
        head_path, configured = aesthetic_head_path(s)
        if head_path.is_file():
            head = AestheticHead.load(head_path)
            head_id = f"{head_path.name}:{head.kind}:md5={_md5(head_path)[:12]}"
        else:
            key = "visual.aesthetic_head" if configured else "the default aesthetic head"
            unavailable = f"{key} {head_path} not found (`vidgen models pull` fetches {AESTHETIC_HEAD_FILE})"

        return cls(model, processor, model_id=model_id,
                   taxonomy=load_taxonomy(s.categories or VisualSettings.categories),
                   device=_resolve_device(s.device),
                   batch_size=s.batch_size, head=head, head_id=head_id,
                   aesthetic_unavailable=unavailable, text_cache=models_cache_dir() / "clip-text",
                   # A hub snapshot is immutable (its commit is in model_id); a folder can be overwritten.
                   weights_fingerprint="" if src.repo_id else _folder_fingerprint(Path(src.folder)))

    # -- embeddings ----------------------------------------------------------------------------------

    def _image_embeddings(self, rgb: list[np.ndarray]):
        """Normalised image embeddings (N, D) float32 on the CPU, batched by ``batch_size``."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(rgb), self.batch_size):
                # channels_last stated, not inferred: a 3-pixel-high frame would otherwise look CHW.
                pixels = self.processor(images=rgb[i:i + self.batch_size], return_tensors="pt",
                                        input_data_format="channels_last")["pixel_values"]
                feats = _features(self.model.get_image_features(pixel_values=pixels.to(self.device)))
                out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros((0, self.dim))

    def _text_embeddings(self, texts: list[str], batch: int = 64):
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch):
                tok = self.processor.tokenizer(texts[i:i + batch], padding=True, truncation=True,
                                               max_length=self.max_text_len, return_tensors="pt")
                feats = _features(self.model.get_text_features(
                    input_ids=tok["input_ids"].to(self.device), attention_mask=tok["attention_mask"].to(self.device)))
                out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros((0, self.dim))

    def embed_images(self, frames: list[np.ndarray]) -> np.ndarray:
        """L2-normalised image embeddings (N, dim) float32 of BGR frames."""
        return self._image_embeddings([_check_frame(f, f"frame #{i}") for i, f in enumerate(frames)]).numpy()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """L2-normalised text embeddings (N, dim) float32 (long texts are truncated to CLIP's 77 tokens)."""
        return self._text_embeddings(list(texts)).numpy()

    def _cached_category_embeddings(self, folder: Path | None, fingerprint: str):
        import torch

        if folder is None:
            return self._category_embeddings()
        payload = json.dumps([self.model_id, fingerprint, self.taxonomy.hash, self.max_text_len, self.dim])
        path = Path(folder) / f"{hashlib.sha256(payload.encode()).hexdigest()[:24]}.npy"
        try:
            cached = np.load(path)
            if cached.shape == (len(self.categories), self.dim) and np.isfinite(cached).all():
                return torch.from_numpy(cached.astype(np.float32))
        except (OSError, ValueError):  # absent, unreadable or truncated: recompute
            pass
        emb = self._category_embeddings()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, emb.numpy())
            os.replace(tmp, path)  # atomic: concurrent shards never read a half-written file
        except OSError:  # a read-only cache only costs the recomputation next time
            pass
        return emb

    def _category_embeddings(self):
        import torch

        prompts = [self.taxonomy.prompts(i) for i in range(len(self.categories))]
        flat = self._text_embeddings([p for group in prompts for p in group])
        rows, start = [], 0
        for group in prompts:  # prompt ensemble: mean of the normalised embeddings, renormalised
            rows.append(flat[start:start + len(group)].mean(0))
            start += len(group)
        return torch.nn.functional.normalize(torch.stack(rows), dim=-1)

    # -- scoring -------------------------------------------------------------------------------------

    def score_clips(self, clips: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[dict]:
        """Scores for each clip's (first, middle, last) BGR frames; all frames are batched together.

        Raises :class:`ScoringError` when a clip's frames are malformed (checked before any inference).
        """
        import torch

        rgb: list[np.ndarray] = []
        for i, frames in enumerate(clips):
            if len(frames) != 3:
                raise ScoringError(f"clip #{i}: expected (first, middle, last) frames, got {len(frames)}")
            rgb += [_check_frame(f, f"clip #{i}") for f in frames]
        if not rgb:
            return []
        emb = self._image_embeddings(rgb).reshape(len(clips), 3, self.dim)
        consistency = (emb[:, 0] * emb[:, 2]).sum(-1)
        clip_emb = torch.nn.functional.normalize(emb.mean(1), dim=-1)
        probs = torch.softmax(self.logit_scale * clip_emb @ self.category_embeddings.T, dim=-1)
        top = torch.topk(probs, k=min(3, probs.shape[1]), dim=-1)
        aesthetic = None
        if self.head is not None:
            with torch.inference_mode():
                aesthetic = self.head(emb.reshape(-1, self.dim)).reshape(len(clips), 3).mean(1)

        out = []
        for i in range(len(clips)):
            top3 = [[self.categories[int(j)], float(p)] for p, j in zip(top.values[i], top.indices[i], strict=True)]
            out.append({
                "aesthetic": None if aesthetic is None else float(aesthetic[i]),
                "consistency": float(consistency[i]),
                "category": top3[0][0],
                "category_score": top3[0][1],
                "category_top3": top3,
                "embedding": clip_emb[i].numpy().astype(np.float32).tolist(),
            })
        return out


def build_visual_scorer(cfg: VisualSettings | dict, *, cache_dir: str | Path | None = None) -> ClipScorer | None:
    """The configured visual scorer (None for ``backend: none``); ``cfg``: the visual settings (or the raw
    ``visual`` section)."""
    s = VisualSettings.of(cfg)
    backend = s.backend.strip()
    if backend == "none":
        return None
    if backend != "transformers":
        raise ConfigError(f"visual.backend must be transformers or none; got {backend!r}")
    return ClipScorer.from_config(s, cache_dir=cache_dir)
