"""Near-duplicate clips (issue 12 item 4): the same footage remuxed or re-encoded keeps one clip set.

The catalog query is checked against brute force on hashes with known distances; the whole path runs
through the real `vidgen curate` on real footage (remuxed and re-encoded copies of one shared video)
in two separate runs, so the second shard is decided against the first through the catalog."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import yaml
from cli_helpers import vidgen

from vidgen_dagster.core.coarse import near_duplicates as nd
from vidgen_dagster.core.coarse.scoring.phash import hamming, phash
from vidgen_dagster.core.common.store import Store

SHARED = "cuts_fades__pyscenedetect_testvideo.mp4"  # 24 s, 720p, four shots (cuts and fades)
MAX_DISTANCE = 10  # the default (assets/defaults.yaml)
ROLES = ("first", "middle", "last")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _flip(v: int, bits: list[int]) -> int:
    u = v & ((1 << 64) - 1)
    for b in bits:
        u ^= 1 << b
    return _signed(u)


def _catalog(tmp_path: Path, shards: dict[str, list[dict]], embeddings: dict[str, list[float] | None]) -> Store:
    """A home with only the tables the near-duplicate query reads; shards registered in dict order."""
    store = Store(tmp_path / "home")
    for i, (shard, clips) in enumerate(shards.items()):
        store.write("shard_manifest", shard, [{"shard": shard, "path": f"/x/{shard}.mp4", "size_bytes": 1,
                                               "mtime_ns": 1, "registered_at": f"2026-01-01T00:00:0{i}"}])
        store.write("clips", shard, [{"clip_id": c["clip_id"], "video_id": c["video_id"], "shard": shard,
                                      "duration_s": c.get("duration_s", 5.0)} for c in clips])
        store.write(nd.TABLE, shard, [{"clip_id": c["clip_id"], "shard": shard, "status": "ok",
                                       **{f"phash_{r}": c[r] for r in ROLES}} for c in clips])
        store.write("visual_scores", shard, [{"clip_id": c["clip_id"], "shard": shard, "status": "ok",
                                              "embedding": embeddings.get(c["clip_id"])} for c in clips])
    return store


def test_banded_catalog_join_finds_every_pair_within_the_distance_and_only_earlier_shards(tmp_path):
    rng = random.Random(12)
    base = [{r: _signed(rng.getrandbits(64)) for r in ROLES} for _ in range(60)]
    a = [{"clip_id": f"a-{i}", "video_id": f"va-{i % 7}", **h} for i, h in enumerate(base)]
    # Shard b: copies of a's clips with 0..d+3 bits flipped per frame (anywhere in the 64), plus fresh hashes.
    b = []
    for i, h in enumerate(base):
        k = i % (MAX_DISTANCE + 4)
        b.append({"clip_id": f"b-{i}", "video_id": f"vb-{i % 5}",
                  **{r: _flip(h[r], rng.sample(range(64), k)) for r in ROLES}})
    b += [{"clip_id": f"b-new-{i}", "video_id": "vb-new", **{r: _signed(rng.getrandbits(64)) for r in ROLES}}
          for i in range(20)]
    # Copies whose one frame (each of the three in turn) is another picture: two of three frames decide.
    for i, h in enumerate(base[:12]):
        odd = ROLES[i % 3]
        b.append({"clip_id": f"b-odd-{i}", "video_id": "vb-odd",
                  **{r: _signed(rng.getrandbits(64)) if r == odd else _flip(h[r], rng.sample(range(64), i))
                     for r in ROLES}})
    # Shard c is registered after b: b must not see it even though it holds exact copies.
    c = [{"clip_id": f"c-{i}", "video_id": "vc", **h} for i, h in enumerate(base[:10])]
    # Embeddings: b-1's contradicts its match (vetoed), b-2 has none (the hash decides alone).
    emb = {"a-1": [1.0, 0.0], "b-1": [0.0, 1.0], "a-3": [1.0, 0.0], "b-3": [0.9, 0.1], "a-2": [1.0, 0.0]}
    store = _catalog(tmp_path, {"sh-a": a, "sh-b": b, "sh-c": c}, emb)

    got = {(m.clip_id, m.other): m for m in nd.find_matches(store, "sh-b", MAX_DISTANCE, 0.9)}
    every = a + b
    want = set()
    for x in b:
        for y in every:
            if x["clip_id"] == y["clip_id"] or x["video_id"] == y["video_id"]:
                continue
            if (sorted(hamming(x[r], y[r]) for r in ROLES)[1] <= MAX_DISTANCE
                    and (x["clip_id"], y["clip_id"]) != ("b-1", "a-1")):
                want.add((x["clip_id"], y["clip_id"]))
    assert set(got) == want
    assert ("b-3", "a-3") in got and got[("b-3", "a-3")].cosine > 0.9
    assert ("b-2", "a-2") in got and got[("b-2", "a-2")].cosine is None
    assert not any(o.startswith("c-") for _, o in got)
    # Without the embedding veto b-1 matches a-1 (one bit flipped per frame).
    assert ("b-1", "a-1") in {(m.clip_id, m.other) for m in nd.find_matches(store, "sh-b", MAX_DISTANCE, None)}


def test_keeper_rules_earlier_shard_wins_then_longest_in_the_shard(tmp_path):
    h = {r: _signed(random.Random(r).getrandbits(64)) for r in ROLES}
    other = {r: _flip(v, list(range(0, 64, 2))) for r, v in h.items()}  # 32 bits away: different footage
    store = _catalog(tmp_path, {
        "sh-1": [{"clip_id": "old", "video_id": "v1", "duration_s": 3.0, **h}],
        "sh-2": [{"clip_id": "long", "video_id": "v2", "duration_s": 9.0, **h},
                 {"clip_id": "x2", "video_id": "v3", "duration_s": 4.0, **other},
                 {"clip_id": "x1", "video_id": "v4", "duration_s": 4.0, **other},
                 {"clip_id": "alone", "video_id": "v5", "duration_s": 4.0,
                  **{r: _flip(v, list(range(1, 64, 2))) for r, v in h.items()}}],
    }, {})
    config = {"thresholds": {"near_duplicate_max_distance": MAX_DISTANCE, "near_duplicate_min_cosine": 0.9}}
    decisions = [{"clip_id": c, "decision": "kept", "reasons": [], "passed_thresholds": True}
                 for c in ("long", "x1", "x2", "alone")]
    rows = [{"clip_id": "long", "duration_s": 9.0}, {"clip_id": "x1", "duration_s": 4.0},
            {"clip_id": "x2", "duration_s": 4.0}, {"clip_id": "alone", "duration_s": 4.0}]
    summary = nd.apply(store, "sh-2", config, decisions, rows)
    by = {d["clip_id"]: d for d in decisions}
    assert by["long"]["near_duplicate_of"] == "old"  # the earlier shard's clip wins, though shorter
    assert by["long"]["decision"] == "rejected" and by["long"]["reasons"] == ["near_duplicate: of old (distance 0)"]
    assert by["x2"]["near_duplicate_of"] == "x1" and by["x1"]["near_duplicate_of"] is None  # tie: smaller id
    assert by["alone"]["near_duplicate_of"] is None and by["alone"]["decision"] == "kept"
    assert summary["near_duplicate_rejected"] == 2 and summary["near_duplicate_earlier_matches"] == 1


def test_a_later_shard_points_to_the_keeper_an_earlier_selection_recorded(tmp_path):
    """c matches b only (8 bits from b, 16 from a); b's own selection said it duplicates a: c points to a."""
    a = {r: _signed(random.Random(r).getrandbits(64)) for r in ROLES}
    b = {r: _flip(v, list(range(8))) for r, v in a.items()}
    c = {r: _flip(v, list(range(8, 16))) for r, v in b.items()}
    store = _catalog(tmp_path, {"sh-1": [{"clip_id": "a", "video_id": "va", **a}],
                                "sh-2": [{"clip_id": "b", "video_id": "vb", **b}],
                                "sh-3": [{"clip_id": "c", "video_id": "vc", **c}]}, {})
    config = {"thresholds": {"near_duplicate_max_distance": MAX_DISTANCE, "near_duplicate_min_cosine": None}}
    for shard, cid in (("sh-1", "a"), ("sh-2", "b"), ("sh-3", "c")):
        decisions = [{"clip_id": cid, "shard": shard, "decision": "kept", "reasons": [], "passed_thresholds": True}]
        nd.apply(store, shard, config, decisions, [{"clip_id": cid, "duration_s": 5.0}])
        store.write("coarse_selection", shard, decisions)
    got = {r["clip_id"]: r["near_duplicate_of"] for r in store.rows("coarse_selection")}
    assert got == {"a": None, "b": "a", "c": "a"}


