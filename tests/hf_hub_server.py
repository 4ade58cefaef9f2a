"""A local Hugging Face hub for tests: what ``huggingface_hub`` (2.x) calls to download a snapshot.

:class:`HubServer` runs two :class:`http.server.ThreadingHTTPServer` listeners on ``127.0.0.1`` (free
ports) in background threads: the *hub* (point ``HF_ENDPOINT`` at :attr:`HubServer.endpoint`) and a
*CDN* on another origin, where large (LFS) files live, as on huggingface.co. What the hub answers,
as ``huggingface_hub``'s ``snapshot_download`` / ``hf_hub_download`` read it:

* ``GET /api/models/{repo}[/revision/{rev}]`` -> model info (``sha`` = the commit ``rev`` resolves to,
  ``siblings``, ``gated``). ``snapshot_download`` asks this only when the revision is not a commit hash.
* ``GET /api/models/{repo}/tree/{rev}?recursive=true`` -> every file (``type``, ``path``, ``size``,
  ``oid`` = git blob sha1, and for LFS files ``lfs: {oid: sha256, size, pointerSize}``) and folder.
* ``HEAD|GET /{repo}/resolve/{rev}/{path}``: a small file is a 200 with ``ETag`` (its git blob sha1),
  ``X-Repo-Commit``, ``Content-Length``; an LFS file is a 302 to the CDN with ``X-Linked-Etag`` (its
  sha256), ``X-Linked-Size`` and ``X-Repo-Commit`` (``huggingface_hub`` reads the metadata from the
  302 and does not follow a redirect to another origin, nor send the token there).
* errors as the hub sends them: ``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` /
  ``EntryNotFound`` (404) and, for a gated repo, ``GatedRepo`` with 401 when no token is sent and 403
  when the token is not on the repo's access list; the tree and model info stay public (as on the hub).

Files are served whole or by ``Range: bytes=N-[M]`` (206 with ``Content-Range``), which is how
``huggingface_hub`` resumes a download whose connection broke. :class:`FileFault` cuts a file's
transfers at a byte offset (the connection is closed there, the announced length unmet) or serves
it corrupted (same size, one byte flipped; the headers still announce the genuine hashes).
:meth:`HubServer.add_static` serves any other file (a weights mirror) from the CDN origin.

Every request is recorded in :attr:`HubServer.requests` (method, origin, path, range, token, status,
body bytes sent).

    with HubServer() as hub:
        commit = hub.add_repo("org/model", {"config.json": b"{}", "model.safetensors": weights})
        env["HF_ENDPOINT"] = hub.endpoint
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".msgpack", ".h5", ".onnx", ".model", ".gguf")


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a blob (what the hub reports as a file's ``oid`` and small files' ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    """The git-LFS pointer file committed in place of a large file."""
    sha = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()


@dataclass
class HubFile:
    path: str
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def blob_id(self) -> str:
        """The git blob id: of the pointer for an LFS file, of the content otherwise."""
        return git_blob_sha1(lfs_pointer(self.data) if self.lfs else self.data)


@dataclass
class HubRepo:
    repo_id: str
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)  # commit -> path -> file
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit
    gated: bool = False
    tokens: set[str] = field(default_factory=set)  # tokens granted access (gated repos)

    def resolve(self, rev: str) -> str | None:
        return rev if rev in self.commits else self.refs.get(rev)


@dataclass
class FileFault:
    """How the server mistreats one file's transfers (by its sha256, so hub and CDN alike)."""

    drop_at: int | None = None  # never send a byte past this offset: close the connection there
    drops: int = -1  # how many transfers are cut (-1: all of them)
    corrupt: bool = False  # flip the middle byte (size and announced hashes unchanged)


@dataclass
class HubRequest:
    method: str
    origin: str  # "hub" | "cdn"
    path: str  # unquoted, without the query string
    range: str | None = None
    authorization: str | None = None
    status: int = 0
    sent: int = 0  # body bytes written
    cut: bool = False  # the transfer was cut by a FileFault


