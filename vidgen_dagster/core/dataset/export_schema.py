"""The export's one record schema and the files rendered from it.

:data:`EXPORT_FIELDS` is the single definition of an exported clip's fields: name, Arrow type and meaning.
Our own formats carry exactly these fields under these names:

* ``clips.parquet`` — one row per clip, typed by :data:`PARQUET_SCHEMA`;
* ``vidgen.jsonl`` — one JSON object per line;
* ``webdataset/shard-*.tar`` — per sample ``<key>.mp4``, ``<key>.json`` (the record) and ``<key>.txt``
  (the caption, so ``WebDataset(...).decode().to_tuple("mp4", "txt")`` works);
* ``clips/metadata.jsonl`` — the record plus ``file_name`` (the clip file next to it), the Hugging Face
  *videofolder* layout, with ``README.md`` (a dataset card whose YAML header points ``datasets`` at
  ``clips/``) so ``datasets.load_dataset(OUT)`` loads the clips with their captions and scores.

``opensora.csv`` follows Open-Sora's column meanings instead (:data:`OPENSORA_COLUMNS`), with our own
measures after them under our own names (:data:`OPENSORA_EXTRA`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..coarse.scoring.registry import STAGES

STR, F64, I64, BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()
SCORE_COLUMNS = tuple(c for s in STAGES for c in s.exports)  # (stage's table column -> export field)


@dataclass(frozen=True)
class ExportField:
    name: str
    type: pa.DataType
    meaning: str


EXPORT_FIELDS: tuple[ExportField, ...] = (
    ExportField("clip_id", STR, "the clip's id in the pipeline's tables (`curated_clips.clip_id`)"),
    ExportField("key", STR, "WebDataset sample key and clip file stem: `clip_id` with unsafe characters as `_`"),
    ExportField("file", STR, "the clip file, relative to the export folder (`clips/<key>.mp4`)"),
    ExportField("caption", STR, "the VLM caption; empty when `captioned` is false"),
    ExportField("captioned", BOOL, "whether the clip has a caption (false: captioning was off or its model "
                                   "absent, e.g. offline)"),
    ExportField("num_frames", I64, "frames in the clip file (exactly the source frames [start_frame, end_frame))"),
    ExportField("fps", F64, "num_frames / duration_s (the average rate; VFR clips keep their own timestamps)"),
    ExportField("width", I64, "pixels, as stored: upright (rotation applied) with square pixels"),
    ExportField("height", I64, "pixels, as stored"),
    ExportField("duration_s", F64, "seconds from the first frame to the end of the last"),
    ExportField("category", STR, "CLIP zero-shot category from the taxonomy (null when CLIP was unavailable)"),
    # every registered scoring stage's export columns (core/coarse/scoring/registry.py), in registry order
    *(ExportField(c.name, c.type, c.meaning) for c in SCORE_COLUMNS),
    ExportField("alignment", F64, "caption-video alignment: cosine of the caption's CLIP text embedding and "
                                  "the clip's image embedding"),
    ExportField("video_id", STR, "the source video's id (`videos.video_id`)"),
    ExportField("video_path", STR, "the source video file"),
    ExportField("shard", STR, "the video shard (Dagster partition) the clip was curated in"),
    ExportField("start_s", F64, "clip start in the source, seconds from the stream's first frame"),
    ExportField("end_s", F64, "clip end in the source (exclusive), seconds"),
    ExportField("start_frame", I64, "first source frame (decoder order index)"),
    ExportField("end_frame", I64, "source frame after the last one (exclusive)"),
    ExportField("method", STR, "how the clip was cut: `copy` (packets remuxed) or `reencode` (H.264)"),
    ExportField("tar", STR, "the WebDataset shard holding the clip (null when WebDataset was not exported)"),
)
FIELD_NAMES = tuple(f.name for f in EXPORT_FIELDS)
PARQUET_SCHEMA = pa.schema([(f.name, f.type) for f in EXPORT_FIELDS])

# Open-Sora's own columns and meanings (its tools/datasets README): resolution = height * width,
# aspect_ratio = height / width, ocr = number of text regions, match = caption-video CLIP score.
# `flow` holds our motion measure: the same idea (mean optical-flow magnitude) in our unit, so Open-Sora's
# flow thresholds do not transfer as numbers.
OPENSORA_COLUMNS = ("path", "text", "num_frames", "height", "width", "aspect_ratio", "fps", "resolution", "aes",
                    "flow", "ocr", "match")
# Our score columns with an Open-Sora counterpart fill it (aes, flow, ocr); the others follow as extras.
OPENSORA_OF = {c.opensora: c.name for c in SCORE_COLUMNS if c.opensora}
OPENSORA_EXTRA = ("clip_id", "file", "captioned", "category", *(c.name for c in SCORE_COLUMNS if not c.opensora),
                  "duration_s", "video_id", "video_path", "start_s", "end_s", "start_frame", "end_frame")


def record(rec: dict) -> dict:
    """One clip's record restricted to (and ordered as) :data:`EXPORT_FIELDS`."""
    return {name: rec.get(name) for name in FIELD_NAMES}


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sample_members(rec: dict) -> list[tuple[str, bytes]]:
    """The ``.json`` and ``.txt`` members of a WebDataset sample (the ``.mp4`` is streamed by the caller)."""
    return [(f"{rec['key']}.json", json_bytes(record(rec))), (f"{rec['key']}.txt", (rec["caption"] or "").encode())]


