"""Near-duplicate clips: the same footage remuxed or re-encoded, which sha256 dedup cannot see.

Two clips are near-duplicates when they come from different videos and at least two of their first, middle
and last frames' 64-bit pHashes (:mod:`.scoring.phash`, table ``perceptual_hashes``) differ in at most
``thresholds.near_duplicate_max_distance`` bits (the median of the three distances: a copy whose scene pass
ends the clip a few frames elsewhere, around a fade, still matches on the other two frames; measured with
``benchmarks/near_duplicate_distances.py``); when both have a CLIP embedding (``visual_scores.embedding``)
their cosine must also reach ``thresholds.near_duplicate_min_cosine`` (a second, semantic opinion that
vetoes hash collisions; offline there are no embeddings and the hash decides alone). Clips of one video are
never merged: they are different time spans of it, even when a static camera makes them look alike.

Incremental across shards, decided by the catalog: the shard being selected is compared with itself and with
every shard registered before it (``shard_manifest.registered_at``, then shard id), in one DuckDB query.
The candidate pairs come from an equi-join on (frame, band, band bits) of the three hashes: with ``d`` the
threshold, ``K = d + 1`` disjoint bands per hash guarantee (pigeonhole) that two frames within ``d`` bits
agree exactly on one band, so no pair is missed and the exact distances are computed on candidates only,
not on every pair. (Bands are ~64/K bits wide: a larger threshold makes more candidates, never fewer matches.)

Who is kept (deterministic; clips are grouped by connected components of the near-duplicate relation):
* a group that holds a clip of an earlier shard: that clip wins (the earliest shard's, then the longest,
  then the smallest clip id; if it was itself rejected as a near-duplicate, what it points to). Earlier
  shards are never re-decided, so a new shard cannot change an old shard's selection;
* a group inside this shard: the clip that passed the thresholds, then the longest, then the best scored
  (aesthetic, then sharpness), then the smallest clip id.
The others are rejected with reason ``near_duplicate: of <clip> (distance <bits>)`` and ``near_duplicate_of``.

Limit: a shard compares against earlier shards whose ``perceptual_hashes`` exist when its selection runs.
With ``vidgen curate --jobs N`` two shards scored at the same time may not see each other; the summary
counts earlier shards without hashes (``near_duplicate_unchecked_shards``) so that is visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..common.store import Store

TABLE = "perceptual_hashes"
HASH_BITS = 64
# Shards in registration order: the manifest's registration time, then the shard id (one register call
# gives several shards the same time).
_REGISTERED = "(SELECT shard, min(registered_at) AS reg FROM shard_manifest GROUP BY shard)"
_RANK = "row_number() OVER (ORDER BY reg, shard)"


@dataclass(frozen=True)
class Match:
    clip_id: str      # a clip of the shard being selected
    other: str        # a clip of this shard or of an earlier one
    other_rank: int   # the other clip's shard in registration order (this shard's rank for its own clips)
    other_duration: float
    distance: int     # the median over first/middle/last of the pHash Hamming distance
    cosine: float | None


def settings(config: dict) -> tuple[int | None, float | None]:
    t = config["thresholds"]
    return t.get("near_duplicate_max_distance"), t.get("near_duplicate_min_cosine")


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def bands(max_distance: int) -> tuple[int, int]:
    """(number of bands, bits per band) for a threshold: ``max_distance + 1`` bands (at least 2, so a band
    fits a BIGINT mask) of equal width covering the 64 bits."""
    k = max(2, max_distance + 1)
    return k, math.ceil(HASH_BITS / k)


def find_matches(store: Store, shard: str, max_distance: int, min_cosine: float | None) -> list[Match]:
    """Near-duplicate pairs (this shard's clip, a clip of this or an earlier shard), one query."""
    k, w = bands(max_distance)
    mask = (1 << w) - 1
    me = _quote(shard)
    cos_ok = "TRUE" if min_cosine is None else f"(cosine IS NULL OR cosine >= {float(min_cosine)!r})"
    sql = f"""
    WITH ranked AS (SELECT shard, {_RANK} AS rank FROM {_REGISTERED}),
    mine AS (SELECT rank FROM ranked WHERE shard = {me}),
    scope AS (SELECT r.shard, r.rank FROM ranked r, mine WHERE r.rank <= mine.rank),
    h AS (SELECT p.clip_id, p.shard, s.rank, p.phash_first AS f, p.phash_middle AS m, p.phash_last AS l,
                 c.video_id, c.duration_s
          FROM {TABLE} p JOIN scope s USING (shard) JOIN clips c USING (clip_id, shard)
          WHERE p.status = 'ok'),
    new AS (SELECT * FROM h WHERE shard = {me}),
    -- (frame, band, band bits) of every hash: a pair within the distance on a frame agrees on one of its bands
    nf AS (SELECT clip_id, unnest([0, 1, 2]) AS r, unnest([f, m, l]) AS hv FROM new),
    hf AS (SELECT clip_id, unnest([0, 1, 2]) AS r, unnest([f, m, l]) AS hv FROM h),
    nb AS (SELECT clip_id, r, b, (hv >> (b * {w})) & {mask} AS v FROM nf, range({k}) t(b)),
    hb AS (SELECT clip_id, r, b, (hv >> (b * {w})) & {mask} AS v FROM hf, range({k}) t(b)),
    cand AS (SELECT DISTINCT nb.clip_id AS a, hb.clip_id AS o FROM nb JOIN hb USING (r, b, v)
             WHERE nb.clip_id <> hb.clip_id),
    pairs AS (
        SELECT x.clip_id, x.shard, y.clip_id AS other, y.shard AS other_shard, y.rank AS other_rank,
               y.duration_s AS other_duration,
               bit_count(xor(x.f, y.f)) AS d1, bit_count(xor(x.m, y.m)) AS d2, bit_count(xor(x.l, y.l)) AS d3,
               d1 + d2 + d3 - greatest(d1, d2, d3) - least(d1, d2, d3) AS distance  -- the median of the three
        FROM cand JOIN new x ON x.clip_id = cand.a JOIN h y ON y.clip_id = cand.o
        WHERE x.video_id <> y.video_id AND distance <= {int(max_distance)}),
    -- the cosine written out: list_cosine_similarity raises on a NULL embedding even where a CASE or a WHERE
    -- has excluded that row (DuckDB evaluates it on the whole vector); this is NULL there instead
    emb AS (
        SELECT p.clip_id, p.other,
               list_sum(list_transform(list_zip(ex.embedding, ey.embedding), lambda z: z[1] * z[2]))
               / sqrt(list_sum(list_transform(ex.embedding, lambda v: v * v))
                      * list_sum(list_transform(ey.embedding, lambda v: v * v))) AS cosine
        FROM pairs p JOIN visual_scores ex ON ex.clip_id = p.clip_id AND ex.shard = p.shard
        JOIN visual_scores ey ON ey.clip_id = p.other AND ey.shard = p.other_shard
        WHERE len(ex.embedding) > 0 AND len(ex.embedding) = len(ey.embedding))
    SELECT p.*, e.cosine FROM pairs p LEFT JOIN emb e USING (clip_id, other)
    WHERE {cos_ok} ORDER BY clip_id, other
    """
    rows = store.query(sql).to_pylist()
    matches = [Match(r["clip_id"], r["other"], int(r["other_rank"]), float(r["other_duration"] or 0.0),
                     int(r["distance"]), None if r["cosine"] is None else float(r["cosine"])) for r in rows]
    return matches


def _score(v) -> tuple[bool, float]:
    """Sort key part: present scores first, higher first."""
    missing = v is None or (isinstance(v, float) and math.isnan(v))
    return (missing, 0.0 if missing else -float(v))


def _stored_keepers(store: Store, clips: set[str], shard: str) -> dict[str, str]:
    """For clips of earlier shards: the clip their own selection said they duplicate, where it did (one
    query; a stored ``near_duplicate_of`` names a group's keeper, never itself a near-duplicate, so one hop
    is enough). An earlier shard not selected yet has no say: its clip is the keeper."""
    if not clips or "near_duplicate_of" not in store.query("SELECT * FROM coarse_selection LIMIT 0").column_names:
        return {}  # no selection file has the column yet (written before near-duplicates existed)
    ids = ", ".join(_quote(c) for c in sorted(clips))
    rows = store.query(f"SELECT clip_id, near_duplicate_of FROM coarse_selection WHERE clip_id IN ({ids}) "
                       f"AND shard <> {_quote(shard)} AND near_duplicate_of IS NOT NULL").to_pylist()
    return {r["clip_id"]: r["near_duplicate_of"] for r in rows}


def apply(store: Store, shard: str, config: dict, decisions: list[dict], rows: list[dict]) -> dict:
    """Mark this shard's near-duplicates in ``decisions`` (coarse selection's rows, changed in place:
    ``near_duplicate_of`` set on every decision) and return the summary figures."""
    for d in decisions:
        d.setdefault("near_duplicate_of", None)
    max_distance, min_cosine = settings(config)
    if max_distance is None:
        return {"near_duplicates": "off (thresholds.near_duplicate_max_distance is null)"}
    if not store.has(TABLE, shard):
        return {"near_duplicates": f"not applied: no {TABLE} for this shard"}
    with store.views() as db:  # one set of catalog views for every query below (building them costs most)
        return _apply(store, db, shard, decisions, rows, int(max_distance), min_cosine)


def _apply(store: Store, db, shard: str, decisions: list[dict], rows: list[dict], max_distance: int,
           min_cosine: float | None) -> dict:
    matches = find_matches(db, shard, max_distance, min_cosine)
    ranks = _ranks(db)
    my_rank = ranks.get(shard, 0)
    earlier = {m.other: m for m in matches if m.other_rank < my_rank}
    mine = {d["clip_id"]: d for d in decisions}
    info = {r["clip_id"]: r for r in rows}

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[str, Match] = {}  # each of this shard's matched clips: its closest match
    for m in matches:
        parent[find(m.clip_id)] = find(m.other)
        if m.clip_id not in best or m.distance < best[m.clip_id].distance:
            best[m.clip_id] = m
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)

    def local_key(cid: str) -> tuple:
        d, r = mine[cid], info.get(cid, {})
        return (not d["passed_thresholds"], -float(r.get("duration_s") or 0.0), _score(r.get("aesthetic")),
                _score(r.get("sharpness")), cid)

    def earliest(members: list[str]) -> str | None:
        old = [c for c in members if c in earlier]
        return min(old, key=lambda c: (earlier[c].other_rank, -earlier[c].other_duration, c)) if old else None

    stored = _stored_keepers(db, {k for k in map(earliest, groups.values()) if k}, shard)
    rejected = 0
    for members in groups.values():
        keeper = earliest(members)
        if keeper is not None:
            keeper = stored.get(keeper, keeper)
        else:
            keeper = min((c for c in members if c in mine), key=local_key)
        for c in members:
            if c == keeper or c not in mine:
                continue
            d, m = mine[c], best.get(c)
            d["decision"] = "rejected"
            d["reasons"] = [*d["reasons"], f"near_duplicate: of {keeper} (distance {m.distance if m else '?'})"]
            d["near_duplicate_of"] = keeper
            rejected += 1
    hashed = set(store.list_files(f"tables/{TABLE}", ".parquet"))
    unchecked = sorted(s for s, r in ranks.items() if r < my_rank and f"{s}.parquet" not in hashed)
    cosine = f", min cosine {min_cosine}" if min_cosine is not None else ""
    return {"near_duplicates": f"max distance {max_distance} bits{cosine}",
            "near_duplicate_rejected": rejected, "near_duplicate_pairs": len(matches),
            "near_duplicate_earlier_matches": len(earlier), "near_duplicate_unchecked_shards": len(unchecked)}


def _ranks(store: Store) -> dict[str, int]:
    """Every registered shard's rank in registration order (then shard id)."""
    rows = store.query(f"SELECT shard, {_RANK} AS rank FROM {_REGISTERED}").to_pylist()
    return {r["shard"]: int(r["rank"]) for r in rows}
