"""A real OpenAI-compatible HTTP server for tests, generating with a tiny local causal LM.

:class:`TinyOpenAIServer` runs a :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` (a free
port) in a background thread and speaks the chat-completions API over real sockets, in the shapes of
vLLM's OpenAI server (``vllm/entrypoints/openai/chat_completion/protocol.py``):

* ``GET /v1/models`` -> ``{"object": "list", "data": [{"id": <model name>, ...}]}``
* ``POST /v1/chat/completions`` -> vLLM's ``ChatCompletionResponse``: ``choices[0].message`` with
  ``content`` and ``reasoning`` (``reasoning_content`` before vLLM 0.11: ``reasoning_field``),
  ``finish_reason`` (``"length"`` when ``max_tokens`` was hit, else ``"stop"``), ``stop_reason``,
  ``logprobs``, and ``usage`` (``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
  ``prompt_tokens_details``). Content parts of type ``image_url`` must be
  ``data:image/jpeg;base64,...`` URLs holding a decodable JPEG (else HTTP 400, like a real server);
  the tiny LM is text-only, so each message's text is prefixed with ``(N images attached: WxH #rrggbb, ...)``
  (size and mean colour of each image) and the model conditions on that. A prompt longer than the context is a 400, as on vLLM.
* errors as vLLM's ``ErrorResponse``: ``{"error": {"message", "type", "param", "code": <HTTP status>}}``.
* ``think_tokens=N`` serves it as a *reasoning model* behind vLLM's ``--reasoning-parser``: the first N
  generated tokens are the reasoning (``message.reasoning``), the rest the answer (``content``; null
  when generation stopped within the reasoning, as vLLM answers when the limit is hit while thinking).
* ``text_only=True`` serves it as vLLM serves a text model: a request with image parts is a 400
  ``"<model> is not a multimodal model"`` (vLLM's ``MultiModalRegistry.create_processor``).

Generation is real: ``AutoModelForCausalLM.generate`` (greedy at temperature 0, sampling otherwise)
on the model built by :func:`tests.tiny_lm.build_tiny_lm`, with its chat template.

Faults (:class:`Faults`) are injected on chat requests, counted in arrival order: the first N get an
HTTP error (500 / 429 with ``Retry-After`` / 400 ...), are delayed, or get a malformed body;
``judge_json`` emulates JSON-constrained decoding (the LM's tokens wrapped into the judge schema) and
``bad_judge_first`` skips that for the first N generations. ``script`` replaces generation by a
callable (deterministic content for parser tests) returning the content, or ``(content,
finish_reason)``. Every request is logged in :attr:`requests`.

    with TinyOpenAIServer(model_dir, faults=Faults(fail_first=2)) as srv:
        client = OpenAIClient(srv.base_url, srv.model_name)
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

JUDGE_LABELS = ("scene_transition", "frame_level", "reduplication")


@dataclass
class Faults:
    """Faults for chat requests; "first N" counts chat requests in arrival order (0-based index < N)."""

    fail_first: int = 0  # answer the first N with HTTP `fail_status`
    fail_status: int = 500
    retry_after: float | None = None  # Retry-After header (seconds) sent with those failures
    delay_s: float = 0.0  # sleep before answering ...
    delay_first: int | None = None  # ... the first N requests (None: every request)
    malformed_first: int = 0  # answer the first N with 200 and a body that is not JSON
    missing_content_first: int = 0  # answer the first N with 200 JSON lacking choices
    judge_json: bool = False  # wrap generated text into a valid judge JSON object
    bad_judge_first: int = 0  # ... except for the first N generations (raw LM text instead)


@dataclass
class RequestRecord:
    index: int  # chat request number (GET requests: -1)
    method: str
    path: str
    status: int = 0
    fault: str = ""
    n_images: int = 0
    max_tokens: int | None = None
    temperature: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str | None = None  # what a reasoning model's reply carried as reasoning
    content: str | None = None  # ... and as the answer
    authorization: str | None = None
    at: float = field(default_factory=time.monotonic)  # arrival
    done: float | None = None  # reply ready to send (monotonic)


class _Abort(Exception):
    """The server is stopping: drop the connection without a reply."""


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "BadRequestError"):
        super().__init__(message)
        self.status = status
        self.kind = kind


_MODELS: dict[str, tuple[Any, Any]] = {}
_MODELS_LOCK = threading.Lock()


def load_tiny_lm(model_dir: str | Path) -> tuple[Any, Any]:
    """(tokenizer, model) from ``model_dir``, loaded once per process and warmed up (the first
    ``generate`` is several times slower than the next ones, which would make timeout tests flaky).
    Servers share the instance; concurrent ``generate`` calls on it are safe (inference only)."""
    key = str(Path(model_dir).resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(key, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(key, local_files_only=True).eval()
            enc = tokenizer.apply_chat_template([{"role": "user", "content": "warm up"}], add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)
            with torch.inference_mode():
                model.generate(**enc, max_new_tokens=4, do_sample=False)
            _MODELS[key] = (tokenizer, model)
        return _MODELS[key]


def decode_image_url(url: str) -> str:
    """Validate a ``data:image/jpeg;base64,...`` URL; returns ``"WxH #rrggbb"`` (size, mean colour),
    the text the tiny LM conditions on in place of the image."""
    prefix = "data:image/jpeg;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise _HTTPError(400, f"image_url must be a {prefix}... data URL, got {str(url)[:40]!r}")
    try:
        raw = base64.b64decode(url[len(prefix):], validate=True)
    except ValueError as exc:
        raise _HTTPError(400, f"image_url is not valid base64: {exc}") from exc
    if raw[:3] != b"\xff\xd8\xff":
        raise _HTTPError(400, "image_url does not hold a JPEG (no SOI marker)")
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise _HTTPError(400, "image_url holds a JPEG that cannot be decoded")
    b, g, r = (int(v) for v in image.reshape(-1, 3).mean(axis=0))
    return f"{image.shape[1]}x{image.shape[0]} #{r:02x}{g:02x}{b:02x}"


class TinyOpenAIServer:
    """An OpenAI-compatible server on a free local port; a context manager (start/stop).

    ``model_dir``: a folder from :func:`build_tiny_lm` (may be None with ``script``). ``script``:
    ``fn(body: dict, index: int) -> str`` producing the content instead of the model. ``api_key``:
    when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
    """

    def __init__(self, model_dir: str | Path | None = None, *, faults: Faults | None = None,
                 script: Callable[[dict, int], str | tuple[str, str]] | None = None, model_name: str = "tiny-lm",
                 api_key: str | None = None, think_tokens: int = 0, reasoning_field: str = "reasoning",
                 text_only: bool = False):
        if model_dir is None and script is None:
            raise ValueError("TinyOpenAIServer needs a model_dir or a script")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.faults = faults or Faults()
        self.script = script
        self.model_name = model_name
        self.api_key = api_key
        self.think_tokens = int(think_tokens)
        self.reasoning_field = reasoning_field
        self.text_only = text_only
        # What `vllm serve` was given (vLLM names it in errors); the served name is `model_name`.
        self.model_path = str(model_dir) if model_dir is not None else model_name
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._chat_count = 0
        self._generated = 0
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self.connections_opened = 0  # TCP connections accepted (proves keep-alive reuse)
        self.max_in_flight = 0  # most chat requests handled at once (proves client-side concurrency)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tokenizer = None
        self.model = None
        if self.model_dir is not None:
            self.tokenizer, self.model = load_tiny_lm(self.model_dir)
            self.context = int(self.model.config.max_position_embeddings)

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def chat_requests(self) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if r.index >= 0]

    def start(self) -> TinyOpenAIServer:
        server = self
        self._stopping.clear()

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tiny-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop accepting, cut injected delays short, and wait (up to ``drain_s``) for the requests in
        flight: a handler thread still inside ``generate`` at interpreter exit aborts the process."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:  # drop keep-alive connections too, as a dying server would
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=drain_s)

    def __enter__(self) -> TinyOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (called from handler threads) -----------------------------------------------

    def _next_index(self) -> int:
        with self._lock:
            index = self._chat_count
            self._chat_count += 1
            return index

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def models_body(self) -> dict:
        return {"object": "list",
                "data": [{"id": self.model_name, "object": "model", "created": 0, "owned_by": "tests"}]}

    def _flatten(self, messages: Any, record: RequestRecord) -> list[dict]:
        """OpenAI messages (content str or parts) -> text-only messages; validates every image."""
        if not isinstance(messages, list) or not messages:
            raise _HTTPError(400, "'messages' must be a non-empty list")
        out = []
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
                raise _HTTPError(400, f"invalid message: {str(message)[:80]}")
            content = message.get("content")
            if isinstance(content, str):
                out.append({"role": message["role"], "content": content})
                continue
            if not isinstance(content, list):
                raise _HTTPError(400, "message content must be a string or a list of parts")
            texts, sizes = [], []
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    texts.append(str(part.get("text", "")))
                elif kind == "image_url":
                    if self.text_only:
                        raise _HTTPError(400, f"{self.model_path} is not a multimodal model")
                    url = (part.get("image_url") or {}).get("url")
                    sizes.append(decode_image_url(url))
                else:
                    raise _HTTPError(400, f"unsupported content part type {kind!r}")
            record.n_images += len(sizes)
            prefix = f"({len(sizes)} images attached: {', '.join(sizes)}) " if sizes else ""
            out.append({"role": message["role"], "content": prefix + "\n".join(texts)})
        return out

    def _generate(self, messages: list[dict], max_tokens: int,
                  temperature: float) -> tuple[str | None, str | None, str, int, int]:
        """-> (reasoning, content, finish_reason, prompt tokens, completion tokens)."""
        import torch

        assert self.tokenizer is not None and self.model is not None
        enc = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)
        n_prompt = int(enc["input_ids"].shape[1])
        if n_prompt + max_tokens > self.context:
            raise _HTTPError(400, f"This model's maximum context length is {self.context} tokens. However, you "
                                  f"requested {n_prompt + max_tokens} tokens ({n_prompt} in the messages, "
                                  f"{max_tokens} in the completion).")
        kwargs: dict[str, Any] = {"max_new_tokens": max_tokens}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new = out[0, n_prompt:].tolist()
        eos = self.tokenizer.eos_token_id
        if eos in new:
            new = new[: new.index(eos) + 1]
            finish = "stop"
        else:
            finish = "length" if len(new) >= max_tokens else "stop"
        if not self.think_tokens:
            return None, self.tokenizer.decode(new, skip_special_tokens=True), finish, n_prompt, len(new)
        # A reasoning parser's split: reasoning first; no answer when generation ended inside it.
        reasoning = self.tokenizer.decode(new[: self.think_tokens], skip_special_tokens=True)
        answer = new[self.think_tokens:]
        content = self.tokenizer.decode(answer, skip_special_tokens=True) if answer else None
        return reasoning, content, finish, n_prompt, len(new)

    def handle_chat(self, body: Any, record: RequestRecord) -> tuple[int, dict[str, str], bytes]:
        """-> (status, headers, body bytes) for one chat request, faults included."""
        f = self.faults
        index = record.index
        if f.delay_s and (f.delay_first is None or index < f.delay_first):
            record.fault = "delay"
            if self._stopping.wait(f.delay_s):
                raise _Abort
        if index < f.fail_first:
            record.fault = f"status {f.fail_status}"
            headers = {} if f.retry_after is None else {"Retry-After": f"{f.retry_after:g}"}
            return f.fail_status, headers, _error_body(f"injected failure #{index + 1}", "InternalServerError",
                                                       f.fail_status)
        if index < f.malformed_first:
            record.fault = "malformed"
            return 200, {}, b'{"id": "chatcmpl-broken", "choices": [{"message": {"content": "trunc'
        if index < f.missing_content_first:
            record.fault = "missing content"
            return 200, {}, json.dumps({"id": "chatcmpl-x", "object": "chat.completion", "choices": []}).encode()
        if not isinstance(body, dict):
            raise _HTTPError(400, "request body must be a JSON object")
        if body.get("model") != self.model_name:
            raise _HTTPError(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 16
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise _HTTPError(400, f"max_tokens must be a positive integer, got {max_tokens!r}")
        temperature = float(body.get("temperature") or 0.0)
        record.max_tokens, record.temperature = max_tokens, temperature
        messages = self._flatten(body.get("messages"), record)
        reasoning: str | None = None
        if self.script is not None:
            out = self.script(body, index)
            text, finish = out if isinstance(out, tuple) else (out, "stop")
            n_prompt = sum(len(m["content"].split()) for m in messages)
            n_completion = len(text.split())
        else:
            reasoning, text, finish, n_prompt, n_completion = self._generate(messages, max_tokens, temperature)
            with self._lock:
                generated = self._generated
                self._generated += 1
            if f.judge_json and generated >= f.bad_judge_first:
                # JSON-constrained decoding ends when the object closes: a complete verdict, "stop".
                text, finish = _judge_json(text or "", n_completion), "stop"
            elif f.judge_json:
                record.fault = "bad judge json"
        record.prompt_tokens, record.completion_tokens = n_prompt, n_completion
        record.reasoning, record.content = reasoning, text
        return 200, {}, json.dumps(self.completion_body(index, reasoning, text, finish, n_prompt,
                                                        n_completion)).encode()

    def completion_body(self, index: int, reasoning: str | None, content: str | None, finish: str,
                        n_prompt: int, n_completion: int) -> dict:
        """vLLM's ``ChatCompletionResponse`` (non-streaming), field for field."""
        message = {"role": "assistant", "content": content, "refusal": None, "annotations": None, "audio": None,
                   "function_call": None, self.reasoning_field: reasoning}  # empty tool_calls are dropped
        return {
            "id": f"chatcmpl-{index:032x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish,
                         "stop_reason": None, "token_ids": None}],
            "service_tier": None,
            "system_fingerprint": None,
            "usage": {"prompt_tokens": n_prompt, "total_tokens": n_prompt + n_completion,
                      "completion_tokens": n_completion, "prompt_tokens_details": None},
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "kv_transfer_params": None,
        }