# ------------------------------------------------------------------------------- real footage, real CLI




@pytest.mark.media
def test_remuxed_and_reencoded_copies_curated_in_two_runs_keep_one_clip_set(tmp_path, media):
    from footage_copies import reencode, remux

    src = media / SHARED
    run1, run2 = tmp_path / "run1", tmp_path / "run2"
    run1.mkdir()
    run2.mkdir()
    (run1 / "original.mp4").symlink_to(src)  # the shared file itself, not a copy
    remux(src, run1 / "remux_a.mp4", "near-duplicate test copy a")
    remux(src, run2 / "remux_b.mp4", "near-duplicate test copy b")
    reencode(src, run2 / "reencoded.mp4", crf=32, width=640)
    cfg = tmp_path / "cfg.yaml"
    # OCR off and no motion floor: fast, and the keeper's clips are kept (this footage is nearly static).
    cfg.write_text(yaml.safe_dump({"ocr": {"backend": "none"}, "thresholds": {"motion_min": None}}))
    home = tmp_path / "home"

    t0 = time.perf_counter()
    r1 = vidgen("curate", str(run1), "--home", str(home), "--config", str(cfg), "--until", "coarse_selection")
    assert r1.returncode == 0, r1.stdout + r1.stderr
    t1 = time.perf_counter()
    store = Store(home)
    first_shard = {r["shard"] for r in store.rows("coarse_selection")}
    assert len(first_shard) == 1
    first_file = store.table_file("coarse_selection", first_shard.pop())
    first_bytes = Path(first_file).read_bytes()
    r2 = vidgen("curate", str(run2), "--home", str(home), "--until", "coarse_selection")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    t2 = time.perf_counter()
    print(f"curate run 1 (2 files) {t1 - t0:.1f} s, run 2 (2 files) {t2 - t1:.1f} s")

    rows = store.query("""
        SELECT regexp_replace(v.path, '.*/', '') AS file, c.clip_id, c.start_s, s.shard, s.decision,
               s.reasons, s.near_duplicate_of, p.phash_first, p.phash_middle, p.phash_last
        FROM coarse_selection s JOIN clips c USING (clip_id, shard) JOIN videos v ON v.video_id = c.video_id
        JOIN perceptual_hashes p USING (clip_id, shard)""").to_pylist()
    files = {r["file"] for r in rows}
    assert files == {"original.mp4", "remux_a.mp4", "remux_b.mp4", "reencoded.mp4"}
    assert len({r["shard"] for r in rows}) == 2
    assert Path(first_file).read_bytes() == first_bytes  # the earlier shard was not re-decided

    by_id = {r["clip_id"]: r for r in rows}
    keepers = {r["file"] for r in rows if r["near_duplicate_of"] is None}
    assert len(keepers) == 1, keepers  # one clip set: every clip of one file, none of the others
    keeper = keepers.pop()
    assert keeper in ("original.mp4", "remux_a.mp4")  # the first run's shard wins
    kept_set = [r for r in rows if r["file"] == keeper]
    assert len(kept_set) >= 3  # the shots of the video are not merged with each other
    assert all(r["decision"] == "kept" for r in kept_set), kept_set
    for r in rows:
        if r["file"] == keeper:
            continue
        target = by_id[r["near_duplicate_of"]]
        assert target["file"] == keeper
        assert abs(target["start_s"] - r["start_s"]) < 0.2  # the same shot, not another one
        assert r["decision"] == "rejected"
        assert any(x.startswith(f"near_duplicate: of {target['clip_id']}") for x in r["reasons"])

    # The distances behind the decision: copies of one shot within the threshold, different shots far out.
    def dist(x, y):  # the rule's: the median of the three frames' distances
        return sorted(hamming(x[f"phash_{k}"], y[f"phash_{k}"]) for k in ROLES)[1]

    same = [dist(r, by_id[r["near_duplicate_of"]]) for r in rows if r["near_duplicate_of"]]
    different = [dist(x, y) for x in rows for y in rows if abs(x["start_s"] - y["start_s"]) > 0.5]
    print(f"copies of a shot: max {max(same)} bits; different shots: min {min(different)} bits")
    assert max(same) <= MAX_DISTANCE < min(different)


