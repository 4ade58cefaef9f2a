"""Ingest per shard, free of Dagster: the shard's manifest and one row per video (probe, hash, state).

Each function reads its upstream tables from the :class:`Store`, does the work, writes its own tables (whole-file
replacement) and returns a small summary for asset metadata. A video that fails gets a row that says why; it never
stops the shard.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter

from ..common import media
from ..common.errors import VidgenError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store
from ..ingest.shards import load_manifest

log = logging.getLogger(__name__)
def video_id_for(path: str, version: int = 0) -> str:
    """The id of ``path``'s ``version``-th content (0: as first registered; a file replaced in place
    gets the next version, so its clips never carry the old content's ids)."""
    key = path if version == 0 else f"{path}\0{version}"
    return "v-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def run_shard_manifest(store: Store, shard: str) -> dict:
    m = load_manifest(store, shard)
    rows = [
        {"shard": shard, "path": f.path, "size_bytes": f.size_bytes, "mtime_ns": f.mtime_ns,
         "registered_at": m.registered_at, "error": f.error}
        for f in m.files
    ]
    store.write("shard_manifest", shard, rows)
    return {"files": len(rows), "bytes": sum(max(r["size_bytes"], 0) for r in rows),
            "not_files": sum(1 for r in rows if r["error"])}


def _entry_status(error: str) -> str:
    if error.startswith("missing"):
        return "missing"
    if error.startswith("not a"):
        return "skipped"
    return "failed"


def run_videos(store: Store, shard: str, progress: StepProgress = no_progress) -> dict:
    """Probe every file of the shard; mark exact duplicates; record failures with their reason."""
    files = store.rows("shard_manifest", shard)
    # Content already accepted in another shard: a later copy is a duplicate of it.
    others = {
        r["sha256"]: r["video_id"]
        for r in store.rows("videos")
        if r["shard"] != shard and r["status"] == "ok" and r["sha256"]
    }
    # What this shard recorded before: a path whose content changed since gets a new video version, and
    # the earlier version stays on record as superseded (its clips are no longer current).
    previous = [r for r in store.rows("videos", shard)]
    current_before = {r["path"]: r for r in previous if r["status"] != "superseded"}
    history = [r for r in previous if r["status"] == "superseded"]
    seen: dict[str, str] = {}
    rows = []
    for i, f in enumerate(sorted(files, key=lambda r: r["path"])):
        path = f["path"]
        before = current_before.get(path)
        version = int((before or {}).get("version") or 0)
        row = {"video_id": video_id_for(path, version), "shard": shard, "path": path, "status": "ok",
               "error": None, "version": version}
        progress(i, len(files), path)
        if f.get("error"):
            row.update(status=_entry_status(f["error"]), error=f["error"])
            rows.append(row)
            continue
        try:
            st = os.stat(path)
            row["size_bytes"], row["mtime_ns"] = st.st_size, st.st_mtime_ns
            row["sha256"] = media.sha256_file(path)
        except FileNotFoundError:
            row.update(status="missing", error="missing: the file disappeared after registration")
            rows.append(row)
            continue
        except OSError as exc:
            row.update(status="failed", error=f"unreadable: {exc.strerror or exc}")
            rows.append(row)
            continue
        if before and before.get("sha256") and before["sha256"] != row["sha256"]:
            row["version"] = version = version + 1
            row["video_id"] = video_id_for(path, version)
            history.append({**before, "status": "superseded", "superseded_by": row["video_id"],
                            "error": f"superseded: the file's content changed (now {row['video_id']})"})
        vid = row["video_id"]
        original = others.get(row["sha256"]) or seen.get(row["sha256"])
        if original:
            row.update(status="duplicate", duplicate_of=original, error=f"duplicate of {original}")
            rows.append(row)
            continue
        try:
            row.update(media.probe(path).as_row())
        except VidgenError as exc:
            row.update(status="failed", error=exc.record())
        else:
            seen[row["sha256"]] = vid
        rows.append(row)
    progress(len(files), len(files), "done")
    rows += history
    store.write("videos", shard, rows)
    counts = Counter(r["status"] for r in rows)
    return {"videos": len(rows), **{f"status_{k}": v for k, v in sorted(counts.items())},
            "failures": {r["path"]: r["error"] for r in rows if r["status"] == "failed"}}


