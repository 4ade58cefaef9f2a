"""`vidgen models pull` against a local Hugging Face hub and weights mirror (real HTTP, offline).

The real command runs in a subprocess with a fresh home, HF cache and torch hub folder, pointed at
:class:`tests.hf_hub_server.HubServer` with ``HF_ENDPOINT`` (the hub, and its CDN for LFS files) and
``VIDGEN_WEIGHTS_MIRROR`` (the RAFT weights and the LAION head). The server holds the three default
HF repos under their real ids and file names, at the pinned commits, and a *different* ``main`` commit
in each, so a fetch of anything but the pin shows in the request log.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hf_hub_server import FileFault, HubServer, git_blob_sha1  # noqa: E402

from vidgen_dagster.core.backends.transformers_chat import DEFAULT_JUDGE_LLM, JUDGE_LLM_REVISION  # noqa: E402
from vidgen_dagster.core.captioning.transformers_backend import DEFAULT_VLM, VLM_REVISION  # noqa: E402
from vidgen_dagster.core.coarse.scoring.visual import AESTHETIC_HEAD_FILE, CLIP_REVISION, DEFAULT_CLIP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "hf_test_token_granted"
CHUNK = 10 * 1024 * 1024  # huggingface_hub writes a download in chunks of this size (constants.DOWNLOAD_CHUNK_SIZE)


def blob(seed: str, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def config_json(kind: str) -> bytes:
    return json.dumps({"model_type": kind, "architectures": [kind]}).encode()


# The repos' real file names (huggingface.co, at the pinned commits); contents are small stand-ins,
# except one CLIP-size-of-a-chunk shard, large enough for huggingface_hub to resume it by Range.
CLIP_FILES = {
    ".gitattributes": b"*.bin filter=lfs\n", "README.md": b"# CLIP\n", "config.json": config_json("clip"),
    "flax_model.msgpack": blob("clip-flax", 4096), "merges.txt": b"#version: 0.2\n", "model.safetensors": blob(
        "clip-st", 8192), "preprocessor_config.json": b"{}", "pytorch_model.bin": blob("clip-bin", 4096),
    "special_tokens_map.json": b"{}", "tf_model.h5": blob("clip-tf", 4096), "tokenizer.json": b'{"model": {}}',
    "tokenizer_config.json": b"{}", "vocab.json": b"{}",
}
CLIP_FETCHED = {"config.json", "merges.txt", "model.safetensors", "preprocessor_config.json",
                "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"}

QWEN_FILES = {
    ".gitattributes": b"*.safetensors filter=lfs\n", "README.md": b"# Qwen2.5-VL\n", "chat_template.json": b"{}",
    "config.json": config_json("qwen2_5_vl"), "generation_config.json": b"{}", "merges.txt": b"#version: 0.2\n",
    **{f"model-0000{i}-of-00005.safetensors": blob(f"qwen-{i}", CHUNK + CHUNK // 5 if i == 1 else 2048 * i)
       for i in range(1, 6)},
    "model.safetensors.index.json": b'{"weight_map": {}}', "preprocessor_config.json": b"{}",
    "tokenizer.json": b'{"model": {"type": "BPE"}}', "tokenizer_config.json": b"{}", "vocab.json": b"{}",
}
QWEN_FETCHED = set(QWEN_FILES) - {".gitattributes", "README.md"}

LLAMA_FILES = {
    ".gitattributes": b"*.safetensors filter=lfs\n", "LICENSE": b"LLAMA 3.1 COMMUNITY LICENSE\n",
    "README.md": b"# Llama 3.1\n", "USE_POLICY.md": b"policy\n", "config.json": config_json("llama"),
    "generation_config.json": b"{}", **{f"model-0000{i}-of-00004.safetensors": blob(f"llama-{i}", 3000 * i)
                                       for i in range(1, 5)},
    "model.safetensors.index.json": b'{"weight_map": {}}', "original/consolidated.00.pth": blob("llama-pth", 8192),
    "original/params.json": b"{}", "original/tokenizer.model": blob("llama-tok", 1024),
    "special_tokens_map.json": b"{}", "tokenizer.json": b'{"model": {"type": "BPE"}}', "tokenizer_config.json": b"{}",
}
# *.json matches original/params.json too (tiny); the 16 GB original/consolidated.00.pth is never fetched.
LLAMA_FETCHED = {"config.json", "generation_config.json", "model.safetensors.index.json", "original/params.json",
                 "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
                 *(f"model-0000{i}-of-00004.safetensors" for i in range(1, 5))}

FILES = {DEFAULT_CLIP: CLIP_FILES, DEFAULT_VLM: QWEN_FILES, DEFAULT_JUDGE_LLM: LLAMA_FILES}
PINS = {DEFAULT_CLIP: CLIP_REVISION, DEFAULT_VLM: VLM_REVISION, DEFAULT_JUDGE_LLM: JUDGE_LLM_REVISION}
FETCHED = {DEFAULT_CLIP: CLIP_FETCHED, DEFAULT_VLM: QWEN_FETCHED, DEFAULT_JUDGE_LLM: LLAMA_FETCHED}
STEP_OF = {DEFAULT_CLIP: "visual", DEFAULT_VLM: "captions", DEFAULT_JUDGE_LLM: "judge"}


def test_default_models_are_pinned_to_commits():
    for repo, pin in PINS.items():
        assert len(pin) == 40 and int(pin, 16) >= 0, f"{repo} is not pinned to a commit hash: {pin!r}"


@pytest.fixture
def hub():
    with HubServer() as server:
        for repo, files in FILES.items():
            gated = repo == DEFAULT_JUDGE_LLM
            server.add_repo(repo, files, commit=PINS[repo], branch=None, gated=gated, tokens=(TOKEN,))
            # `main` has moved on since the pin: other bytes under the same names.
            server.add_repo(repo, {p: d + b"(newer)" for p, d in files.items()}, gated=gated)
        yield server


def pull_env(tmp_path: Path, hub: HubServer, **extra: str) -> dict[str, str]:
    """A fresh user: new home, HF cache and torch hub; every download pointed at the local servers."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE", "VIDGEN_", "TORCH_", "XDG_"))}
    home = tmp_path / "user"
    env.update(PYTHONPATH=str(ROOT), HOME=str(home), HF_HOME=str(home / "hf"), TORCH_HOME=str(home / "torch"), HF_ENDPOINT=hub.endpoint,
               VIDGEN_WEIGHTS_MIRROR=f"{hub.cdn_endpoint}/mirror", HF_HUB_DISABLE_PROGRESS_BARS="1",
               HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


def hf_only_config(tmp_path: Path) -> Path:
    """The default configuration minus the two non-HF downloads (motion on OpenCV, a local head file)."""
    head = tmp_path / "head.pth"
    head.write_bytes(b"a local aesthetic head")
    cfg = tmp_path / "hf_only.yaml"
    cfg.write_text(yaml.safe_dump({"motion": {"backend": "dis"}, "visual": {"aesthetic_head": str(head)}}))
    return cfg


def vidgen(tmp_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path)


def pull(tmp_path: Path, env: dict, config: Path | None = None) -> subprocess.CompletedProcess:
    return vidgen(tmp_path, env, "models", "pull", *(("--config", str(config)) if config else ()))


def models_check(tmp_path: Path, env: dict, config: Path | None = None) -> dict[str, dict]:
    r = vidgen(tmp_path, env, "models", "check", "--format", "json", *(("--config", str(config)) if config else ()))
    assert r.returncode == 0, r.stderr
    return {row["step"]: row for row in json.loads(r.stdout)}


def snapshot(env: dict, repo: str) -> Path:
    return Path(env["HF_HOME"]) / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / PINS[repo]


def leftovers(env: dict) -> list[str]:
    """Partial downloads anywhere in the user's caches."""
    home = Path(env["HOME"])
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.name.endswith(".incomplete")
                  or (p.name.startswith(".") and p.is_file() and ".pth." in p.name))


