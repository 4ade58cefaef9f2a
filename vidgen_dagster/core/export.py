"""Export the kept clips as a training dataset: frame-exact MP4 cuts (:mod:`.cutting`) plus
WebDataset / CSV / JSONL / Parquet.

Export (:func:`export_dataset`)
    Every shard's ``curated_clips`` rows with ``state == "kept"``, joined to ``clips`` (frame range),
    ``videos`` (path, stream, sha256) and the score tables. Layout under ``out_dir``::

        clips/<key>.mp4                     one cut per clip (key = clip_id made WebDataset-safe)
        webdataset/shard-000000.tar ...     <key>.json + <key>.mp4 per clip, clips_per_tar per tar
        opensora.csv                        Open-Sora columns (path is absolute)
        vidgen.jsonl                        VidGen-1M-style records
        clips.parquet                       every field, plus the tar each clip is in
        manifest.json                       what was cut from what (drives reuse and removal)

    A clip is re-cut only when its source (video sha256, stream, frame range, times) or the cut settings
    change; a clip no longer kept disappears from every output. Rows are sorted by ``clip_id``, tar
    headers are fixed (mtime 0, uid/gid 0, empty user/group names), JSON keys are sorted and files whose
    bytes would not change are not rewritten, so exporting twice gives byte-identical outputs. One
    export may run on an ``out_dir`` at a time (no locking).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av
import pyarrow as pa
import pyarrow.parquet as pq

from .cutting import _TMP_RE, CUT_VERSION, ExportError, _remove, _tmp_name, cut_clip
from .errors import VidgenError
from .store import Store

MANIFEST_VERSION = 1
_TAR_NAME = re.compile(r"^shard-\d{6}\.tar$")  # shard tars an export writes
_KEY_BAD = re.compile(r"[^A-Za-z0-9_-]")  # characters WebDataset keys avoid
FORMATS = ("webdataset", "csv", "jsonl", "parquet")
OPENSORA_COLUMNS = (
    "path", "text", "num_frames", "height", "width", "fps", "aes", "flow", "ocr", "category", "alignment",
    "clip_id", "video_path", "start_s", "end_s",
)

Progress = Callable[[int, int, str], None]

PARQUET_SCHEMA = pa.schema([
    ("clip_id", pa.string()), ("key", pa.string()), ("path", pa.string()), ("rel_path", pa.string()),
    ("caption", pa.string()), ("num_frames", pa.int64()), ("fps", pa.float64()), ("height", pa.int64()),
    ("width", pa.int64()), ("start_s", pa.float64()), ("end_s", pa.float64()), ("duration_s", pa.float64()),
    ("category", pa.string()), ("aesthetic", pa.float64()), ("consistency", pa.float64()),
    ("alignment", pa.float64()), ("motion", pa.float64()), ("ocr", pa.float64()), ("video_id", pa.string()),
    ("video_path", pa.string()), ("shard", pa.string()), ("start_frame", pa.int64()), ("end_frame", pa.int64()),
    ("method", pa.string()), ("tar", pa.string()),
])



def wds_key(clip_id: str) -> str:
    """clip_id with every character WebDataset or a filesystem dislikes ('.', '/', spaces ...) as '_'."""
    return _KEY_BAD.sub("_", clip_id) or "_"


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _by_clip(store: Store, table: str, columns: list[str]) -> dict[str, dict]:
    t = store.read(table)
    if t.num_rows == 0:
        return {}
    out: dict[str, dict] = {}
    for r in sorted(t.select(["clip_id", "shard", *columns]).to_pylist(), key=lambda r: (r["clip_id"], r["shard"])):
        out.setdefault(r["clip_id"], r)  # a clip scored in two shards: the first shard's row, as for clips
    return out


def _gather(store: Store) -> tuple[list[dict], dict[str, str]]:
    """Kept clips joined with their frame range, source and scores, sorted by clip_id."""
    curated = store.read("curated_clips")
    kept = [r for r in curated.to_pylist() if r["state"] == "kept"]
    clips = {(r["clip_id"], r["shard"]): r for r in store.rows("clips")}
    clips_any = {r["clip_id"]: r for r in sorted(store.rows("clips"), key=lambda r: r["shard"])}
    videos = {r["video_id"]: r for r in store.rows("videos")}
    vis = _by_clip(store, "visual_scores", ["aesthetic", "consistency"])
    mot = _by_clip(store, "motion_scores", ["motion_mean"])
    txt = _by_clip(store, "text_scores", ["text_area"])
    items: dict[str, dict] = {}
    problems: dict[str, str] = {}
    keys: dict[str, str] = {}
    for c in sorted(kept, key=lambda r: (r["clip_id"], r["shard"])):
        cid = c["clip_id"]
        if cid in items:
            continue  # the same clip kept in two shards: the first shard's row wins
        span = clips.get((cid, c["shard"])) or clips_any.get(cid)
        video = videos.get(c["video_id"] or (span or {}).get("video_id"))
        if span is None:
            problems[cid] = "no clips row for this clip"
            continue
        if video is None or not video.get("path"):
            problems[cid] = "no videos row for this clip's video"
            continue
        key = wds_key(cid)
        if key in keys:  # two ids that only differ in unsafe characters
            key = f"{key}_{hashlib.sha256(cid.encode()).hexdigest()[:8]}"
        keys[key] = cid
        items[cid] = {
            "clip_id": cid, "key": key, "shard": c["shard"], "video_id": video["video_id"],
            "video_path": video["path"], "stream_index": int(video.get("stream_index") or 0),
            "start_time_s": float(video.get("start_time_s") or 0.0),
            "video_sha256": video.get("sha256") or f"{video['path']}:{video.get('size_bytes')}",
            "start_frame": int(span["start_frame"]), "end_frame": int(span["end_frame"]),
            "start_s": float(span["start_s"]), "end_s": float(span["end_s"]),
            "caption": c.get("caption") or "", "category": c.get("category"),
            "alignment": _num(c.get("alignment")),
            "aesthetic": _num(vis.get(cid, {}).get("aesthetic")),
            "consistency": _num(vis.get(cid, {}).get("consistency")),
            "motion": _num(mot.get(cid, {}).get("motion_mean")),
            "ocr": _num(txt.get(cid, {}).get("text_area")),
        }
    return [items[k] for k in sorted(items)], problems


def _cut_key(item: dict, settings: dict) -> str:
    source = {k: item[k] for k in ("video_sha256", "stream_index", "start_frame", "end_frame", "start_s", "end_s")}
    blob = json.dumps({"v": CUT_VERSION, "source": source, "settings": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _write_if_changed(path: Path, payload: bytes) -> bool:
    """Atomically replace ``path`` with ``payload`` unless it already holds exactly those bytes."""
    if path.is_file() and path.stat().st_size == len(payload) and path.read_bytes() == payload:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return True


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _load_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {"version": MANIFEST_VERSION, "clips": {}, "tars": {}, "formats": []}
    if data.get("version") != MANIFEST_VERSION:
        return {"version": MANIFEST_VERSION, "clips": {}, "tars": {}, "formats": []}
    data.setdefault("clips", {})
    data.setdefault("tars", {})
    data.setdefault("formats", [])
    return data


def _save_manifest(path: Path, manifest: dict) -> None:
    _write_if_changed(path, json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n")


def _sample_json(rec: dict) -> dict:
    """The per-clip ``.json`` of a WebDataset sample."""
    return {
        "caption": rec["caption"], "clip_id": rec["clip_id"], "video_id": rec["video_id"],
        "video": rec["video_path"], "start": rec["start_s"], "end": rec["end_s"], "duration": rec["duration_s"],
        "start_frame": rec["start_frame"], "end_frame": rec["end_frame"], "num_frames": rec["num_frames"],
        "fps": rec["fps"], "width": rec["width"], "height": rec["height"], "category": rec["category"],
        "aesthetic": rec["aesthetic"], "consistency": rec["consistency"], "alignment": rec["alignment"],
        "motion": rec["motion"], "ocr": rec["ocr"],
    }


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _write_tar(path: Path, members: list[tuple[str, bytes | Path]]) -> None:
    """A tar with fixed headers, streamed to a temporary name (clips are not held in memory), then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name, data in members:
                if isinstance(data, Path):
                    with open(data, "rb") as src:
                        tar.addfile(_tar_info(name, os.fstat(src.fileno()).st_size), src)
                else:
                    tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _csv_bytes(records: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(OPENSORA_COLUMNS)
    for r in records:
        row = {
            "path": r["path"], "text": r["caption"], "num_frames": r["num_frames"], "height": r["height"],
            "width": r["width"], "fps": r["fps"], "aes": r["aesthetic"], "flow": r["motion"], "ocr": r["ocr"],
            "category": r["category"], "alignment": r["alignment"], "clip_id": r["clip_id"],
            "video_path": r["video_path"], "start_s": r["start_s"], "end_s": r["end_s"],
        }
        w.writerow(["" if row[c] is None else row[c] for c in OPENSORA_COLUMNS])
    return buf.getvalue().encode()


def _jsonl_bytes(records: list[dict]) -> bytes:
    lines = []
    for r in records:
        lines.append(_json_bytes({
            "vid": r["clip_id"], "caption": r["caption"], "path": r["path"], "start": r["start_s"],
            "end": r["end_s"], "duration": r["duration_s"], "num_frames": r["num_frames"], "fps": r["fps"],
            "resolution": [r["height"], r["width"]], "category": r["category"], "aesthetic": r["aesthetic"],
            "consistency": r["consistency"], "alignment": r["alignment"], "motion": r["motion"], "ocr": r["ocr"],
        }))
    return b"".join(line + b"\n" for line in lines)


def _parquet_bytes(records: list[dict]) -> bytes:
    table = pa.Table.from_pylist([{k: r.get(k) for k in PARQUET_SCHEMA.names} for r in records],
                                 schema=PARQUET_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _noop(done: int, total: int, what: str) -> None:
    pass


def export_dataset(
    store: Store,
    out_dir: str | os.PathLike,
    formats: Iterable[str] = FORMATS,
    *,
    clips_per_tar: int = 1000,
    progress: Progress | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    max_short_side: int | None = None,
    allow_copy: bool = True,
) -> dict:
    """Cut (or reuse) every kept clip of every shard and write the requested formats under ``out_dir``.

    Formats not requested this time that an earlier export wrote are deleted, so no output keeps a clip
    that is no longer kept. A clip that cannot be cut is left out and reported under ``failed``.
    Returns a summary: clips, cut, reused, removed, failed, bytes, files per format, methods.
    """
    t0 = time.perf_counter()
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; known: {', '.join(FORMATS)}")
    if clips_per_tar < 1:
        raise ExportError("clips_per_tar must be at least 1")
    progress = progress or _noop
    out = Path(out_dir).expanduser().resolve()
    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = _load_manifest(manifest_path)
    settings = {"crf": crf, "preset": preset, "max_short_side": max_short_side, "allow_copy": allow_copy}

    items, failed = _gather(store)
    wanted = {it["clip_id"] for it in items}
    old = manifest["clips"]
    removed = 0
    for cid in sorted(set(old) - wanted):  # no longer kept
        _remove(out / old[cid]["file"])
        del old[cid]
        removed += 1

    records: list[dict] = []
    cut_now = reused = 0
    methods: Counter = Counter()
    last_save = time.monotonic()
    for i, it in enumerate(items):
        progress(i, len(items), it["clip_id"])
        key = _cut_key(it, settings)
        rel = f"clips/{it['key']}.mp4"
        entry = old.get(it["clip_id"])
        path = out / rel
        if (entry and entry["cut_key"] == key and entry["file"] == rel and path.is_file()
                and path.stat().st_size == entry["bytes"]):
            entry["video_path"] = it["video_path"]  # the same content may have moved
            reused += 1
        else:
            if entry and entry["file"] != rel:
                _remove(out / entry["file"])
            old.pop(it["clip_id"], None)
            try:
                info = cut_clip(it["video_path"], it["stream_index"], it["start_time_s"], it, path, crf=crf,
                                preset=preset, max_short_side=max_short_side, allow_copy=allow_copy)
            except (VidgenError, av.error.FFmpegError, OSError) as exc:
                _remove(path)
                failed[it["clip_id"]] = exc.record() if isinstance(exc, VidgenError) else f"{type(exc).__name__}: {exc}"
                continue
            entry = {"cut_key": key, "file": rel, "bytes": path.stat().st_size, "info": asdict(info),
                     "video_path": it["video_path"], "start_frame": it["start_frame"],
                     "end_frame": it["end_frame"]}
            old[it["clip_id"]] = entry
            cut_now += 1
            if time.monotonic() - last_save > 10:  # a killed export keeps most of its cuts
                _save_manifest(manifest_path, manifest)
                last_save = time.monotonic()
        info = entry["info"]
        methods[info["method"]] += 1
        records.append({
            **{k: it[k] for k in ("clip_id", "key", "caption", "category", "alignment", "aesthetic", "consistency",
                                  "motion", "ocr", "video_id", "video_path", "shard", "start_frame",
                                  "end_frame", "start_s", "end_s")},
            "path": str(out / rel), "rel_path": rel, "num_frames": info["num_frames"], "fps": info["fps"],
            "width": info["width"], "height": info["height"], "duration_s": info["duration_s"],
            "method": info["method"], "tar": None, "cut_key": entry["cut_key"],
        })
    progress(len(items), len(items), "cut")

    # Temporary files of a killed run. Nothing else is pruned here: clips no longer kept were removed
    # through the manifest above, so files this export did not write (the folder may hold others) stay.
    owned = {Path(e["file"]).name for e in old.values()}
    for f in clips_dir.iterdir():
        if f.is_file() and f.name not in owned and f.name.endswith(".tmp"):
            _remove(f)

    for f in out.iterdir():  # temporary files of a killed export
        if f.is_file() and _TMP_RE.match(f.name):
            _remove(f)

    files: dict[str, Any] = {"clips": str(clips_dir), "manifest": str(manifest_path)}
    wds_dir = out / "webdataset"
    tars: dict[str, str] = {}
    if "webdataset" in formats:
        shards = [records[k:k + clips_per_tar] for k in range(0, len(records), clips_per_tar)]
        for s, group in enumerate(shards):
            name = f"shard-{s:06d}.tar"
            members: list[tuple[str, bytes | Path]] = []
            sig = hashlib.sha256()
            for r in group:
                r["tar"] = f"webdataset/{name}"
                meta = _json_bytes(_sample_json(r))
                members += [(f"{r['key']}.json", meta), (f"{r['key']}.mp4", out / r["rel_path"])]
                sig.update(meta + b"\0" + r["cut_key"].encode() + b"\0")
            signature = sig.hexdigest()
            tar_path = wds_dir / name
            prev = manifest["tars"].get(name)
            if not (prev and prev["sig"] == signature and tar_path.is_file()
                    and tar_path.stat().st_size == prev["bytes"]):
                _write_tar(tar_path, members)
            tars[name] = signature
            manifest["tars"][name] = {"sig": signature, "bytes": tar_path.stat().st_size}
        files["webdataset"] = [str(wds_dir / n) for n in tars]
    for name in list(manifest["tars"]):
        if name not in tars:
            del manifest["tars"][name]
    if wds_dir.is_dir():
        for f in wds_dir.iterdir():
            if f.is_file() and f.name not in tars and (_TAR_NAME.match(f.name) or f.name.endswith(".tmp")):
                _remove(f)  # a shard tar of an earlier, larger export (or a temp file); nothing else

    writers = {
        "csv": ("opensora.csv", _csv_bytes),
        "jsonl": ("vidgen.jsonl", _jsonl_bytes),
        "parquet": ("clips.parquet", _parquet_bytes),
    }
    for fmt, (name, render) in writers.items():
        if fmt in formats:
            _write_if_changed(out / name, render(records))
            files[fmt] = str(out / name)
        elif fmt in (manifest.get("formats") or []):
            _remove(out / name)  # an earlier export's file would list clips no longer kept
    manifest["formats"] = list(formats)
    _save_manifest(manifest_path, manifest)
    progress(len(items), len(items), "done")

    clip_bytes = sum(e["bytes"] for e in old.values())
    out_bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {
        "clips": len(records), "cut": cut_now, "reused": reused, "removed": removed, "failed": failed,
        "bytes": clip_bytes, "output_bytes": out_bytes, "files": files, "methods": dict(sorted(methods.items())),
        "tars": len(tars), "seconds": round(time.perf_counter() - t0, 3),
    }