@pytest.mark.media
def test_phash_of_a_real_frame_survives_recompression_and_scaling(media):
    import av
    import cv2

    with av.open(str(media / SHARED)) as c:
        frames = [f.to_ndarray(format="bgr24") for i, f in zip(range(200), c.decode(video=0), strict=False) if i in (45, 199)]
    a, other = frames
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(a, (426, 240), interpolation=cv2.INTER_AREA),
                            [cv2.IMWRITE_JPEG_QUALITY, 40])
    small = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert hamming(phash(a), phash(small)) <= 4
    assert hamming(phash(a), phash(other)) > 2 * MAX_DISTANCE


@pytest.mark.media
def test_clip_embeddings_from_the_real_loader_are_compared_when_present(tmp_path, media):
    """The optional path: with CLIP embeddings (the tiny random-weight CLIP, loaded by the real loader)
    the pair's cosine is computed in the catalog query and confirms the remuxed copy."""
    from footage_copies import remux
    from tiny_models import TINY_CLIP_DIM, build_laion_head, build_tiny_clip

    from vidgen_dagster.core.coarse import stages as coarse
    from vidgen_dagster.core.common.config import load_config
    from vidgen_dagster.core.ingest import shards as shardlib
    from vidgen_dagster.core.ingest import videos as ingest_videos
    from vidgen_dagster.core.scenes import stages as scene_stages

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "original.mp4").symlink_to(media / SHARED)
    remux(media / SHARED, folder / "remux.mp4", "near-duplicate CLIP test copy")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"ocr": {"backend": "none"}, "visual": {
        "clip_model": str(build_tiny_clip(tmp_path / "clip")), "device": "cpu",
        "aesthetic_head": str(build_laion_head(tmp_path / "head.pth", TINY_CLIP_DIM))}}))
    config = load_config(cfg)
    store = Store(tmp_path / "home")
    (m,) = shardlib.register(store, [shardlib.FileEntry.of(p) for p in sorted(folder.iterdir())], shard_size=2)
    ingest_videos.run_shard_manifest(store, m.shard)
    ingest_videos.run_videos(store, m.shard)
    scene_stages.run_scenes(store, m.shard, config)
    scene_stages.run_clips(store, m.shard, config)
    coarse.run_frames(store, m.shard, config)
    for name in ("visual_scores", nd.TABLE):
        coarse.run_stage(name, store, m.shard, config)
    assert all(r["embedding"] for r in store.rows("visual_scores", m.shard))

    matches = nd.find_matches(store, m.shard, MAX_DISTANCE, config["thresholds"]["near_duplicate_min_cosine"])
    n_clips = len(store.rows("clips", m.shard))
    assert len(matches) == n_clips  # each clip of one file matches its twin in the other (both ways)
    assert all(x.cosine is not None and x.cosine > 0.99 and x.distance == 0 for x in matches)
    summary = coarse.run_selection(store, m.shard, config)
    assert summary["near_duplicate_rejected"] == n_clips // 2
