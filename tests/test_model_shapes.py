"""The default models' architectures at their real widths, loaded exactly as the defaults load them (issue 15).

* CLIP ViT-L/14 (``visual.clip_model`` default): every width of openai/clip-vit-large-patch14's config
  (``tiny_models.CLIP_VIT_L14``; one layer per tower to stay cheap), installed in an HF cache as the
  default id at the pinned revision, with a LAION improved-predictor head of its real 768-d input at the
  default head path, loaded by ``build_visual_scorer`` from the shipped ``visual`` defaults, scoring real
  frames: the projection, the head and the caption-alignment text embedding must agree on 768.
* torchvision RAFT large at the configured flow size (``motion.short_side``): random weights from the same
  factory saved where the default loader looks (the torch hub cache), picked up by ``backend: auto``.

Random weights built here; nothing is downloaded. Frames are real footage as the frames stage stores them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tiny_models import CLIP_VIT_L14, build_laion_head, clip_vit_l14, install_in_hf_cache

from vidgen_dagster.core.coarse.frames import decode_jpeg, encode_jpeg
from vidgen_dagster.core.coarse.scoring import motion
from vidgen_dagster.core.coarse.scoring import visual as vs
from vidgen_dagster.core.common import media as medialib
from vidgen_dagster.core.common.config import load_defaults
from vidgen_dagster.core.common.errors import ConfigError

VIDEO = "hd_30s__moviepy_big_buck_bunny_0_30.webm"  # 1280x720 -> 568x320 stored frames
L14_DIM = CLIP_VIT_L14["projection_dim"]
CAPTION = ("A large grey rabbit steps out of a burrow in a sunny meadow and watches a butterfly land on a flower "
           "while the camera pans slowly to the right across the grass.")


@pytest.fixture(scope="module")
def stored_frames(media: Path) -> list[np.ndarray]:
    """Three (frame, frame two later) pairs spread over the video, scaled and JPEG-coded as the frames
    stage keeps them (``frames.short_side``, ``frames.jpeg_quality``)."""
    cfg = load_defaults()["frames"]
    path = media / VIDEO
    p = medialib.probe(path)
    size = medialib.analysis_size(p.width, p.height, int(cfg["short_side"]), p.sample_aspect_ratio)
    starts = {0, p.frame_count // 2, p.frame_count - 3}
    out = [decode_jpeg(encode_jpeg(d.image, int(cfg["jpeg_quality"])))
           for d in medialib.decode_frames(path, p.stream_index, size, p.start_time_s or 0.0)
           if d.index in starts or d.index - 2 in starts]
    assert len(out) == 6 and out[0].shape == (size[1], size[0], 3)
    return out


def test_clip_vit_l14_shape_loads_as_the_default_and_feeds_the_laion_head(tmp_path, monkeypatch, stored_frames):
    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path / "models"))  # default head path and text-embedding cache
    folder = tmp_path / "clip-vit-large-patch14"
    clip_vit_l14(folder, layers=1)
    hub = tmp_path / "hub"
    install_in_hf_cache(folder, hub, vs.DEFAULT_CLIP, vs.CLIP_REVISION)
    build_laion_head(vs.default_head_path(), L14_DIM, kind="mlp")  # the published linearMSE layout, 768 in

    cfg = load_defaults()["visual"]  # as shipped: the default id at the pinned revision, the default head path
    assert cfg["clip_model"] == vs.DEFAULT_CLIP and not cfg["clip_revision"] and not cfg["aesthetic_head"]
    # Two of the shipped categories (the full taxonomy's 420 prompts cost tens of seconds even at one layer).
    taxonomy = vs.load_taxonomy(cfg["categories"])
    (tmp_path / "categories.yaml").write_text(yaml.safe_dump({"templates": list(taxonomy.templates), "categories": [
        {"name": name, "prompts": list(prompts)} for name, prompts in taxonomy.categories[:2]]}))
    cfg = {**cfg, "categories": str(tmp_path / "categories.yaml")}
    scorer = vs.build_visual_scorer(cfg, cache_dir=hub)
    assert scorer.model_id == f"{vs.DEFAULT_CLIP}@{vs.CLIP_REVISION}"
    assert scorer.aesthetic_unavailable is None and scorer.head.kind == "mlp"
    assert scorer.dim == scorer.head.dim == L14_DIM

    loaded = scorer.model.config
    for tower in ("vision_config", "text_config"):
        for key, value in CLIP_VIT_L14[tower].items():
            if key not in ("num_hidden_layers", "vocab_size"):  # the two dimensions cut for cost
                assert getattr(getattr(loaded, tower), key) == value, (tower, key)
    assert loaded.projection_dim == L14_DIM and scorer.logit_scale == pytest.approx(np.exp(2.6592), rel=1e-4)

    # The pipeline's own input: BGR 568x320 frames -> the processor's 224 px crops -> 257 tokens of 1024.
    triple = (stored_frames[0], stored_frames[2], stored_frames[4])
    pixels = scorer.processor(images=[np.ascontiguousarray(f[:, :, ::-1]) for f in triple], return_tensors="pt",
                              input_data_format="channels_last")["pixel_values"]
    assert tuple(pixels.shape) == (3, 3, 224, 224) and pixels.dtype == torch.float32
    with torch.inference_mode():
        hidden = scorer.model.vision_model(pixel_values=pixels).last_hidden_state
    assert tuple(hidden.shape) == (3, (224 // 14) ** 2 + 1, 1024)

    clips = [triple, (stored_frames[1], stored_frames[3], stored_frames[5])]
    scores = scorer.score_clips(clips)
    assert scorer.category_embeddings.shape == (len(scorer.categories), L14_DIM)
    for clip, sc in zip(clips, scores, strict=True):
        emb = np.asarray(sc["embedding"], dtype=np.float32)
        assert emb.shape == (L14_DIM,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-4)
        assert sc["category"] in scorer.categories and -1.0 <= sc["consistency"] <= 1.0
        # The head really ran on the 768-d embeddings: its mean over the three frames, by hand.
        frame_emb = torch.from_numpy(scorer.embed_images(list(clip)))
        with torch.inference_mode():
            expected = float(scorer.head(frame_emb).mean())
        assert np.isfinite(sc["aesthetic"]) and sc["aesthetic"] == pytest.approx(expected, abs=1e-5)

    # caption_checks alignment: a caption's text embedding against the stored clip embedding, in one space.
    text = scorer.embed_texts([CAPTION])
    assert text.shape == (1, L14_DIM) and -1.0 <= float(text[0] @ np.asarray(scores[0]["embedding"])) <= 1.0

    # A head of the vision tower's width (the pooled output before projection) is refused by name.
    wrong = build_laion_head(tmp_path / "head-1024.pth", CLIP_VIT_L14["vision_config"]["hidden_size"])
    with pytest.raises(ConfigError, match=f"takes 1024-d embeddings but CLIP {vs.DEFAULT_CLIP}.* projects to 768-d"):
        vs.build_visual_scorer({**cfg, "aesthetic_head": str(wrong)}, cache_dir=hub)


def test_raft_large_at_the_configured_flow_size_through_the_default_loader(tmp_path, monkeypatch, stored_frames):
    from torchvision.models.optical_flow import raft_large

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub_dir = Path(torch.hub.get_dir())
    assert hub_dir.is_relative_to(tmp_path), "torch.hub.set_dir was called elsewhere: TORCH_HOME is not followed"
    cfg = {**load_defaults()["motion"], "raft_model": "raft_large"}  # backend auto, no raft_weights: the hub cache
    assert cfg["backend"] == "auto" and not cfg["raft_weights"]
    assert motion.build_flow_backend(cfg).backend == "dis"  # nothing in the cache yet

    weights = hub_dir / "checkpoints" / motion.raft_weights_file("raft_large")
    weights.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(raft_large(weights=None).state_dict(), weights)
    backend = motion.build_flow_backend(cfg)
    assert isinstance(backend, motion.RaftFlow) and backend.model_id == f"torchvision-raft_large:{weights.name}"
    assert sum(p.numel() for p in backend.net.parameters()) == 5_257_536  # torchvision's raft_large

    pairs = [(stored_frames[0], stored_frames[1]), (stored_frames[2], stored_frames[3])]
    height, width = stored_frames[0].shape[:2]
    w, h = motion.flow_size(width, height, int(cfg["short_side"]))
    assert (w, h) == (456, 256)  # 568x320 at short side 256, multiples of 8
    flows = backend.flow(pairs)  # one batch: motion.batch_size >= 2
    assert len(flows) == 2
    for f in flows:
        assert f.shape == (h, w, 2) and f.dtype == np.float32 and np.isfinite(f).all()
    stats = motion.motion_stats(flows, [2 / 24] * 2)
    assert stats.pairs == 2 and np.isfinite(stats.motion_mean) and np.isfinite(stats.motion_p95)
