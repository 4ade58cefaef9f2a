"""``vidgen models pull``: fetch the pinned weights the configuration uses, verified, atomically.

What is fetched (:func:`plan_pull`):

* Hugging Face snapshots (CLIP, the captioning VLM, the judge LLM) at their pinned commits, only the
  files the loaders need (each backend's ``*_ALLOW_PATTERNS``), into the HF cache (``$HF_HOME/hub``),
  from ``$HF_ENDPOINT`` (default https://huggingface.co). ``huggingface_hub`` writes each file to a
  temporary name and renames it into place, resuming a broken transfer with a ``Range`` request; it
  checks sizes only, so :func:`pull` then checks every fetched file against the hub's own checksums
  (the sha256 of LFS files, the git blob id of small ones) and removes from the cache any file that
  does not match. A gated repo (Llama-3.1) needs a token of an account that accepted its licence
  (``HF_TOKEN`` or ``hf auth login``); the error says so.
* Other files: the torchvision RAFT weights (into the torch hub cache, checked against the sha256
  prefix in torchvision's file name, as ``torch.hub`` does) and the LAION aesthetic head (into the
  vidgen models cache, checked against its pinned md5), each written to a temporary file, checked,
  then renamed. ``$VIDGEN_WEIGHTS_MIRROR`` (a base URL) fetches them by file name from a mirror
  instead of download.pytorch.org / github.com; the pinned checksums apply all the same.
* PaddleOCR models when ``ocr.backend`` is ``paddleocr`` (PaddleX's own download).

Every line of output starts with the step; a failure is one ``<step>: FAILED: ...`` line and the
other steps go on. Nothing here runs unless ``pull`` is called.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.common.errors import VidgenError

WEIGHTS_MIRROR_ENV = "VIDGEN_WEIGHTS_MIRROR"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_TORCH_HASH = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's HASH_REGEX: the sha256 prefix in a file name


def weights_url(url: str) -> str:
    """``url``, or the same file name under ``$VIDGEN_WEIGHTS_MIRROR`` when that is set."""
    mirror = os.environ.get(WEIGHTS_MIRROR_ENV, "").strip().rstrip("/")
    return f"{mirror}/{url.rsplit('/', 1)[-1]}" if mirror else url


def _size(n: int) -> str:
    value, unit = float(n), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{value:.1f} {unit} ({n:,} bytes)" if unit != "B" else f"{n:,} bytes"


# ---------------------------------------------------------------------------------- plain downloads


def download(url: str, dest: Path, timeout: float = 60.0, *, md5: str | None = None,
             sha256_prefix: str | None = None) -> Path:
    """Fetch ``url`` to ``dest`` atomically: into a temporary file in the same folder, checked against
    ``md5`` / ``sha256_prefix`` when given, then renamed. A transfer cut short (fewer bytes than the
    announced length) or a failed check raises and leaves neither ``dest`` nor the temporary file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        md5_hash, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            announced = resp.headers.get("Content-Length")
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                md5_hash.update(chunk)
                sha256.update(chunk)
                received += len(chunk)
        # http.client ends a read quietly when the peer closes early: compare with the announced length.
        if announced is not None and received != int(announced):
            raise OSError(f"{url}: the connection closed after {received:,} of {int(announced):,} bytes")
        if md5 and md5_hash.hexdigest() != md5:
            raise VidgenError(f"{dest.name}: md5 {md5_hash.hexdigest()} does not match the pinned {md5} "
                              f"(fetched from {url}); not kept")
        if sha256_prefix and not sha256.hexdigest().startswith(sha256_prefix):
            raise VidgenError(f"{dest.name}: sha256 {sha256.hexdigest()} does not start with the pinned "
                              f"{sha256_prefix} (fetched from {url}); not kept")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def verify_md5(path: Path, expected: str) -> None:
    """Raise (and remove ``path``) unless its md5 is ``expected``."""
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != expected:
        path.unlink(missing_ok=True)
        raise VidgenError(f"{path.name}: md5 {digest} does not match the pinned {expected}; removed")


def _fetch_file(step: str, url: str, dest: Path, checks: dict[str, str], echo: Callable[[str], None]) -> None:
    echo(f"{step}: {dest.name} from {url} -> {dest}")
    download(url, dest, **checks)
    what = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in checks.items())
    echo(f"{step}: {_size(dest.stat().st_size)} fetched" + (f", {what} verified" if what else ""))