def _judge_json(text: str, n_tokens: int) -> str:
    """Emulated JSON-constrained decoding: labels derived from the generated text, which becomes the
    rationale (so the reply is the real model's, but always schema-valid)."""
    digest = sum(map(ord, text)) + n_tokens
    labels = {k: bool((digest >> i) & 1) for i, k in enumerate(JUDGE_LABELS)}
    return json.dumps({**labels, "rationale": text})


def _error_body(message: str, kind: str = "BadRequestError", code: int | None = None) -> bytes:
    """vLLM's ``ErrorResponse``: ``code`` is the HTTP status."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers; every reply has a Content-Length
    # TCP_NODELAY, as uvicorn & co: headers and body go out in two writes, and with Nagle on the body
    # waits for the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    owner: TinyOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        return

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner._connections.add(self.connection)
            self.owner.connections_opened += 1

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
            self.close_connection = True

    def _authorized(self, record: RequestRecord) -> bool:
        record.authorization = self.headers.get("Authorization")
        key = self.owner.api_key
        if key and record.authorization != f"Bearer {key}":
            record.status = 401
            self._send(401, _error_body("Incorrect API key provided.", "invalid_api_key"))
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        record = RequestRecord(index=-1, method="GET", path=self.path)
        self.owner._log(record)
        if not self._authorized(record):
            return
        if self.path.rstrip("/") == "/v1/models":
            record.status = 200
            self._send(200, json.dumps(self.owner.models_body()).encode())
        else:
            record.status = 404
            self._send(404, _error_body(f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            record = RequestRecord(index=-1, method="POST", path=self.path, status=404)
            self.owner._log(record)
            self._send(404, _error_body(f"no route {self.path}", "not_found"))
            return
        record = RequestRecord(index=self.owner._next_index(), method="POST", path=self.path)
        self.owner._log(record)
        if not self._authorized(record):
            return
        self.owner._enter()
        try:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise _HTTPError(400, f"request body is not JSON: {exc}") from exc
            status, headers, payload = self.owner.handle_chat(body, record)
        except _Abort:
            self.close_connection = True
            return
        except _HTTPError as exc:
            status, headers, payload = exc.status, {}, _error_body(str(exc), exc.kind, exc.status)
        except Exception as exc:  # a bug in generation: a 500, as a real server would answer
            status, headers, payload = 500, {}, _error_body(f"{type(exc).__name__}: {exc}", "InternalServerError",
                                                            500)
        finally:
            self.owner._leave()
        record.status = status
        record.done = time.monotonic()
        self._send(status, payload, headers)