class HubServer:
    """A local hub (:attr:`endpoint`) and CDN (:attr:`cdn_endpoint`); a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.static: dict[str, bytes] = {}  # CDN path -> bytes (add_static)
        self.faults: dict[str, FileFault] = {}  # sha256 of a file's content -> fault
        self.requests: list[HubRequest] = []
        self._lock = threading.Lock()
        self._servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []
        self._commit_seq = 0

    # -- content --------------------------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, commit: str | None = None, branch: str | None = "main",
                 gated: bool = False, tokens: tuple[str, ...] = (), lfs: tuple[str, ...] | None = None) -> str:
        """Add one commit of ``repo_id`` holding ``files`` (path -> bytes); ``branch`` is moved to it
        (None: the commit is reachable by its hash only). ``lfs``: the LFS paths (default: weights-like
        suffixes, :data:`LFS_SUFFIXES`). Returns the commit hash (``commit`` or a made-up one)."""
        if commit is None:
            self._commit_seq += 1
            commit = hashlib.sha1(f"{repo_id}#{self._commit_seq}".encode(), usedforsecurity=False).hexdigest()
        repo = self.repos.setdefault(repo_id, HubRepo(repo_id))
        repo.gated = repo.gated or gated
        repo.tokens.update(tokens)
        is_lfs = (lambda p: p in lfs) if lfs is not None else (lambda p: p.endswith(LFS_SUFFIXES))
        repo.commits[commit] = {p: HubFile(p, bytes(d), is_lfs(p)) for p, d in files.items()}
        if branch:
            repo.refs[branch] = commit
        return commit

    def add_static(self, path: str, data: bytes) -> str:
        """Serve ``data`` at ``path`` on the CDN origin; returns its URL."""
        self.static["/" + path.lstrip("/")] = bytes(data)
        return f"{self.cdn_endpoint}/{quote(path.lstrip('/'))}"

    def fault(self, data: bytes, fault: FileFault) -> None:
        """Apply ``fault`` to every transfer of a file with this content."""
        self.faults[hashlib.sha256(data).hexdigest()] = fault

    def resolved(self, repo_id: str | None = None) -> list[HubRequest]:
        """The ``/resolve/`` requests (optionally of one repo), in arrival order."""
        with self._lock:
            return [r for r in self.requests if "/resolve/" in r.path
                    and (repo_id is None or r.path.startswith(f"/{repo_id}/resolve/"))]

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._url(0)

    @property
    def cdn_endpoint(self) -> str:
        return self._url(1)

    def _url(self, i: int) -> str:
        host, port = self._servers[i][0].server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        for origin in ("hub", "cdn"):
            handler = type(f"{origin.title()}Handler", (_Handler,), {"owner": self, "origin": origin})
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            httpd.daemon_threads = True
            thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"hf-{origin}", daemon=True)
            thread.start()
            self._servers.append((httpd, thread))
        return self

    def stop(self) -> None:
        for httpd, thread in self._servers:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)
        self._servers = []

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers (called from handler threads) --------------------------------------------------------

    def _log(self, record: HubRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _take_fault(self, data: bytes) -> FileFault | None:
        with self._lock:
            fault = self.faults.get(hashlib.sha256(data).hexdigest())
            if fault is None:
                return None
            if fault.drop_at is not None and fault.drops != 0:
                if fault.drops > 0:
                    fault.drops -= 1
                return fault
            return FileFault(corrupt=True) if fault.corrupt else None


def _hub_error(status: int, code: str, message: str, commit: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
    if commit:
        headers["X-Repo-Commit"] = commit
    return status, headers, json.dumps({"error": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    owner: HubServer
    origin: str

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        return

    def do_HEAD(self) -> None:  # noqa: N802 - http.server API
        self._dispatch(body=False)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._dispatch(body=True)

    # -- routing --------------------------------------------------------------------------------------

    def _dispatch(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        record = HubRequest(self.command, self.origin, path, self.headers.get("Range"),
                            self.headers.get("Authorization"))
        self.owner._log(record)
        if self.origin == "cdn":
            data = self.owner.static.get(path)
            if data is None and path.startswith("/lfs/"):
                data = self._lfs_blob(path[len("/lfs/"):])
            if data is None:
                self._reply(record, *_hub_error(404, "EntryNotFound", f"no file at {path}"), body=body)
            else:
                self._serve_bytes(record, data, {}, body)
            return
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._api(record, parts[2:], body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve(record, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        else:
            self._reply(record, *_hub_error(404, "RepoNotFound", f"no route {path}"), body=body)

    def _repo(self, record: HubRequest, repo_id: str, body: bool) -> HubRepo | None:
        repo = self.owner.repos.get(repo_id)
        if repo is None:
            self._reply(record, *_hub_error(404, "RepoNotFound", "Repository not found"), body=body)
        return repo

    def _api(self, record: HubRequest, parts: list[str], body: bool) -> None:
        repo_id = "/".join(parts[:2])
        repo = self._repo(record, repo_id, body)
        if repo is None:
            return
        rest = parts[2:]
        rev = rest[1] if len(rest) >= 2 and rest[0] in ("revision", "tree") else "main"
        commit = repo.resolve(rev)
        if commit is None:
            self._reply(record, *_hub_error(404, "RevisionNotFound", f"Invalid rev id: {rev}"), body=body)
            return
        files = repo.commits[commit]
        if rest and rest[0] == "tree":
            prefix = "/".join(rest[2:])
            payload: Any = _tree(files, prefix)
        else:
            payload = {"_id": repo_id, "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0],
                       "sha": commit, "private": False, "disabled": False,
                       "gated": "manual" if repo.gated else False, "tags": [], "downloads": 0, "likes": 0,
                       "siblings": [{"rfilename": p} for p in sorted(files)]}
        self._reply(record, 200, {"Content-Type": "application/json"}, json.dumps(payload).encode(), body=body)

    def _resolve(self, record: HubRequest, repo_id: str, rev: str, path: str, body: bool) -> None:
        repo = self._repo(record, repo_id, body)
        if repo is None:
            return
        if repo.gated:
            auth = record.authorization or ""
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            if token is None:
                self._reply(record, *_hub_error(
                    401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it and be "
                                      "authenticated to access it. Please log in."), body=body)
                return
            if token not in repo.tokens:
                self._reply(record, *_hub_error(
                    403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the authorized "
                                      f"list. Visit {self.owner.endpoint}/{repo_id} to ask for access."), body=body)
                return
        commit = repo.resolve(rev)
        if commit is None:
            self._reply(record, *_hub_error(404, "RevisionNotFound", f"Invalid rev id: {rev}"), body=body)
            return
        f = repo.commits[commit].get(path)
        if f is None:
            self._reply(record, *_hub_error(404, "EntryNotFound", f"{path} does not exist on \"{rev}\"", commit),
                        body=body)
            return
        headers = {"X-Repo-Commit": commit}
        if f.lfs:
            headers.update({"ETag": f'"{f.blob_id}"', "X-Linked-Etag": f'"{f.sha256}"',
                            "X-Linked-Size": str(len(f.data)),
                            "Location": f"{self.owner.cdn_endpoint}/lfs/{f.sha256}?repo={quote(repo_id)}"})
            self._reply(record, 302, headers, b"", body=body)
            return
        headers["ETag"] = f'"{f.blob_id}"'
        self._serve_bytes(record, f.data, headers, body)

    def _lfs_blob(self, sha256: str) -> bytes | None:
        for repo in self.owner.repos.values():
            for files in repo.commits.values():
                for f in files.values():
                    if f.lfs and f.sha256 == sha256:
                        return f.data
        return None

    # -- writing --------------------------------------------------------------------------------------

    def _serve_bytes(self, record: HubRequest, data: bytes, headers: dict[str, str], body: bool) -> None:
        total = len(data)
        start, end = 0, total
        status = 200
        spec = record.range
        if spec and spec.startswith("bytes="):
            first, _, last = spec[len("bytes="):].partition("-")
            try:
                start = int(first)
                end = min(total, int(last) + 1) if last else total
            except ValueError:
                start, end = 0, total
            if not 0 <= start < end:
                self._reply(record, 416, {"Content-Range": f"bytes */{total}"}, b"", body=body)
                return
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{total}"}
        fault = self.owner._take_fault(data) if body else None
        if fault is not None and fault.corrupt:
            mid = total // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        chunk = data[start:end]
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", **headers}
        if fault is not None and fault.drop_at is not None and end > fault.drop_at:
            self._cut(record, status, headers, chunk, max(0, fault.drop_at - start))
            return
        self._reply(record, status, headers, chunk, body=body)

    def _cut(self, record: HubRequest, status: int, headers: dict[str, str], chunk: bytes, keep: int) -> None:
        """Announce the whole chunk, send ``keep`` bytes of it, then drop the connection."""
        record.status, record.cut = status, True
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(chunk[:keep])
            self.wfile.flush()
            record.sent = keep
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _reply(self, record: HubRequest, status: int, headers: dict[str, str], payload: bytes, *,
               body: bool) -> None:
        record.status = status
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body and payload:
                self.wfile.write(payload)
                record.sent = len(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _tree(files: dict[str, HubFile], prefix: str) -> list[dict]:
    """The hub's recursive tree listing under ``prefix``: folders, then files, each once."""
    prefix = prefix.strip("/")
    entries: list[dict] = []
    folders: set[str] = set()
    for path in sorted(files):
        if prefix and not path.startswith(prefix + "/"):
            continue
        parts = path.split("/")[:-1]
        for i in range(len(parts)):
            folder = "/".join(parts[: i + 1])
            if folder not in folders and (not prefix or folder.startswith(prefix + "/")):
                folders.add(folder)
                entries.append({"type": "directory", "oid": git_blob_sha1(folder.encode()), "size": 0,
                                "path": folder})
        f = files[path]
        entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": len(f.data), "path": path}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": len(lfs_pointer(f.data))}
        entries.append(entry)
    return entries