def _opensora_row(rec: dict, out_dir: str) -> dict:
    h, w = rec["height"], rec["width"]
    return {
        "path": f"{out_dir}/{rec['file']}", "text": rec["caption"] or "", "num_frames": rec["num_frames"],
        "height": h, "width": w, "aspect_ratio": round(h / w, 6) if h and w else None, "fps": rec["fps"],
        "resolution": h * w if h and w else None, **{k: rec.get(v) for k, v in OPENSORA_OF.items()},
        "match": rec["alignment"],
        **{k: rec.get(k) for k in OPENSORA_EXTRA},
    }


def csv_bytes(records: list[dict], out_dir: str) -> bytes:
    """Open-Sora CSV: absolute ``path`` (Open-Sora reads it as is), its columns, then ours."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    columns = OPENSORA_COLUMNS + OPENSORA_EXTRA
    w.writerow(columns)
    for r in records:
        row = _opensora_row(r, out_dir)
        w.writerow(["" if row[c] is None else row[c] for c in columns])
    return buf.getvalue().encode()


def jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(json_bytes(record(r)) + b"\n" for r in records)


def hf_metadata_bytes(records: list[dict]) -> bytes:
    """``clips/metadata.jsonl``: ``file_name`` relative to ``clips/`` (the folder it sits in), then the record."""
    return b"".join(json_bytes({"file_name": r["file"].split("/", 1)[1], **record(r)}) + b"\n" for r in records)


def parquet_bytes(records: list[dict]) -> bytes:
    table = pa.Table.from_pylist([record(r) for r in records], schema=PARQUET_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def dataset_card(records: list[dict], export_id: str, formats: tuple[str, ...]) -> bytes:
    """``README.md`` with a YAML header: ``datasets`` reads ``clips/`` (the clips and metadata.jsonl) only, so
    the other formats in the folder are not mistaken for data files."""
    captioned = sum(bool(r["captioned"]) for r in records)
    loaders = ["`datasets.load_dataset(\"<this folder>\")` (decoding the `video` column needs a video decoder "
               "such as `torchcodec`; the other columns load without one)"]
    if "webdataset" in formats:
        loaders.append("`webdataset.WebDataset(\"webdataset/shard-{000000..N}.tar\")` with "
                       "`.to_tuple(\"mp4\", \"txt\")` or `(\"mp4\", \"json\")`")
    if "parquet" in formats:
        loaders.append("`clips.parquet` with pandas / DuckDB / pyarrow")
    if "jsonl" in formats:
        loaders.append("`vidgen.jsonl`, one record per line")
    if "csv" in formats:
        loaders.append("`opensora.csv` for Open-Sora")
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: clips/*",
        "task_categories:",
        "- text-to-video",
        "tags:",
        "- video",
        "- vidgen-dagster",
        "---",
        "",
        "# Curated video clips (vidgen-dagster export)",
        "",
        f"{len(records)} clips, {captioned} captioned. Export id `{export_id}`.",
        "",
        "Load: " + "; ".join(loaders) + ".",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
        *(f"| `{f.name}` | {f.type} | {f.meaning} |" for f in EXPORT_FIELDS),
        "",
        "`opensora.csv` uses Open-Sora's columns: `path` (absolute), `text` (= caption), `num_frames`, `height`, "
        "`width`, `aspect_ratio` (height / width), `fps`, `resolution` (height x width), `aes` (= aesthetic), "
        "`flow` (= motion, our unit), `ocr` (= text_boxes, the number of text regions), `match` (= alignment); "
        f"then {', '.join(f'`{c}`' for c in OPENSORA_EXTRA)} as above.",
        "",
    ]
    return "\n".join(lines).encode()