# ------------------------------------------------------------------------------------ HF snapshots


def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.sha256() if algorithm == "sha256" else hashlib.sha1(usedforsecurity=False)
    if algorithm != "sha256":  # git's blob id: sha1 of a "blob <size>\0" header and the content
        h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _remove_cached(path: Path) -> None:
    """Remove a snapshot entry and the blob it points to (the HF cache's layout)."""
    target = path.resolve()
    path.unlink(missing_ok=True)
    if target != path:
        target.unlink(missing_ok=True)


def _verify_snapshot(repo: str, commit: str, folder: Path, files: dict[str, Any], wanted: list[str]) -> None:
    bad = []
    for name in wanted:
        entry, local = files[name], folder / name
        if not local.is_file():
            bad.append(f"{name}: missing after the download")
            continue
        algorithm, expected = ("sha256", entry.lfs.sha256) if entry.lfs else ("git blob sha1", entry.blob_id)
        actual = _file_digest(local, "sha256" if entry.lfs else "git")
        if actual != expected:
            _remove_cached(local)
            bad.append(f"{name}: {algorithm} {actual} does not match the hub's {expected}")
    if bad:
        raise VidgenError(f"{repo}@{commit}: " + "; ".join(bad) + " (removed from the cache; run `vidgen models "
                          "pull` again)")


def _gated_message(repo: str, exc: Any, endpoint: str) -> str:
    page = f"{endpoint}/{repo}"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 403:
        return (f"{repo} is a gated model and the Hugging Face token sent has no access to it: accept its "
                f"licence on {page} signed in as the token's account (the grant can take a while), then "
                f"rerun `vidgen models pull`")
    return (f"{repo} is a gated model and no Hugging Face token was sent: accept its licence on {page} "
            f"(signed in), create a read token at {endpoint}/settings/tokens, set HF_TOKEN=<token> (or run "
            f"`hf auth login`), then rerun `vidgen models pull`")


def _broken_file(exc: BaseException, files: dict[str, Any]) -> str | None:
    """The repo file a failed transfer was for (from the URL of the request that broke)."""
    try:
        path = str(exc.request.url).split("?", 1)[0]  # type: ignore[attr-defined]
    except Exception:  # not an HTTP error, or no request attached
        return None
    for name, entry in files.items():
        if path.endswith("/" + name) or (entry.lfs and path.endswith("/" + entry.lfs.sha256)):
            return name
    return None


def _fetch_snapshot(step: str, repo: str, rev: str, patterns: tuple[str, ...], echo: Callable[[str], None]) -> None:
    import httpx2
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import filter_repo_objects

    api, endpoint = HfApi(), constants.ENDPOINT.rstrip("/")
    commit = rev if _COMMIT.fullmatch(rev) else api.model_info(repo, revision=rev).sha
    echo(f"{step}: {repo}@{commit} from {endpoint}")
    files = {f.path: f for f in api.list_repo_tree(repo, revision=commit, recursive=True) if isinstance(f, RepoFile)}
    wanted = sorted(filter_repo_objects(list(files), allow_patterns=list(patterns)))
    for name in wanted:
        echo(f"{step}:   {name}  {_size(files[name].size)}")
    storage = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    echo(f"{step}: {len(wanted)} files, {_size(sum(files[n].size for n in wanted))} -> {storage}")
    try:
        folder = Path(snapshot_download(repo, revision=rev, allow_patterns=list(patterns)))
    except GatedRepoError as exc:
        raise VidgenError(_gated_message(repo, exc, endpoint)) from exc
    except HfHubHTTPError:  # the hub's own answer (not found, server error): its message says it
        raise
    except (httpx2.TransportError, OSError) as exc:  # the transfer broke (huggingface_hub retried it already)
        name = _broken_file(exc, files)
        raise VidgenError(f"{repo}@{commit}: the download{f' of {name}' if name else ''} broke off "
                          f"({type(exc).__name__}: {exc}); no partial file was kept, run `vidgen models pull` "
                          "again") from exc
    if folder.name != commit:  # a branch moved between the listing and the download
        commit = folder.name
        files = {f.path: f for f in api.list_repo_tree(repo, revision=commit, recursive=True)
                 if isinstance(f, RepoFile)}
        wanted = sorted(filter_repo_objects(list(files), allow_patterns=list(patterns)))
    _verify_snapshot(repo, commit, folder, files, wanted)
    echo(f"{step}: {len(wanted)} files verified (sha256 of LFS files, git blob sha1 of the others) in {folder}")


