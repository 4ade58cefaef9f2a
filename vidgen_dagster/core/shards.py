"""Footage registration: find video files, wait until they stop growing, group them into shards.

The registry is the set of shard manifests under ``<home>/manifests/``: a file whose path is in
any manifest is never registered again. Grouping is deterministic: new files are sorted by path
and cut into runs of ``shard_size``; a shard's id is a hash of its members, so registering the
same files again (e.g. after a crash between writing the manifest and adding the partition)
yields the same id. The footage sensor and ``vidgen curate`` both call :func:`register`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import ConfigError
from .store import Store

MANIFESTS = "manifests"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size_bytes: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileEntry:
        st = os.stat(path)
        return cls(str(path), st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class ShardManifest:
    shard: str
    registered_at: str
    files: tuple[FileEntry, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {"shard": self.shard, "registered_at": self.registered_at, "files": [asdict(f) for f in self.files]},
            indent=1,
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> ShardManifest:
        d = json.loads(payload)
        return cls(d["shard"], d["registered_at"], tuple(FileEntry(**f) for f in d["files"]))


def discover(paths: Iterable[str | Path], extensions: Iterable[str]) -> list[Path]:
    """Video files among ``paths`` (folders are walked, hidden entries skipped), absolute, sorted.

    A file named explicitly is taken whatever its extension; inside folders only ``extensions``.
    """
    exts = {e.lower() for e in extensions}
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if not name.startswith(".") and Path(name).suffix.lower() in exts:
                        found.add((Path(root) / name).resolve())
        else:
            raise ConfigError(f"no such file or folder: {p}")
    return sorted(found)


def settled(
    candidates: Iterable[Path], seen: dict[str, list[int]], settle_seconds: float, now: float | None = None
) -> tuple[list[FileEntry], dict[str, list[int]]]:
    """Split files into those that stopped growing and the rest.

    A file is settled when its (size, mtime) equals what the previous look saw (``seen``), or when
    it was last modified more than ``settle_seconds`` ago. Returns the settled entries and the new
    ``seen`` state for files still changing (to carry in a sensor cursor).
    """
    now = time.time() if now is None else now
    ready: list[FileEntry] = []
    pending: dict[str, list[int]] = {}
    for p in candidates:
        try:
            e = FileEntry.of(p)
        except FileNotFoundError:  # vanished between listing and stat
            continue
        if seen.get(e.path) == [e.size_bytes, e.mtime_ns] or now - e.mtime_ns / 1e9 >= settle_seconds:
            ready.append(e)
        else:
            pending[e.path] = [e.size_bytes, e.mtime_ns]
    return ready, pending


def load_manifests(store: Store) -> list[ShardManifest]:
    return [
        ShardManifest.from_json(store.read_bytes(f"{MANIFESTS}/{name}"))
        for name in store.list_files(MANIFESTS, ".json")
    ]


def load_manifest(store: Store, shard: str) -> ShardManifest:
    try:
        return ShardManifest.from_json(store.read_bytes(f"{MANIFESTS}/{shard}.json"))
    except FileNotFoundError as exc:
        raise ConfigError(f"shard {shard!r} has no manifest under {store.home}/{MANIFESTS}") from exc


def shard_id(entries: Iterable[FileEntry]) -> str:
    digest = hashlib.sha256("\n".join(sorted(e.path for e in entries)).encode()).hexdigest()
    return f"sh-{digest[:12]}"


def plan(entries: Iterable[FileEntry], shard_size: int) -> list[ShardManifest]:
    if shard_size < 1:
        raise ConfigError(f"shard size must be at least 1, got {shard_size}")
    ordered = sorted(entries, key=lambda e: e.path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    out = []
    for i in range(0, len(ordered), shard_size):
        group = tuple(ordered[i : i + shard_size])
        out.append(ShardManifest(shard_id(group), now, group))
    return out


def register(store: Store, entries: Iterable[FileEntry], shard_size: int) -> list[ShardManifest]:
    """Write manifests for the entries not yet in any shard; return the new manifests."""
    known = {f.path for m in load_manifests(store) for f in m.files}
    fresh = [e for e in entries if e.path not in known]
    manifests = plan(fresh, shard_size)
    for m in manifests:
        store.write_bytes(f"{MANIFESTS}/{m.shard}.json", m.to_json())
    return manifests
