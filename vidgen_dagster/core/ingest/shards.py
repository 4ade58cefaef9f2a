"""Footage registration: find video files, wait until they stop growing, group them into shards.

The registry is the set of shard manifests under ``<home>/manifests/``: a file whose path is in
any manifest is never registered again. Grouping is deterministic: new files are sorted by path
and cut into runs of ``shard_size``; a shard's id is a hash of its members, so registering the
same files again (e.g. after a crash between writing the manifest and adding the partition)
yields the same id. The footage sensor and ``vidgen curate`` both call :func:`register`.

Manifests are input, not trusted: each is validated (shape, a shard id of our pattern that matches its
file name, every path absolute, normalised and inside a registered input root) before use, and a bad one
is reported by name while the other shards go on. Entries that cannot be read as files (a broken link,
a symlink loop, a folder named like a video) are registered with the reason, so they end in a recorded
state instead of stopping the batch.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import stat
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..common.errors import ConfigError
from ..common.store import Store

log = logging.getLogger(__name__)

MANIFESTS = "manifests"
INPUTS_FILE = "inputs.json"
SHARD_RE = re.compile(r"^sh-[0-9a-f]{12}$")


class ManifestError(ConfigError):
    code = "bad_manifest"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size_bytes: int
    mtime_ns: int
    # Why this entry is not a readable file (broken link, link loop, a folder, gone); None for a file.
    error: str | None = None

    @classmethod
    def of(cls, path: str | Path) -> FileEntry:
        st = os.stat(path)
        return cls(str(path), st.st_size, st.st_mtime_ns)

    @classmethod
    def probe(cls, path: str | Path) -> FileEntry:
        """The entry for ``path`` as it is now, never raising: unreadable entries carry the reason."""
        p = Path(path)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if os.path.islink(p):
                return cls(str(p), -1, -1, f"broken symbolic link (target {os.readlink(p)!r} does not exist)")
            return cls(str(p), -1, -1, "missing: the file disappeared after registration")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return cls(str(p), -1, -1, "symbolic link loop")
            return cls(str(p), -1, -1, f"unreadable: {exc.strerror or exc}")
        if stat.S_ISDIR(st.st_mode):
            return cls(str(p), -1, -1, "not a file: a folder named like a video (skipped)")
        if not stat.S_ISREG(st.st_mode):
            return cls(str(p), -1, -1, "not a regular file (skipped)")
        return cls(str(p), st.st_size, st.st_mtime_ns)

    def fingerprint(self) -> tuple:
        return (self.size_bytes, self.mtime_ns, self.error)


@dataclass(frozen=True)
class ShardManifest:
    shard: str
    registered_at: str
    files: tuple[FileEntry, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {"shard": self.shard, "registered_at": self.registered_at, "files": [{k: v for k, v in asdict(f).items() if v is not None or k != "error"} for f in self.files]},
            indent=1,
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, payload: bytes, name: str = "manifest", roots: list[str] | None = None) -> ShardManifest:
        """Parse and validate one manifest; ``roots``: the registered input roots every path must lie in."""
        try:
            d = json.loads(payload)
            shard, registered_at, files = d["shard"], d["registered_at"], d["files"]
            if not isinstance(files, list) or not isinstance(registered_at, str):
                raise TypeError("files must be a list and registered_at a string")
            entries = tuple(FileEntry(**{k: f[k] for k in ("path", "size_bytes", "mtime_ns")},
                                      error=f.get("error")) for f in files)
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"manifest {name} is not a vidgen shard manifest: {exc}") from exc
        if not isinstance(shard, str) or not SHARD_RE.match(shard) or name not in (shard, f"{shard}.json"):
            raise ManifestError(f"manifest {name}: shard id {shard!r} is not of the form sh-<12 hex> matching "
                                "its file name")
        for e in entries:
            if (not isinstance(e.path, str) or not os.path.isabs(e.path) or os.path.normpath(e.path) != e.path
                    or not isinstance(e.size_bytes, int) or not isinstance(e.mtime_ns, int)):
                raise ManifestError(f"manifest {name}: bad entry {e.path!r} (paths must be absolute and normalised)")
            if roots is not None and not any(is_inside(e.path, r) for r in roots):
                raise ManifestError(f"manifest {name}: {e.path!r} is outside every registered input folder")
        if entries and shard_id(entries) != shard:
            raise ManifestError(f"manifest {name}: shard id {shard} does not match its files")
        return cls(shard, registered_at, entries)


def is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def discover(paths: Iterable[str | Path], extensions: Iterable[str]) -> list[Path]:
    """Video files among ``paths`` (folders are walked, hidden entries skipped), absolute, sorted.

    A file named explicitly is taken whatever its extension; inside folders only ``extensions``.
    Entries with a video extension that are not readable files (broken links, link loops, folders
    named ``x.mp4``) are returned too: registration records them with the reason (see
    :meth:`FileEntry.probe`). Symbolic links to files are kept under their own (link) path.
    """
    exts = {e.lower() for e in extensions}
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_file():
            found.add(absolute_entry(p))
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                for name in dirs:  # a folder named like a video: recorded, and still walked
                    if not name.startswith(".") and Path(name).suffix.lower() in exts:
                        found.add(absolute_entry(Path(root) / name))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if not name.startswith(".") and Path(name).suffix.lower() in exts:
                        found.add(absolute_entry(Path(root) / name))
        else:
            raise ConfigError(f"no such file or folder: {p}")
    return sorted(found)


def root_of(path: str | Path) -> str:
    """The input root a path given on the command line stands for: a folder fully resolved (os.walk lists
    its files under the resolved path), a file with its folders resolved (the link itself kept)."""
    p = Path(path)
    return str(p.resolve() if p.is_dir() else absolute_entry(p))


def absolute_entry(p: Path) -> Path:
    """The file's path with its folders resolved but the entry itself kept (a link stays a link, so a
    loop or a dangling target can be recorded instead of raising)."""
    return p.parent.resolve() / p.name


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
        e = FileEntry.probe(p)
        if e.error and e.error.startswith("missing"):  # vanished between listing and stat
            continue
        if seen.get(e.path) == [e.size_bytes, e.mtime_ns] or now - e.mtime_ns / 1e9 >= settle_seconds:
            ready.append(e)
        else:
            pending[e.path] = [e.size_bytes, e.mtime_ns]
    return ready, pending


def input_roots(store: Store) -> list[str] | None:
    """The folders (and single files) footage was registered from: manifests may only name paths in them.
    None for a home made before roots were recorded (see :func:`adopt_legacy_roots`)."""
    try:
        roots = json.loads(store.read_bytes(INPUTS_FILE))["roots"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{store.home}/{INPUTS_FILE} is not valid: {exc}") from exc
    return [r for r in roots if isinstance(r, str)]


def add_input_roots(store: Store, paths: Iterable[str | Path]) -> None:
    roots = set(input_roots(store) or [])
    new = {root_of(p) for p in paths} - roots
    if new or input_roots(store) is None:
        store.write_bytes(INPUTS_FILE, json.dumps({"roots": sorted(roots | new)}, indent=1).encode())


def adopt_legacy_roots(store: Store) -> list[str]:
    """A home made before input roots were recorded: adopt the folders its manifests already name
    (trust on first use, once), so every later manifest is checked against them."""
    if input_roots(store) is not None:
        return []
    folders = sorted({str(Path(f.path).parent) for m in load_manifests(store, []) for f in m.files})
    add_input_roots(store, [])
    if folders:
        store.write_bytes(INPUTS_FILE, json.dumps({"roots": folders}, indent=1).encode())
    return folders


def load_manifests(store: Store, problems: list[str] | None = None) -> list[ShardManifest]:
    """Every valid manifest. A bad one is skipped (one bad file must not stop every other shard) and
    described in ``problems`` when given, else logged as a warning."""
    roots = input_roots(store)
    out = []
    for name in store.list_files(MANIFESTS, ".json"):
        try:
            out.append(ShardManifest.from_json(store.read_bytes(f"{MANIFESTS}/{name}"), name, roots))
        except ManifestError as exc:
            problem = f"{store.home}/{MANIFESTS}/{name}: {exc.message}"
            if problems is None:
                log.warning("skipped manifest %s", problem)
            else:
                problems.append(problem)
    return out


def load_manifest(store: Store, shard: str) -> ShardManifest:
    if not SHARD_RE.match(shard):
        raise ManifestError(f"invalid shard id {shard!r} (expected sh-<12 hex>)")
    try:
        payload = store.read_bytes(f"{MANIFESTS}/{shard}.json")
    except FileNotFoundError as exc:
        raise ConfigError(f"shard {shard!r} has no manifest under {store.home}/{MANIFESTS}") from exc
    return ShardManifest.from_json(payload, f"{shard}.json", input_roots(store))


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


def register(store: Store, entries: Iterable[FileEntry], shard_size: int,
             manifests: list[ShardManifest] | None = None) -> list[ShardManifest]:
    """Write manifests for the entries not yet in any shard; return the new manifests."""
    existing = manifests if manifests is not None else load_manifests(store)
    known = {f.path for m in existing for f in m.files}
    fresh = [e for e in entries if e.path not in known]
    new = plan(fresh, shard_size)
    for m in new:
        store.write_bytes(f"{MANIFESTS}/{m.shard}.json", m.to_json())
    return new


def refresh(store: Store, manifest: ShardManifest) -> ShardManifest | None:
    """Re-stat the shard's files; when any changed (size, mtime, gone, link broken or fixed) write the
    manifest with what is there now and return it (the shard must be re-curated from ``videos``
    down); None when nothing changed. The shard id stays: it names the set of paths, not contents."""
    now = tuple(FileEntry.probe(f.path) for f in manifest.files)
    if [e.fingerprint() for e in now] == [f.fingerprint() for f in manifest.files]:
        return None
    updated = ShardManifest(manifest.shard, manifest.registered_at, now)
    store.write_bytes(f"{MANIFESTS}/{manifest.shard}.json", updated.to_json())
    return updated