# ------------------------------------------------------------------------------------------- plan


def _hf_item(step: str, repo: str, rev: str) -> tuple[str, str, str]:
    from huggingface_hub import constants

    return step, f"hf://{repo}@{rev}", str(Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}")


def plan_pull(config: dict) -> list[tuple[str, str, str]]:
    """(step, what, destination) for each model ``pull`` would fetch for the configuration: ``what`` is
    ``hf://<repo>@<revision>``, a URL, or ``paddleocr:<model>``."""
    from ..core.backends.transformers_chat import DEFAULT_JUDGE_LLM, chat_model_revision
    from ..core.captioning.transformers_backend import DEFAULT_VLM, vlm_revision
    from ..core.coarse.scoring import visual
    from ..core.coarse.scoring.motion import raft_weights_file, raft_weights_url

    plan = []
    m = config["motion"]
    if m.get("backend") in ("raft", "auto") and not m.get("raft_weights"):
        import torch

        model = m.get("raft_model", "raft_small")
        dest = Path(torch.hub.get_dir()) / "checkpoints" / raft_weights_file(model)
        plan.append(("motion", weights_url(raft_weights_url(model)), str(dest)))
    v = config["visual"]
    if v.get("backend") == "transformers":
        model = v.get("clip_model") or visual.DEFAULT_CLIP
        if not Path(os.path.expanduser(model)).exists():
            plan.append(_hf_item("visual", model, visual.clip_revision(v)))
        if not v.get("aesthetic_head"):
            plan.append(("aesthetic", weights_url(visual.AESTHETIC_HEAD_URL), str(visual.default_head_path())))
    for step, default, revision in (("captions", DEFAULT_VLM, vlm_revision),
                                    ("judge", DEFAULT_JUDGE_LLM, chat_model_revision)):
        c = config[step]
        if c.get("backend") == "transformers" and not Path(os.path.expanduser(c.get("model") or "")).exists():
            plan.append(_hf_item(step, c.get("model") or default, revision(c)))
    o = config["ocr"]
    if o.get("backend") == "paddleocr":
        plan.append(("ocr", f"paddleocr:{o.get('paddleocr_model')}", "PaddleX cache"))
    return plan


def pull(config: dict, echo: Callable[[str], None] = print) -> list[str]:
    """Fetch every pinned model the configuration uses that is not present. Returns failures."""
    from ..core.backends.transformers_chat import LLM_ALLOW_PATTERNS
    from ..core.captioning.transformers_backend import VLM_ALLOW_PATTERNS
    from ..core.coarse.scoring import visual
    from ..core.coarse.scoring.motion import raft_weights_file
    from .registry import check

    failures = []
    for step, what, dest in plan_pull(config):
        if what.startswith(("hf://", "paddleocr:")):
            have = any(s.present for s in check(config, [step]) if s.step == step)
        else:
            have = Path(dest).is_file()
        if have:
            echo(f"{step}: already present ({dest})")
            continue
        try:
            if what.startswith("hf://"):
                repo, rev = what[len("hf://"):].rsplit("@", 1)
                patterns = {"visual": visual.CLIP_ALLOW_PATTERNS, "captions": VLM_ALLOW_PATTERNS,
                            "judge": LLM_ALLOW_PATTERNS}[step]
                _fetch_snapshot(step, repo, rev, patterns, echo)
            elif what.startswith("paddleocr:"):
                from ..core.coarse.scoring.text import build_text_detector

                echo(f"{step}: fetching {what} -> {dest}")
                build_text_detector(config["ocr"])  # building it makes PaddleOCR fetch its models into its cache
            elif step == "aesthetic":
                _fetch_file(step, what, Path(dest), {"md5": visual.AESTHETIC_HEAD_MD5}, echo)
            else:
                prefix = _TORCH_HASH.search(raft_weights_file(config["motion"].get("raft_model", "raft_small")))
                _fetch_file(step, what, Path(dest), {"sha256_prefix": prefix.group(1)} if prefix else {}, echo)
        except Exception as exc:  # noqa: BLE001 - report every failure, go on with the other steps
            text = exc.message if isinstance(exc, VidgenError) else f"{type(exc).__name__}: {exc}"
            failures.append(f"{step}: {what}: {text}")
            echo(f"{step}: FAILED: {text}")
    return failures