def test_pull_fetches_exactly_the_pinned_files(tmp_path, hub):
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    cfg = hf_only_config(tmp_path)
    r = pull(tmp_path, env, cfg)
    assert r.returncode == 0, r.stdout + r.stderr

    for repo, expected in FETCHED.items():
        # Every request for the repo named the pinned commit: tree listings (pull's, for the sizes and
        # checksums, and snapshot_download's), then one download per file.
        api = {q.path for q in hub.requests if q.path.startswith(f"/api/models/{repo}/")}
        assert api == {f"/api/models/{repo}/tree/{PINS[repo]}"}
        resolved = hub.resolved(repo)
        assert {q.path.split(f"/resolve/{PINS[repo]}/", 1)[1] for q in resolved} == expected
        assert all(f"/resolve/{PINS[repo]}/" in q.path for q in resolved)
        folder = snapshot(env, repo)
        assert {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} == expected
        files = FILES[repo]
        assert all((folder / p).read_bytes() == files[p] for p in expected)  # the pinned bytes, not main's
        # The output says what came from where, how big, and where it landed.
        step = STEP_OF[repo]
        assert f"{step}: {repo}@{PINS[repo]} from {hub.endpoint}" in r.stdout
        total = sum(len(files[p]) for p in expected)
        assert f"{step}: {len(expected)} files verified" in r.stdout and str(folder) in r.stdout
        assert f"{total:,} bytes" in r.stdout
    # Large files came from the CDN, and the token never left the hub.
    cdn = [q for q in hub.requests if q.origin == "cdn"]
    assert cdn and all(q.authorization is None for q in cdn)
    assert leftovers(env) == []

    status = models_check(tmp_path, env, cfg)
    for repo in FETCHED:
        row = status[STEP_OF[repo]]
        assert row["present"] and row["model_id"] == repo and row["revision"] == PINS[repo], row
        assert str(snapshot(env, repo)) in row["where"]

    # A second pull finds everything and fetches nothing.
    before = len(hub.resolved())
    again = pull(tmp_path, env, cfg)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already present") == 3 and len(hub.resolved()) == before


