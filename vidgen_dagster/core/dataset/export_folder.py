"""The export folder and the proof of which files in it an export of this tool wrote.

An export removes or replaces a file only when it can prove the file is its own: the name is one an
export writes (:data:`OWN_NAMES`, relative to the folder, no ``..``, no absolute path), no symlink lies
on the way (the resolved path is the folder's own), and the file's current content matches the size and
SHA-256 that ``manifest.json`` recorded when the export wrote it (same size and mtime is taken as
unchanged, so a re-export does not re-read every clip). Anything else is someone else's file: left as
it is, and if the export would have to write over it, the export refuses before touching anything
(:class:`ExportRefusedError`).

``manifest.json`` carries ``tool``, ``version`` and an ``export_id`` (fixed for the folder's life). A
manifest without them, or of another shape, is not ours: refused. Files are recorded in a journal
(``.vidgen-export-<id>.journal``, one JSON line per file, written *before* the file is renamed into
place) between manifest saves, so a killed export still owns what it wrote. Temporary files carry the
export id's head in their names; only those are swept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import uuid
from pathlib import Path
from typing import Any

from ..common.errors import ExportRefusedError
from .cutting import remove_if_present, temp_name, tmp_pattern

MANIFEST = "manifest.json"
MANIFEST_TOOL = "vidgen-dagster export"
MANIFEST_VERSION = 2
OWN_NAMES = re.compile(
    r"^(clips/[A-Za-z0-9_-]+\.mp4|clips/metadata\.jsonl|webdataset/shard-\d{6}\.tar"
    r"|opensora\.csv|vidgen\.jsonl|clips\.parquet|README\.md)$"
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class ExportFolder:
    """``root`` and the manifest of the exports written into it (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike):
        self.root = Path(out_dir).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise ExportRefusedError(f"{self.root} is not a folder")
        self.manifest = self._load()
        self.tag = self.manifest["export_id"][:12]
        self._journal_path = self.root / f".vidgen-export-{self.tag}.journal"
        self._replay()
        self._journal = None
        self.left: list[str] = []  # recorded files changed by someone else: forgotten, not removed

    # -- the manifest --------------------------------------------------------------------------

    def _refuse_manifest(self, why: str) -> ExportRefusedError:
        return ExportRefusedError(f"{self.root / MANIFEST} is not a manifest this tool's export wrote ({why}); "
                                  "export into an empty folder or move that file away")

    def _load(self) -> dict:
        path = self.root / MANIFEST
        if path.is_symlink():
            raise self._refuse_manifest("a symlink")
        if not path.exists():
            self.new = True
            return {"tool": MANIFEST_TOOL, "version": MANIFEST_VERSION, "export_id": uuid.uuid4().hex,
                    "files": {}, "clips": {}, "tars": {}, "formats": []}
        self.new = False
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise self._refuse_manifest(f"unreadable: {exc}") from exc
        if isinstance(data, dict) and data.get("version") == 1 and "tool" not in data:
            raise self._refuse_manifest("an older export's, without an export id or content hashes, so it "
                                        "cannot prove which files are its own")
        if not isinstance(data, dict) or data.get("tool") != MANIFEST_TOOL:
            raise self._refuse_manifest("no export id")
        if data.get("version") != MANIFEST_VERSION:
            raise self._refuse_manifest(f"version {data.get('version')!r}, this tool writes {MANIFEST_VERSION}")
        if not isinstance(data.get("export_id"), str) or not _EXPORT_ID.match(data["export_id"]):
            raise self._refuse_manifest("no export id")
        for key in ("files", "clips", "tars"):
            if not isinstance(data.get(key), dict):
                raise self._refuse_manifest(f"'{key}' is not an object")
        if not isinstance(data.get("formats"), list):
            raise self._refuse_manifest("'formats' is not a list")
        for rel, rec in data["files"].items():
            self._check_record(rel, rec, self._refuse_manifest)
        for cid, entry in data["clips"].items():
            if not isinstance(entry, dict) or entry.get("file") not in data["files"]:
                raise self._refuse_manifest(f"clip {cid!r} names a file the manifest does not record")
        return data

    @staticmethod
    def _check_record(rel: Any, rec: Any, refuse) -> None:
        if not isinstance(rel, str) or not OWN_NAMES.match(rel):
            raise refuse(f"it names {rel!r}, not a file an export writes")
        if not (isinstance(rec, dict) and isinstance(rec.get("sha256"), str) and _HEX64.match(rec["sha256"])
                and isinstance(rec.get("bytes"), int) and isinstance(rec.get("mtime_ns"), int)):
            raise refuse(f"the record of {rel!r} has no size, mtime and sha256")

    def _replay(self) -> None:
        """Files a killed export renamed into place after its last manifest save."""
        path = self._journal_path
        if self.new or path.is_symlink() or not path.is_file():
            return
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                self._check_record(entry.get("file"), entry, ValueError)
            except (ValueError, AttributeError):
                continue  # a line cut short by the kill (or not ours): proves nothing
            rel = entry["file"]
            self.manifest["files"][rel] = {k: entry[k] for k in ("sha256", "bytes", "mtime_ns")}
            if isinstance(entry.get("clip"), list) and len(entry["clip"]) == 2:
                cid, clip = entry["clip"]
                if isinstance(clip, dict) and clip.get("file") == rel:
                    self.manifest["clips"][cid] = clip

    def begin(self) -> None:
        """Create the folder and (first export) the manifest that owns everything written after it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.new:
            self.save()
            self.new = False

    def save(self) -> None:
        """Write the manifest atomically; what the journal held is now in it."""
        payload = json.dumps(self.manifest, sort_keys=True, indent=1).encode() + b"\n"
        path = self.root / MANIFEST
        if not (path.is_file() and not path.is_symlink() and path.read_bytes() == payload):
            tmp = temp_name(path, self.tag)
            try:
                tmp.write_bytes(payload)
                os.replace(tmp, path)
            except BaseException:
                remove_if_present(tmp)
                raise
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        remove_if_present(self._journal_path)

    # -- paths and ownership -------------------------------------------------------------------

    def path(self, rel: str) -> Path:
        """``root / rel`` for one of our own names, refusing a symlink anywhere below ``root``."""
        if not OWN_NAMES.match(rel):
            raise ExportRefusedError(f"{rel!r} is not a file name an export writes")
        p = self.root / rel
        for part in (p.parent, p) if p.parent != self.root else (p,):
            if part.is_symlink():
                raise ExportRefusedError(f"{part} is a symlink; an export writes only real files inside "
                                         f"{self.root}")
        if p.parent.exists() and not p.parent.is_dir():
            raise ExportRefusedError(f"{p.parent} is not a folder")
        return p

    def state(self, rel: str) -> str:
        """``absent``, ``ours`` (recorded, content unchanged) or ``foreign`` (anything else there)."""
        p = self.path(rel)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return "absent"
        rec = self.manifest["files"].get(rel)
        if rec is None or not stat.S_ISREG(st.st_mode) or st.st_size != rec["bytes"]:
            return "foreign"
        if st.st_mtime_ns == rec["mtime_ns"] or sha256_file(p) == rec["sha256"]:
            return "ours"
        return "foreign"

    def check_targets(self, rels: list[str]) -> None:
        """Refuse (touching nothing) if any file this export would write is there and not ours."""
        foreign = [rel for rel in rels if self.state(rel) == "foreign"]
        if foreign:
            more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
            raise ExportRefusedError(
                f"{self.root / foreign[0]}{more} exists and was not written by an export into this folder "
                "(or changed since); move it away or export into an empty folder")

    def remove(self, rel: str) -> bool:
        """Remove ``rel`` if it is ours; a file changed by someone else is left and forgotten."""
        state = self.state(rel)
        if state == "ours":
            remove_if_present(self.root / rel)
        elif state == "foreign":
            self.left.append(rel)
        self.manifest["files"].pop(rel, None)
        return state == "ours"

    # -- writing -------------------------------------------------------------------------------

    def tmp(self, rel: str) -> Path:
        return temp_name(self.path(rel), self.tag)

    def commit(self, tmp: Path, rel: str, clip: tuple[str, dict] | None = None) -> None:
        """Record ``tmp``'s content for ``rel`` (journal first), then rename it into place."""
        st = os.stat(tmp)
        rec = {"sha256": sha256_file(tmp), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        line = {"file": rel, **rec}
        if clip is not None:
            line["clip"] = list(clip)
        if self._journal is None:
            fd = os.open(self._journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
            self._journal = os.fdopen(fd, "a")
        self._journal.write(json.dumps(line, sort_keys=True) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        os.replace(tmp, self.path(rel))
        self.manifest["files"][rel] = rec
        if clip is not None:
            self.manifest["clips"][clip[0]] = clip[1]

    def write_bytes(self, rel: str, payload: bytes) -> bool:
        """Write ``payload`` to ``rel`` unless our unchanged file already holds exactly it."""
        rec = self.manifest["files"].get(rel)
        if (rec and rec["bytes"] == len(payload) and rec["sha256"] == hashlib.sha256(payload).hexdigest()
                and self.state(rel) == "ours"):
            return False
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp(rel)
        try:
            tmp.write_bytes(payload)
            self.commit(tmp, rel)
        except BaseException:
            remove_if_present(tmp)
            raise
        return True

    def sweep_tmp(self) -> int:
        """Remove temporary files carrying this export's id (a killed run's); nobody else's."""
        pattern = tmp_pattern(self.tag)
        n = 0
        for d in (self.root, self.root / "clips", self.root / "webdataset"):
            if d.is_symlink() or not d.is_dir():
                continue
            for f in d.iterdir():
                if pattern.match(f.name) and not f.is_symlink() and f.is_file():
                    remove_if_present(f)
                    n += 1
        return n
