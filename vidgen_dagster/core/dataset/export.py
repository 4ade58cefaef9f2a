"""Export the kept clips as a training dataset: frame-exact MP4 cuts (:mod:`.cutting`) plus
WebDataset / CSV / JSONL / Parquet and a Hugging Face loadable folder.

Export (:func:`export_dataset`)
    Every shard's ``curated_clips`` rows with ``state == "kept"`` (captioned or not: ``captioned`` says
    which), joined to ``clips`` (frame range), ``videos`` (path, stream, sha256) and the score tables.
    Layout under ``out_dir`` (fields: :mod:`.export_schema`, one schema for our own formats)::

        clips/<key>.mp4                     one cut per clip (key = clip_id made WebDataset-safe)
        clips/metadata.jsonl                Hugging Face videofolder metadata (file_name + the record)
        README.md                           dataset card; its YAML header makes load_dataset(out_dir) work
        webdataset/shard-000000.tar ...     <key>.mp4 + <key>.json + <key>.txt per clip, clips_per_tar per tar
        opensora.csv                        Open-Sora's columns and meanings (path is absolute), then ours
        vidgen.jsonl                        one record per line
        clips.parquet                       one record per row, plus the tar each clip is in
        manifest.json                       export id, every file written (size, mtime, sha256), what was
                                            cut from what (drives reuse and removal)

    A clip is re-cut only when its source (video sha256, stream, frame range, times) or the cut settings
    change; a clip no longer kept disappears from every output. Rows are sorted by ``clip_id``, tar
    headers are fixed (mtime 0, uid/gid 0, empty user/group names), JSON keys are sorted and files whose
    bytes would not change are not rewritten, so exporting twice gives byte-identical outputs. One
    export may run on an ``out_dir`` at a time (no locking).

    Safety (:mod:`.export_folder`): only files an export of this tool wrote into ``out_dir``, unchanged
    since, are ever removed or replaced; a foreign manifest, a symlink, or someone else's file where the
    export would write makes it refuse (:class:`ExportRefusedError`) before it touches anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tarfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av
import pyarrow as pa

from ..coarse.scoring.registry import STAGES
from ..common.errors import ExportError, ExportRefusedError, VidgenError
from ..common.progress import StepProgress, no_progress
from ..common.store import Store
from . import export_schema as schema
from .cutting import CUT_VERSION, cut_clip, remove_if_present
from .export_folder import ExportFolder

__all__ = ["FORMATS", "ExportError", "ExportRefusedError", "export_dataset", "wds_key"]

_KEY_BAD = re.compile(r"[^A-Za-z0-9_-]")  # characters WebDataset keys avoid
FORMATS = ("webdataset", "csv", "jsonl", "parquet")
FORMAT_FILES = {"csv": "opensora.csv", "jsonl": "vidgen.jsonl", "parquet": "clips.parquet"}
HF_FILES = ("clips/metadata.jsonl", "README.md")  # always: the folder itself is the Hugging Face dataset



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


def _int(x: Any) -> int | None:
    v = _num(x)
    return None if v is None else int(v)


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
    scores = {s.name: _by_clip(store, s.name, [c.column for c in s.exports]) for s in STAGES if s.exports}
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
        if video.get("status") not in (None, "ok"):  # missing, superseded (replaced in place): not its frames
            problems[cid] = f"source video is {video['status']}"
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
            "caption": c.get("caption") or "",
            # curated_clips may say so itself; otherwise a caption is what makes a clip captioned
            "captioned": bool(c["captioned"]) if c.get("captioned") is not None else bool(c.get("caption")),
            "category": c.get("category"),
            "alignment": _num(c.get("alignment")),
            **{c.name: (_int if pa.types.is_integer(c.type) else _num)(scores[s.name].get(cid, {}).get(c.column))
               for s in STAGES for c in s.exports},  # every registered stage's export columns
        }
    return [items[k] for k in sorted(items)], problems


def _cut_key(item: dict, settings: dict) -> str:
    source = {k: item[k] for k in ("video_sha256", "stream_index", "start_frame", "end_frame", "start_s", "end_s")}
    blob = json.dumps({"v": CUT_VERSION, "source": source, "settings": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _write_tar(folder: ExportFolder, rel: str, members: list[tuple[str, bytes | Path]]) -> None:
    """A tar with fixed headers, streamed to a temporary name (clips are not held in memory), then committed."""
    folder.path(rel).parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.tmp(rel)
    try:
        with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name, data in members:
                if isinstance(data, Path):
                    with open(data, "rb") as src:
                        tar.addfile(_tar_info(name, os.fstat(src.fileno()).st_size), src)
                else:
                    tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
        folder.commit(tmp, rel)
    except BaseException:
        remove_if_present(tmp)
        raise



def export_dataset(
    store: Store,
    out_dir: str | os.PathLike,
    formats: Iterable[str] = FORMATS,
    *,
    clips_per_tar: int = 1000,
    progress: StepProgress | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    max_short_side: int | None = None,
    allow_copy: bool = True,
) -> dict:
    """Cut (or reuse) every kept clip of every shard and write the requested formats under ``out_dir``.

    Files an earlier export wrote that this one does not (formats not requested, clips no longer kept,
    tars of a larger export) are deleted, so no output keeps a clip that is no longer kept. A clip that
    cannot be cut is left out and reported under ``failed``. Raises :class:`ExportRefusedError` (nothing
    touched) when ``out_dir`` holds a manifest or a file at one of the export's names that no export of
    this tool wrote there. Returns a summary: clips, cut, reused, removed, failed, bytes, files per
    format, methods, ``left`` (files an earlier export wrote that someone changed since: not removed).
    """
    t0 = time.perf_counter()
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; known: {', '.join(FORMATS)}")
    if clips_per_tar < 1:
        raise ExportError("clips_per_tar must be at least 1")
    progress = progress or no_progress
    folder = ExportFolder(out_dir)  # refuses a manifest that is not ours, touching nothing
    out = folder.root
    manifest = folder.manifest
    settings = {"crf": crf, "preset": preset, "max_short_side": max_short_side, "allow_copy": allow_copy}

    items, failed = _gather(store)
    # Every file this run may write must be absent or ours before anything is touched.
    n_tars = math.ceil(len(items) / clips_per_tar) if "webdataset" in formats else 0
    tar_rels = [f"webdataset/shard-{s:06d}.tar" for s in range(n_tars)]
    targets = ([f"clips/{it['key']}.mp4" for it in items] + tar_rels
               + [FORMAT_FILES[f] for f in formats if f in FORMAT_FILES] + list(HF_FILES))
    folder.check_targets(targets)
    folder.begin()

    wanted = {it["clip_id"] for it in items}
    old = manifest["clips"]
    removed = 0
    for cid in sorted(set(old) - wanted):  # no longer kept: its file goes in the prune below
        del old[cid]
        removed += 1

    records: list[dict] = []
    written: set[str] = set()
    cut_now = reused = 0
    methods: Counter = Counter()
    last_save = time.monotonic()
    for i, it in enumerate(items):
        progress(i, len(items), it["clip_id"])
        cid = it["clip_id"]
        key = _cut_key(it, settings)
        rel = f"clips/{it['key']}.mp4"
        entry = old.get(cid)
        if entry and entry["cut_key"] == key and entry["file"] == rel and folder.state(rel) == "ours":
            entry["video_path"] = it["video_path"]  # the same content may have moved
            reused += 1
        else:
            old.pop(cid, None)

            def commit(tmp: Path, _path: Path, info, rel=rel, cid=cid, key=key, it=it) -> None:
                folder.commit(tmp, rel, (cid, {
                    "cut_key": key, "file": rel, "info": asdict(info), "video_path": it["video_path"],
                    "start_frame": it["start_frame"], "end_frame": it["end_frame"]}))

            try:
                cut_clip(it["video_path"], it["stream_index"], it["start_time_s"], it, folder.path(rel), crf=crf,
                         preset=preset, max_short_side=max_short_side, allow_copy=allow_copy,
                         tmp_tag=folder.tag, commit=commit)
            except (VidgenError, av.error.FFmpegError, OSError) as exc:
                if isinstance(exc, ExportRefusedError):
                    raise
                failed[cid] = exc.record() if isinstance(exc, VidgenError) else f"{type(exc).__name__}: {exc}"
                continue  # an earlier cut of it at rel is pruned below
            entry = old[cid]
            cut_now += 1
            if time.monotonic() - last_save > 10:  # a killed export keeps most of its cuts (and the journal the rest)
                folder.save()
                last_save = time.monotonic()
        written.add(rel)
        info = entry["info"]
        methods[info["method"]] += 1
        records.append({
            **{k: it[k] for k in ("clip_id", "key", "caption", "captioned", "category", "alignment",
                                  *(c.name for c in schema.SCORE_COLUMNS), "video_id", "video_path",
                                  "shard", "start_frame", "end_frame", "start_s", "end_s")},
            "file": rel, "num_frames": info["num_frames"], "fps": info["fps"], "width": info["width"],
            "height": info["height"], "duration_s": info["duration_s"], "method": info["method"], "tar": None,
            "cut_key": entry["cut_key"],
        })
    progress(len(items), len(items), "cut")

    files: dict[str, Any] = {"clips": str(out / "clips"), "manifest": str(out / "manifest.json")}
    tars: dict[str, str] = {}
    if "webdataset" in formats:
        for s in range(0, len(records), clips_per_tar):
            rel = f"webdataset/shard-{s // clips_per_tar:06d}.tar"
            name = rel.split("/", 1)[1]
            members: list[tuple[str, bytes | Path]] = []
            sig = hashlib.sha256()
            for r in records[s:s + clips_per_tar]:
                r["tar"] = rel
                meta = schema.sample_members(r)
                members += [*meta, (f"{r['key']}.mp4", out / r["file"])]
                sig.update(b"".join(m[1] + b"\0" for m in meta) + r["cut_key"].encode() + b"\0")
            signature = sig.hexdigest()
            prev = manifest["tars"].get(name)
            if not (prev and prev.get("sig") == signature and folder.state(rel) == "ours"):
                _write_tar(folder, rel, members)
            tars[name] = signature
            manifest["tars"][name] = {"sig": signature}
            written.add(rel)
        files["webdataset"] = [str(out / "webdataset" / n) for n in tars]
    manifest["tars"] = {n: v for n, v in manifest["tars"].items() if n in tars}

    renders = {"csv": lambda: schema.csv_bytes(records, str(out)), "jsonl": lambda: schema.jsonl_bytes(records),
               "parquet": lambda: schema.parquet_bytes(records)}
    for fmt in formats:
        if fmt in FORMAT_FILES:
            folder.write_bytes(FORMAT_FILES[fmt], renders[fmt]())
            written.add(FORMAT_FILES[fmt])
            files[fmt] = str(out / FORMAT_FILES[fmt])
    folder.write_bytes("clips/metadata.jsonl", schema.hf_metadata_bytes(records))
    folder.write_bytes("README.md", schema.dataset_card(records, manifest["export_id"], formats))
    written.update(HF_FILES)
    files["huggingface"] = str(out)

    # Everything an earlier export wrote that this one did not: clips no longer kept or that failed now,
    # tars of a larger export, formats not requested. Only our own unchanged files go (see ExportFolder).
    for rel in sorted(set(manifest["files"]) - written):
        folder.remove(rel)
    manifest["formats"] = list(formats)
    folder.save()
    folder.sweep_tmp()
    progress(len(items), len(items), "done")

    clip_bytes = sum(manifest["files"][e["file"]]["bytes"] for e in old.values())
    out_bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and not f.is_symlink())
    return {
        "clips": len(records), "cut": cut_now, "reused": reused, "removed": removed, "failed": failed,
        "bytes": clip_bytes, "output_bytes": out_bytes, "files": files, "methods": dict(sorted(methods.items())),
        "tars": len(tars), "left": sorted(folder.left), "export_id": manifest["export_id"],
        "seconds": round(time.perf_counter() - t0, 3),
    }