def test_broken_connection_is_resumed_by_range(tmp_path, hub):
    """The connection drops once, past the first written chunk: huggingface_hub resumes with a Range
    request and the file lands whole."""
    shard = QWEN_FILES["model-00001-of-00005.safetensors"]
    hub.fault(shard, FileFault(drop_at=CHUNK + 4096, drops=1))
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    r = pull(tmp_path, env, hf_only_config(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    sha = hashlib.sha256(shard).hexdigest()
    gets = [q for q in hub.requests if q.method == "GET" and q.path == f"/lfs/{sha}"]
    assert [(q.range, q.cut) for q in gets] == [(None, True), (f"bytes={CHUNK}-", False)]
    assert gets[1].status == 206 and gets[1].sent == len(shard) - CHUNK
    assert (snapshot(env, DEFAULT_VLM) / "model-00001-of-00005.safetensors").read_bytes() == shard
    assert leftovers(env) == []


def test_broken_download_leaves_nothing_and_a_rerun_completes(tmp_path, hub):
    """Every transfer of one shard is cut: pull fails naming it, keeps no partial file anywhere in the
    cache, and the next pull (network fixed) fetches it whole."""
    name = "model-00003-of-00005.safetensors"
    shard = QWEN_FILES[name]
    hub.fault(shard, FileFault(drop_at=len(shard) // 2))
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    cfg = hf_only_config(tmp_path)
    r = pull(tmp_path, env, cfg)
    assert r.returncode == 1
    assert "captions: FAILED" in r.stdout and "connection" in r.stdout.lower()
    assert leftovers(env) == []
    sha = hashlib.sha256(shard).hexdigest()
    cache = Path(env["HF_HOME"]) / "hub" / f"models--{DEFAULT_VLM.replace('/', '--')}"
    assert not (cache / "blobs" / sha).exists() and not (snapshot(env, DEFAULT_VLM) / name).exists()
    assert not models_check(tmp_path, env, cfg)["captions"]["present"]
    # The other steps were not held back by the failure.
    assert f"judge: {len(LLAMA_FETCHED)} files verified" in r.stdout

    hub.faults.clear()
    again = pull(tmp_path, env, cfg)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (snapshot(env, DEFAULT_VLM) / name).read_bytes() == shard
    assert models_check(tmp_path, env, cfg)["captions"]["present"]


@pytest.mark.parametrize("name", ["model-00002-of-00005.safetensors", "tokenizer.json"])
def test_corrupted_file_is_refused_by_checksum(tmp_path, hub, name):
    """A file whose bytes do not match the hub's checksum (sha256 for LFS files, the git blob id for
    small ones) is named in the error and not left in the cache."""
    data = QWEN_FILES[name]
    hub.fault(data, FileFault(corrupt=True))
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    cfg = hf_only_config(tmp_path)
    r = pull(tmp_path, env, cfg)
    assert r.returncode == 1
    line = next(x for x in r.stdout.splitlines() if x.startswith("captions: FAILED"))
    algorithm = "sha256" if name.endswith(".safetensors") else "git blob sha1"
    assert name in line and algorithm in line and "does not match" in line, line
    folder = snapshot(env, DEFAULT_VLM)
    etag = hashlib.sha256(data).hexdigest() if name.endswith(".safetensors") else git_blob_sha1(data)
    assert not (folder / name).exists() and not (folder.parent.parent / "blobs" / etag).exists()
    assert not models_check(tmp_path, env, cfg)["captions"]["present"]

    hub.faults.clear()
    again = pull(tmp_path, env, cfg)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (folder / name).read_bytes() == data


def test_gated_model_without_a_token_says_what_to_do(tmp_path, hub):
    env = pull_env(tmp_path, hub)
    cfg = hf_only_config(tmp_path)
    r = pull(tmp_path, env, cfg)
    assert r.returncode == 1
    out = r.stdout
    lines = [x for x in out.splitlines() if x.startswith("judge: FAILED")]
    assert len(lines) == 1, out
    message = lines[0]
    assert f"{DEFAULT_JUDGE_LLM} is a gated model" in message
    assert f"{hub.endpoint}/{DEFAULT_JUDGE_LLM}" in message and "licence" in message and "HF_TOKEN" in message
    assert "Traceback" not in out + r.stderr
    # The server refused with 401 (no Authorization header); the ungated models were fetched.
    llama = hub.resolved(DEFAULT_JUDGE_LLM)
    assert llama and all(q.status == 401 and q.authorization is None for q in llama)
    assert f"captions: {len(QWEN_FETCHED)} files verified" in out and f"visual: {len(CLIP_FETCHED)} files verified" in out
    assert not snapshot(env, DEFAULT_JUDGE_LLM).exists() or not any(snapshot(env, DEFAULT_JUDGE_LLM).iterdir())

    # A token without access: a 403, and the message says the account must be granted access.
    denied = pull(tmp_path, pull_env(tmp_path, hub, HF_TOKEN="hf_someone_else"), cfg)
    assert denied.returncode == 1
    message = next(x for x in denied.stdout.splitlines() if x.startswith("judge: FAILED"))
    assert "has no access" in message and f"{hub.endpoint}/{DEFAULT_JUDGE_LLM}" in message

    # With the granted token: fetched, the token sent to the hub on every request for it.
    seen = len(hub.resolved(DEFAULT_JUDGE_LLM))
    ok = pull(tmp_path, pull_env(tmp_path, hub, HF_TOKEN=TOKEN), cfg)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    granted = hub.resolved(DEFAULT_JUDGE_LLM)[seen:]
    assert granted and all(q.authorization == f"Bearer {TOKEN}" and q.status in (200, 302) for q in granted)
    folder = snapshot(env, DEFAULT_JUDGE_LLM)
    assert {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} == LLAMA_FETCHED


def test_whole_default_pull_runs_against_local_servers(tmp_path, hub):
    """The default configuration's whole pull (RAFT weights, CLIP, LAION head, Qwen2.5-VL, Llama-3.1)
    goes to the local servers only. The mirror holds stand-ins for the two pinned-checksum files: pull
    fetches each from the mirror, refuses it by its pinned checksum (named in the error), and leaves
    neither the file nor a temporary copy."""
    from torchvision.models import optical_flow

    raft_url = optical_flow.Raft_Small_Weights.DEFAULT.url
    raft_name = raft_url.rsplit("/", 1)[-1]
    hub.add_static(f"mirror/{raft_name}", blob("raft", 5000))
    hub.add_static(f"mirror/{AESTHETIC_HEAD_FILE}", blob("laion", 3000))
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    r = pull(tmp_path, env)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    for step in ("visual", "captions", "judge"):
        assert f"{step}: FAILED" not in out
    motion = next(x for x in out.splitlines() if x.startswith("motion: FAILED"))
    assert raft_name in motion and "sha256" in motion and raft_name.rsplit("-", 1)[1].split(".")[0] in motion
    aesthetic = next(x for x in out.splitlines() if x.startswith("aesthetic: FAILED"))
    assert AESTHETIC_HEAD_FILE in aesthetic and "md5" in aesthetic and "b1047fd767a00134b8fd6529bf19521a" in aesthetic
    # Both were asked of the mirror; nothing is left where torch / the scorer would load it from.
    mirror = {q.path for q in hub.requests if q.origin == "cdn" and q.path.startswith("/mirror/")}
    assert mirror == {f"/mirror/{raft_name}", f"/mirror/{AESTHETIC_HEAD_FILE}"}
    torch_dir = Path(env["TORCH_HOME"]) / "hub" / "checkpoints"
    assert not (torch_dir / raft_name).exists() and not (Path(env["HOME"]) / ".cache" / "vidgen-dagster" / "models"
                                                          / "laion" / AESTHETIC_HEAD_FILE).exists()
    assert leftovers(env) == []


def test_weights_download_is_checked_before_it_lands(tmp_path):
    """`download` (RAFT weights, LAION head) over real HTTP: a transfer cut short is refused (http.client
    ends such a read quietly; the announced length catches it) and leaves nothing; a whole file passing
    its checks is renamed into place; a mismatch never lands."""
    from vidgen_dagster.core.common.errors import VidgenError
    from vidgen_dagster.models.registry import download

    data = blob("weights", 300_000)
    sha, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    dest = tmp_path / "cache" / "raft_small_C_T_V2-01064c6d.pth"
    with HubServer() as server:
        url = server.add_static("mirror/raft_small_C_T_V2-01064c6d.pth", data)
        server.fault(data, FileFault(drop_at=100_000, drops=1))
        with pytest.raises(OSError, match="closed after 100,000 of 300,000 bytes"):
            download(url, dest, sha256_prefix=sha[:8])
        assert list(dest.parent.iterdir()) == []
        download(url, dest, sha256_prefix=sha[:8], md5=md5)
        assert dest.read_bytes() == data
        with pytest.raises(VidgenError, match="does not start with the pinned 01064c6d"):
            download(url, tmp_path / "other" / dest.name, sha256_prefix="01064c6d")
        assert list((tmp_path / "other").iterdir()) == []
