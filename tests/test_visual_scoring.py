"""CLIP visual scorer on tiny random-weight models written in the real formats (no mocks, no downloads):
loading (folder, offline HF cache, missing), the LAION head formats checked against a hand computation,
and the per-clip scores' invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import TINY_CLIP_DIM, build_laion_head, build_tiny_clip, install_in_hf_cache

from vidgen_dagster.core.coarse.scoring import visual as vs
from vidgen_dagster.core.common.config import load_defaults
from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError, ScoringError

HEAD_LINEAR_IDX = {"mlp": (0, 2, 4, 6, 7), "mlp-relu": (0, 3, 6, 9, 11)}


@pytest.fixture(scope="module", autouse=True)
def models_home(tmp_path_factory):
    """Keep the scorer's models cache (default head, cached text embeddings) out of the real one."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("vidgen_models")
        mp.setenv("VIDGEN_MODELS", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="module")
def heads(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("heads")
    return {kind: build_laion_head(folder / f"{kind}.pth", TINY_CLIP_DIM, kind=kind, seed=i)
            for i, kind in enumerate(("mlp", "mlp-relu", "linear"))}


def visual_cfg(clip: Path | str, head: Path | str = "", **overrides) -> dict:
    cfg = {**load_defaults()["visual"], "clip_model": str(clip), "aesthetic_head": str(head), "device": "cpu"}
    return {**cfg, **overrides}


@pytest.fixture(scope="module")
def scorer(models_home, tiny_clip, heads) -> vs.ClipScorer:
    return vs.ClipScorer.from_config(visual_cfg(tiny_clip, heads["mlp"]))


def frame(seed: int, h: int = 320, w: int = 568) -> np.ndarray:
    """A BGR frame with structure (gradients + blocks + noise), different for each seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * (seed + 1)) % 256, (yy * 3 + seed * 40) % 256, ((xx + yy) // 4) % 256], axis=-1)
    img = img + rng.integers(0, 40, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def clips() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    a, b, c, d = frame(1), frame(2), frame(3), frame(4, h=320, w=426)
    return [(a, b, a), (a, b, c), (d, c, b)]


def hand_head(state: dict, kind: str, x: torch.Tensor) -> torch.Tensor:
    """The LAION heads written out with plain tensor ops (eval mode: dropout is the identity)."""
    if kind == "linear":
        return (x @ state["weight"].T + state["bias"]).reshape(-1)
    idx = HEAD_LINEAR_IDX[kind]
    for n, i in enumerate(idx):
        x = x @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]
        if kind == "mlp-relu" and n < len(idx) - 1:
            x = torch.relu(x)
    return x.reshape(-1)


# --- registry ---------------------------------------------------------------------------------------

def test_clip_revision_is_the_pin_only_for_the_default_model():
    """An empty ``clip_revision`` means the pinned commit for the default CLIP and ``main`` for any other id;
    an explicit revision always wins."""
    assert vs.clip_revision({"clip_model": vs.DEFAULT_CLIP, "clip_revision": ""}) == vs.CLIP_REVISION
    assert vs.clip_revision({"clip_model": "org/other", "clip_revision": ""}) == "main"
    assert vs.clip_revision({"clip_model": vs.DEFAULT_CLIP, "clip_revision": "abc"}) == "abc"


def test_default_head_path_follows_vidgen_models(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path / "models"))
    assert vs.default_head_path() == tmp_path / "models" / "laion" / vs.AESTHETIC_HEAD_FILE


def test_default_taxonomy():
    tax = vs.load_taxonomy(load_defaults()["visual"]["categories"])
    assert 15 <= len(tax.names) <= 25 and len(set(tax.names)) == len(tax.names)
    assert all(t.count("{}") == 1 for t in tax.templates) and len(tax.templates) >= 3
    assert all(len(tax.prompts(i)) >= len(tax.templates) for i in range(len(tax.names)))


def test_bad_taxonomy(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("templates: ['no placeholder']\ncategories: [people]\n")
    with pytest.raises(ConfigError, match="templates"):
        vs.load_taxonomy(bad)
    bad.write_text("categories: [people, people]\n")
    with pytest.raises(ConfigError, match="duplicate"):
        vs.load_taxonomy(bad)
    with pytest.raises(ConfigError, match="not found"):
        vs.load_taxonomy(tmp_path / "missing.yaml")


# --- loading ----------------------------------------------------------------------------------------

def test_scorer_attributes(scorer, tiny_clip):
    assert scorer.dim == TINY_CLIP_DIM
    assert scorer.model_id == str(tiny_clip.resolve())
    assert scorer.head_id.startswith("mlp.pth:mlp:md5=")
    assert scorer.aesthetic_unavailable is None
    assert scorer.categories == vs.load_taxonomy("categories.yaml").names
    assert scorer.category_embeddings.shape == (len(scorer.categories), TINY_CLIP_DIM)


def test_missing_clip_folder(tmp_path):
    with pytest.raises(ModelUnavailableError, match="does not exist") as err:
        vs.ClipScorer.from_config(visual_cfg(tmp_path / "nope"))
    assert str(tmp_path / "nope") in err.value.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        vs.ClipScorer.from_config(visual_cfg(tmp_path / "empty"))


def test_missing_hub_id_says_how_to_get_it(tmp_path):
    cfg = visual_cfg(vs.DEFAULT_CLIP)
    path, why = vs.resolve_clip(cfg, cache_dir=tmp_path)
    assert path is None
    with pytest.raises(ModelUnavailableError) as err:
        vs.build_visual_scorer(cfg, cache_dir=tmp_path)
    msg = err.value.message
    assert msg == why
    assert f"{vs.DEFAULT_CLIP}@{vs.CLIP_REVISION} not found in the HF cache ({tmp_path})" in msg
    assert "vidgen models pull" in msg and "visual.clip_model" in msg


def test_hub_id_loads_from_local_cache_only(tiny_clip, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    install_in_hf_cache(tiny_clip, tmp_path / "hub", "vidgen-test/tiny-clip", commit)
    pinned = visual_cfg("vidgen-test/tiny-clip", clip_revision=commit)
    scorer = vs.ClipScorer.from_config(pinned, cache_dir=tmp_path / "hub")
    assert scorer.model_id == f"vidgen-test/tiny-clip@{commit}"
    # No pinned revision for a non-registry id: refs/main of the cache, recorded as the commit.
    path, where = vs.resolve_clip(visual_cfg("vidgen-test/tiny-clip"), cache_dir=tmp_path / "hub")
    assert path is not None and Path(path).name == commit and commit in where
    with pytest.raises(ModelUnavailableError, match="not found in the HF cache"):
        vs.ClipScorer.from_config(visual_cfg("vidgen-test/tiny-clip", clip_revision="f" * 40),
                                  cache_dir=tmp_path / "hub")


def test_backend_none_and_unknown(tiny_clip):
    assert vs.build_visual_scorer({"backend": "none"}) is None
    with pytest.raises(ConfigError, match="visual.backend"):
        vs.build_visual_scorer(visual_cfg(tiny_clip, backend="open_clip"))


# --- aesthetic head ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mlp", "mlp-relu", "linear"])
def test_head_formats_match_hand_computation(tiny_clip, heads, kind):
    scorer = vs.ClipScorer.from_config(visual_cfg(tiny_clip, heads[kind]))
    assert scorer.head.kind == kind and scorer.head.dim == TINY_CLIP_DIM
    state = torch.load(heads[kind], map_location="cpu", weights_only=True)
    batch = clips()
    got = scorer.score_clips(batch)
    for c, result in zip(batch, got, strict=True):
        emb = torch.from_numpy(scorer.embed_images(list(c)))
        expected = hand_head(state, kind, emb).mean().item()
        assert result["aesthetic"] == pytest.approx(expected, abs=1e-5)


def test_missing_head_disables_only_aesthetic(tiny_clip, tmp_path):
    scorer = vs.ClipScorer.from_config(visual_cfg(tiny_clip, tmp_path / "absent.pth"))
    assert scorer.head is None and scorer.head_id is None
    assert "absent.pth" in scorer.aesthetic_unavailable and "vidgen models pull" in scorer.aesthetic_unavailable
    result = scorer.score_clips(clips()[:1])[0]
    assert result["aesthetic"] is None
    assert result["consistency"] == pytest.approx(1.0, abs=1e-5) and result["category"] in scorer.categories


def test_default_head_location(tiny_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path))
    scorer = vs.ClipScorer.from_config(visual_cfg(tiny_clip))
    assert scorer.head is None and str(vs.default_head_path()) in scorer.aesthetic_unavailable
    build_laion_head(vs.default_head_path(), TINY_CLIP_DIM, kind="linear")
    scorer = vs.ClipScorer.from_config(visual_cfg(tiny_clip))
    assert scorer.head.kind == "linear" and scorer.head_id.startswith(vs.AESTHETIC_HEAD_FILE)


def test_head_dim_mismatch_is_a_config_error(tiny_clip, tmp_path):
    head = build_laion_head(tmp_path / "l14.pth", 768, kind="mlp")
    with pytest.raises(ConfigError, match="768-d embeddings .* projects to 16-d"):
        vs.ClipScorer.from_config(visual_cfg(tiny_clip, head))


def test_bad_head_files(tmp_path):
    odd = tmp_path / "odd.pth"
    torch.save({"fc.weight": torch.zeros(1, 16), "fc.bias": torch.zeros(1)}, odd)
    with pytest.raises(ConfigError, match="unrecognised key"):
        vs.AestheticHead.load(odd)
    torch.save({f"layers.{i}.weight": torch.zeros(4, 4) for i in (0, 1)}, odd)
    with pytest.raises(ConfigError, match="unrecognised MLP layout"):
        vs.AestheticHead.load(odd)
    torch.save({"weight": torch.zeros(2, 16), "bias": torch.zeros(2)}, odd)
    with pytest.raises(ConfigError, match=r"\(1, D\)"):
        vs.AestheticHead.load(odd)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(ModelUnavailableError, match="cannot read aesthetic head"):
        vs.AestheticHead.load(broken)


# --- scores -----------------------------------------------------------------------------------------

def test_score_clips_invariants(scorer):
    batch = clips()
    results = scorer.score_clips(batch)
    assert len(results) == len(batch)
    for r in results:
        assert set(r) == {"aesthetic", "consistency", "category", "category_score", "category_top3", "embedding"}
        emb = np.asarray(r["embedding"], dtype=np.float32)
        assert emb.shape == (TINY_CLIP_DIM,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
        assert isinstance(r["aesthetic"], float)
        assert r["category"] in scorer.categories
        names = [n for n, _ in r["category_top3"]]
        probs = [p for _, p in r["category_top3"]]
        assert len(names) == 3 and len(set(names)) == 3 and names[0] == r["category"]
        assert probs == sorted(probs, reverse=True) and probs[0] == r["category_score"]
        assert 0.0 < r["category_score"] <= 1.0
    assert results[0]["consistency"] == pytest.approx(1.0, abs=1e-5)  # first frame == last frame
    assert results[1]["consistency"] < 1.0 - 1e-4 and results[2]["consistency"] < 1.0 - 1e-4
    assert scorer.score_clips([]) == []


def test_scores_follow_their_definitions(scorer):
    """embedding = normalised mean of the frame embeddings; consistency = cos(first, last);
    category_score = softmax over the prompt-ensembled taxonomy at CLIP's logit scale."""
    c = clips()[2]
    r = scorer.score_clips([c])[0]
    frames = torch.from_numpy(scorer.embed_images(list(c)))
    assert torch.allclose(frames.norm(dim=-1), torch.ones(3), atol=1e-5)
    mean = F.normalize(frames.mean(0), dim=0)
    assert np.allclose(r["embedding"], mean.numpy(), atol=1e-5)
    assert r["consistency"] == pytest.approx(float(frames[0] @ frames[2]), abs=1e-5)
    tax = scorer.taxonomy
    cats = torch.stack([F.normalize(torch.from_numpy(scorer.embed_texts(tax.prompts(i))).mean(0), dim=0)
                        for i in range(len(tax.names))])
    probs = torch.softmax(scorer.logit_scale * cats @ mean, dim=0)
    assert r["category"] == tax.names[int(probs.argmax())]
    assert r["category_score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_category_embeddings_are_cached(tiny_clip, scorer, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path))
    first = vs.ClipScorer.from_config(visual_cfg(tiny_clip))
    (cached,) = (tmp_path / "clip-text").glob("*.npy")
    assert torch.allclose(first.category_embeddings, scorer.category_embeddings, atol=1e-6)
    # The next load reads the file (proved by planting different values in it) ...
    planted = np.roll(first.category_embeddings.numpy(), 1, axis=0)
    np.save(cached, planted)
    assert np.array_equal(vs.ClipScorer.from_config(visual_cfg(tiny_clip)).category_embeddings.numpy(), planted)
    # ... a corrupt file is recomputed and replaced ...
    cached.write_bytes(b"junk")
    again = vs.ClipScorer.from_config(visual_cfg(tiny_clip))
    assert torch.allclose(again.category_embeddings, first.category_embeddings, atol=1e-6)
    # ... and another taxonomy gets its own entry.
    tax = tmp_path / "tax.yaml"
    tax.write_text("categories: [people, animals]\n")
    other = vs.ClipScorer.from_config(visual_cfg(tiny_clip, categories=str(tax)))
    assert other.categories == ["people", "animals"]
    assert len(list((tmp_path / "clip-text").glob("*.npy"))) == 2


def test_embed_texts_normalised(scorer):
    t = scorer.embed_texts(["a dog running on grass", "a city at night"])
    assert t.shape == (2, TINY_CLIP_DIM) and t.dtype == np.float32
    assert np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)


def test_deterministic_and_batch_size_independent(scorer, tiny_clip, heads):
    batch = clips()
    first, second = scorer.score_clips(batch), scorer.score_clips(batch)
    assert first == second
    small = vs.ClipScorer.from_config(visual_cfg(tiny_clip, heads["mlp"], batch_size=2))
    for a, b in zip(first, small.score_clips(batch), strict=True):
        assert a["category"] == b["category"]
        for key in ("aesthetic", "consistency", "category_score"):
            assert a[key] == pytest.approx(b[key], abs=1e-5)
        assert np.allclose(a["embedding"], b["embedding"], atol=1e-5)


def test_bgr_is_converted(scorer):
    """The scorer converts BGR to RGB: a frame and its channel-swapped copy embed differently, and the
    swapped copy equals the frame fed as RGB by hand."""
    f = frame(7)
    swapped = np.ascontiguousarray(f[:, :, ::-1])
    e = scorer.embed_images([f, swapped])
    assert not np.allclose(e[0], e[1], atol=1e-3)
    pixels = scorer.processor(images=[swapped], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        out = scorer.model.get_image_features(pixel_values=pixels)
    manual = F.normalize(getattr(out, "pooler_output", out), dim=-1)[0].numpy()
    assert np.allclose(e[0], manual, atol=1e-5)


def test_malformed_frames_raise(scorer):
    gray = np.zeros((32, 32), np.uint8)
    with pytest.raises(ScoringError, match="clip #1"):
        scorer.score_clips([clips()[0], (gray, gray, gray)])
    with pytest.raises(ScoringError, match=r"\(first, middle, last\)"):
        scorer.score_clips([(frame(1), frame(2))])
