"""A small, robust client for OpenAI-compatible chat-completions servers (vLLM, SGLang, TGI, OpenAI).

:class:`OpenAIClient` speaks ``POST {base}/chat/completions`` and ``GET {base}/models`` over
``requests``. ``base_url`` is the API root, normally ending in ``/v1``
(``http://127.0.0.1:8000/v1``); a bare ``http://host:port`` gets ``/v1`` appended.

Retry semantics (:meth:`OpenAIClient.chat`); one call makes at most ``1 + max_retries`` attempts:

* **retried**: HTTP 429, HTTP 5xx, 408 (request timeout), connect/read timeouts, connection errors
  (refused, reset, broken mid-body), and *malformed* 200 responses (a body that is not JSON, or JSON
  without a string ``choices[0].message.content``). Malformed 200s are treated like a 5xx because in
  practice they come from transient failures (a truncated body, a gateway's HTML page, a server
  restarting); a server that is deterministically broken costs at most ``max_retries`` extra requests.
* **not retried**: every other 4xx (bad request, auth, unknown model, context too long). The
  :class:`ScoringError` names the status and the server's own error message; a 400 saying the model
  takes no images (vLLM: ``"<model> is not a multimodal model"``) is an :class:`ImagesRefusedError`.
* **reasoning models** (vLLM ``--reasoning-parser``): the answer is ``message.content``; the reasoning
  (``message.reasoning``, ``reasoning_content`` before vLLM 0.11) is ignored. A reply with reasoning
  and no content (the token limit hit while thinking) is a :class:`ReasoningOnlyError`, not retried.
* ``usage`` gives the token counts and ``finish_reason`` is passed on (``"length"``: cut by
  ``max_tokens``); callers decide what a cut answer is worth.
* **waits**: exponential backoff ``backoff_s * 2**retry`` capped at ``max_backoff_s``, with jitter
  (a uniform factor in [0.5, 1]); a ``Retry-After`` header (seconds or an HTTP date) on a 429/5xx
  replaces the computed wait, capped at ``max_backoff_s`` too.
* after the last attempt: ``ScoringError("chat completion failed after N attempts: <last error>")``,
  or :class:`ServerUnreachableError` (a :class:`ScoringError`) when the last failure was that the
  server could not be reached at all, so callers can tell "down" from "failed on this input".

Thread safety: a client is shared freely between threads. ``requests`` does not promise that one
``Session`` is thread-safe, so the client keeps a small pool of sessions and each request checks one
out for its duration: no session is used by two threads at once, keep-alive connections are reused
across threads and calls, and the pool never grows past the peak number of concurrent requests.

:class:`OpenAIChatModel` wraps a client as a text :class:`~vidgen_dagster.core.llm.ChatModel` (the
LLM judge's ``openai`` backend).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ..common.errors import ConfigError, ModelUnavailableError, ScoringError
from .chat import Completion

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_API_KEY_ENVS = ("OPENAI_API_KEY", "VIDGEN_OPENAI_API_KEY")
_SNIPPET = 300  # characters of a server's body quoted in an error


class ServerUnreachableError(ScoringError):
    """The server could not be reached (connection refused / reset / DNS) on the last attempt."""

    code = "server_unreachable"


class ImagesRefusedError(ScoringError):
    """The server refused image parts: the model it serves is text-only (a configuration error)."""

    code = "images_refused"


class ReasoningOnlyError(ScoringError):
    """A reasoning model answered with reasoning only (``content`` null)."""

    code = "no_answer"


# How servers say the model takes no images: vLLM (MultiModalRegistry: "<model> is not a multimodal
# model"), OpenAI ("image_url is only supported by certain models"), SGLang/TGI variants.
_IMAGES_REFUSED = ("is not a multimodal model", "not multimodal", "only supported by certain models",
                   "does not support image", "images are not supported")


class _Retryable(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


@dataclass
class ItemResult:
    """One item of :meth:`OpenAIClient.map_concurrent`: ``value`` or the ``error`` it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def normalize_base_url(base_url: str) -> str:
    """``http://h:p`` -> ``http://h:p/v1``; strips a trailing ``/`` and a trailing ``/chat/completions``."""
    url = (base_url or "").strip().rstrip("/")
    if not url:
        raise ConfigError("openai base_url is empty (e.g. http://127.0.0.1:8000/v1)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"openai base_url {base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    if url.endswith("/chat/completions"):
        url = url[: -len("/chat/completions")]
    if not parts.path.strip("/"):
        url += "/v1"
    return url


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def server_error_message(response: requests.Response) -> str:
    """The server's own error text: OpenAI ``{"error": {"message"}}``, vLLM ``{"message"}``,
    FastAPI ``{"detail"}``, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])
    text = (response.text or "").strip().replace("\n", " ")
    return text[:_SNIPPET] or response.reason or "(empty body)"


def _api_key(api_key: str | None, envs: Iterable[str]) -> str | None:
    if api_key:
        return api_key
    for name in envs:
        if name and os.environ.get(name):
            return os.environ[name]
    return None


class OpenAIClient:
    """Chat completions against one model on one OpenAI-compatible server.

    ``api_key``: None reads ``$OPENAI_API_KEY`` then ``$VIDGEN_OPENAI_API_KEY`` (local servers
    usually need none; no ``Authorization`` header is sent then). ``timeout_s`` bounds the connect
    and each read of the response. ``concurrency`` sizes :meth:`map_concurrent`'s thread pool.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        concurrency: int = 4,
    ):
        if not model:
            raise ConfigError("openai model name is empty (the name the server serves, see GET /v1/models)")
        if timeout_s <= 0:
            raise ConfigError(f"openai timeout_s must be > 0, got {timeout_s}")
        if max_retries < 0:
            raise ConfigError(f"openai max_retries must be >= 0, got {max_retries}")
        if concurrency < 1:
            raise ConfigError(f"openai concurrency must be >= 1, got {concurrency}")
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.api_key = _api_key(api_key, DEFAULT_API_KEY_ENVS)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = max(0.0, float(backoff_s))
        self.max_backoff_s = max(0.0, float(max_backoff_s))
        self.concurrency = int(concurrency)
        self._idle: list[requests.Session] = []  # sessions not in use by any thread
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep  # replaceable in tests

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return f"{self.model}@{self.base_url}"

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1)  # one thread at a time uses a session
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Content-Type"] = "application/json"
        if self.api_key:
            session.headers["Authorization"] = f"Bearer {self.api_key}"
        return session

    @contextlib.contextmanager
    def _session(self) -> Iterator[requests.Session]:
        """Check a session out of the client's pool for one request (a new one if all are busy), so
        no session is ever used by two threads at once and their keep-alive connections are reused
        whichever thread asks next. The pool grows to the peak number of concurrent requests."""
        with self._lock:
            session = self._idle.pop() if self._idle else None
        if session is None:
            session = self._new_session()
        try:
            yield session
        finally:
            with self._lock:
                self._idle.append(session)

    def close(self) -> None:
        """Close the idle sessions (the client stays usable: sessions reopen on demand)."""
        with self._lock:
            sessions, self._idle = self._idle, []
        for session in sessions:
            session.close()

    def __enter__(self) -> OpenAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        base = min(self.max_backoff_s, self.backoff_s * (2**retry))
        return base * random.uniform(0.5, 1.0)

    # -- API ------------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Tell whether the server is up and serves :attr:`model`; returns the served model ids.

        Raises :class:`ModelUnavailableError` when it cannot be reached, refuses the credentials,
        answers 5xx, or lists models without this one. A server with no models endpoint (404) is
        taken as reachable (returns ``[]``): some gateways do not implement it.
        """
        url = f"{self.base_url}/models"
        try:
            with self._session() as session:
                response = session.get(url, timeout=min(self.timeout_s, 10.0))
        except requests.RequestException as exc:
            raise ModelUnavailableError(
                f"OpenAI-compatible server at {self.base_url} is unreachable ({type(exc).__name__}: {exc}); "
                f"start it (e.g. `vllm serve {self.model}`) or fix openai_base_url"
            ) from exc
        if response.status_code == 404:
            return []
        if response.status_code in (401, 403):
            raise ModelUnavailableError(
                f"OpenAI-compatible server at {self.base_url} refused the credentials "
                f"(HTTP {response.status_code}: {server_error_message(response)}); set the API key env var"
            )
        if response.status_code != 200:
            raise ModelUnavailableError(
                f"OpenAI-compatible server at {self.base_url} answered GET /models with HTTP "
                f"{response.status_code}: {server_error_message(response)}"
            )
        try:
            data = response.json().get("data") or []
            served = [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
        except (ValueError, AttributeError, TypeError) as exc:
            raise ModelUnavailableError(
                f"OpenAI-compatible server at {self.base_url} answered GET /models with an unreadable body: "
                f"{response.text[:_SNIPPET]!r}"
            ) from exc
        if served and self.model not in served:
            raise ModelUnavailableError(
                f"OpenAI-compatible server at {self.base_url} does not serve model {self.model!r} "
                f"(it serves: {', '.join(served)}); set openai_model"
            )
        return served

    def chat(
        self,
        messages: list[dict],
        max_tokens: int,
        temperature: float = 0.0,
        extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion, retried per the module doc. ``extra`` adds body fields (``top_p``,
        ``seed``, ``response_format``, ...). Raises :class:`ScoringError` (or its subclass
        :class:`ServerUnreachableError`) on failure."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
        }
        if extra:
            body.update(extra)
        payload = json.dumps(body).encode("utf-8")
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        last: _Retryable | None = None
        for attempt in range(attempts):
            if attempt:
                assert last is not None
                self._sleep(self._backoff(attempt - 1, last.retry_after))
            try:
                return self._attempt(url, payload)
            except _Retryable as exc:
                last = exc
        assert last is not None
        cls = ServerUnreachableError if last.unreachable else ScoringError
        raise cls(f"chat completion at {url} failed after {attempts} attempts: {last}")

    def _attempt(self, url: str, payload: bytes) -> Completion:
        try:
            with self._session() as session:
                response = session.post(url, data=payload, timeout=self.timeout_s)
        except requests.Timeout as exc:
            # ConnectTimeout is also a ConnectionError: a timeout either way, but unreachable if connecting.
            raise _Retryable(f"timed out after {self.timeout_s:g}s ({type(exc).__name__})",
                             unreachable=isinstance(exc, requests.ConnectTimeout)) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            unreachable = isinstance(exc, requests.ConnectionError) and not _is_reset(exc)
            raise _Retryable(f"connection error ({type(exc).__name__}: {_short(exc)})",
                             unreachable=unreachable) from exc
        except requests.RequestException as exc:  # invalid URL, redirect loop, ...: retrying cannot help
            raise ScoringError(f"chat completion at {url} failed (not retried): "
                               f"{type(exc).__name__}: {_short(exc)}") from exc
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            raise _Retryable(f"HTTP {status}: {server_error_message(response)}",
                             retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            message = server_error_message(response)
            if status == 400 and any(s in message.lower() for s in _IMAGES_REFUSED):
                raise ImagesRefusedError(f"the model served at {self.base_url} does not accept images (HTTP 400: "
                                         f"{message})")
            raise ScoringError(f"chat completion at {url} rejected with HTTP {status} (not retried): {message}")
        if status != 200:
            raise _Retryable(f"unexpected HTTP {status}: {server_error_message(response)}")
        return _parse_completion(response)

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T]) -> list[ItemResult]:
        """``fn`` over ``items`` on at most :attr:`concurrency` threads; one :class:`ItemResult` per
        item, in input order, holding its value or the exception it raised (never raised here)."""
        items = list(items)

        def run(item: T) -> ItemResult:
            try:
                return ItemResult(value=fn(item))
            except Exception as exc:  # captured per item, by contract
                return ItemResult(error=exc)

        if self.concurrency == 1 or len(items) <= 1:
            return [run(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)),
                                thread_name_prefix="openai") as pool:
            return list(pool.map(run, items))


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


def _is_reset(exc: BaseException) -> bool:
    """A connection that was established and then dropped (the server is up): not "unreachable"."""
    text = str(exc)
    return any(s in text for s in ("RemoteDisconnected", "Connection reset", "ConnectionResetError",
                                   "BrokenPipe", "IncompleteRead", "Connection aborted"))


def _parse_completion(response: requests.Response) -> Completion:
    """A 200 body -> :class:`Completion`; anything unusable is a (retryable) malformed response."""
    try:
        body = response.json()
    except ValueError as exc:
        raise _Retryable(f"malformed response (not JSON): {response.text[:_SNIPPET]!r}") from exc
    try:
        choice = body["choices"][0]
        message = choice["message"]
        content = message["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise _Retryable(f"malformed response (no choices[0].message.content): {response.text[:_SNIPPET]!r}") from exc
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    if content is None and isinstance(reasoning, str) and reasoning:
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        raise ReasoningOnlyError(
            f"the model answered with reasoning only and no content ({len(reasoning)} characters of reasoning, "
            f"{usage.get('completion_tokens', '?')} completion tokens, finish_reason "
            f"{choice.get('finish_reason')!r}): raise max_tokens, turn the model's thinking off (vLLM: "
            "chat_template_kwargs enable_thinking false) or serve a model that is not a reasoning model")
    if not isinstance(content, str):
        raise _Retryable(f"malformed response (choices[0].message.content is {type(content).__name__}, "
                         f"finish_reason {choice.get('finish_reason')!r}): {response.text[:_SNIPPET]!r}")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return Completion(
        text=content,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _opt(section: Mapping[str, Any], key: str, default: Any) -> Any:
    value = section.get(key)
    return default if value is None or value == "" else value


def client_from_config(section: Mapping[str, Any], *, default_concurrency: int = 4) -> OpenAIClient:
    """An :class:`OpenAIClient` from a config section's ``openai_*`` keys (``captions`` or ``judge``):
    ``openai_base_url``, ``openai_model`` (empty: ``model``), ``openai_api_key_env``, ``timeout_s``,
    ``max_retries``, ``concurrency``, and optional ``backoff_s`` / ``max_backoff_s``."""
    model = section.get("openai_model") or section.get("model") or ""
    env = section.get("openai_api_key_env") or "OPENAI_API_KEY"
    api_key = _api_key(None, (env, *DEFAULT_API_KEY_ENVS))
    return OpenAIClient(
        base_url=section.get("openai_base_url") or "",
        model=str(model),
        api_key=api_key,
        timeout_s=float(_opt(section, "timeout_s", 60.0)),
        max_retries=int(_opt(section, "max_retries", 4)),
        backoff_s=float(_opt(section, "backoff_s", 1.0)),
        max_backoff_s=float(_opt(section, "max_backoff_s", 30.0)),
        concurrency=int(_opt(section, "concurrency", default_concurrency)),
    )


class OpenAIChatModel:
    """A text :class:`~vidgen_dagster.core.llm.ChatModel` on an OpenAI-compatible endpoint.

    ``OpenAIChatModel(base_url, model, api_key=..., timeout_s=..., ...)`` takes
    :class:`OpenAIClient`'s arguments; :meth:`from_config` reads the ``judge`` section's keys.
    """

    backend = "openai"
    supports_temperature = True

    def __init__(self, base_url: str | None = None, model: str | None = None, *,
                 client: OpenAIClient | None = None, **client_kwargs: Any):
        if client is None:
            client = OpenAIClient(base_url or "", model or "", **client_kwargs)
        self.client = client
        self.model_id = client.model_id

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> OpenAIChatModel:
        return cls(client=client_from_config(section))

    @property
    def concurrency(self) -> int:
        return self.client.concurrency

    def check(self) -> list[str]:
        return self.client.check()

    def complete(self, messages: list[dict], max_tokens: int = 256, temperature: float = 0.0) -> Completion:
        return self.client.chat(messages, max_tokens=max_tokens, temperature=temperature)

    def close(self) -> None:
        self.client.close()
