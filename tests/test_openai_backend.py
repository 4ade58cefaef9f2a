"""The ``openai`` captioner, client and LLM judge against a real local HTTP server and a real tiny LM.

Every request goes over a socket to :class:`tests.openai_server.TinyOpenAIServer`, which generates
with the random-weight model from :func:`tests.tiny_lm.build_tiny_lm`; faults are injected there.
Timeouts and backoffs are tiny so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai_server import Faults, TinyOpenAIServer  # noqa: E402
from tiny_lm import build_tiny_lm  # noqa: E402

from vidgen_dagster.core.backends.openai_client import (
    OpenAIChatModel,
    OpenAIClient,
    normalize_base_url,
    parse_retry_after,
)
from vidgen_dagster.core.captioning.base import CaptionRequest, Prompt, load_prompt
from vidgen_dagster.core.captioning.openai_backend import OpenAICaptioner, encode_jpeg_data_url
from vidgen_dagster.core.common.errors import ConfigError, ModelUnavailableError, ScoringError
from vidgen_dagster.core.fine_curation import LABELS
from vidgen_dagster.core.fine_curation.judge import (
    JUDGE_PROMPT_FILE,
    LLMJudge,
    parse_judgement,
    render_judge_prompt,
)
from vidgen_dagster.core.fine_curation.rules import check_caption

MODEL = "tiny-lm"
FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}  # client kwargs: near-instant retries


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture
def server(tiny_lm):
    """A fault-free server, started and stopped around the test."""
    with TinyOpenAIServer(tiny_lm) as srv:
        yield srv


def client(srv: TinyOpenAIServer, **kwargs) -> OpenAIClient:
    return OpenAIClient(srv.base_url, MODEL, **{**FAST, **kwargs})


def captioner(srv: TinyOpenAIServer, **cfg) -> OpenAICaptioner:
    section = {"openai_base_url": srv.base_url, "openai_model": MODEL, "max_tokens": 24, "concurrency": 3,
               "timeout_s": 10, "max_retries": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, **cfg}
    return OpenAICaptioner(section)


def clip(i: int, n_frames: int = 3, size=(48, 64)) -> CaptionRequest:
    rng = np.random.default_rng(i)
    frames = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n_frames)]
    return CaptionRequest(f"clip{i}", frames, "Describe the video in one paragraph.", system="You are a captioner.")


def judge_prompt() -> Prompt:
    return load_prompt(JUDGE_PROMPT_FILE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- captioning ---------------------------------------------------------------------------------------


def test_captions_several_clips_concurrently(server):
    cap = captioner(server)
    requests = [clip(i, n_frames=2 + i % 3) for i in range(6)]
    results = cap.caption(requests)

    assert [r.clip_id for r in results] == [r.clip_id for r in requests]
    assert cap.backend == "openai" and cap.model_id == f"{MODEL}@{server.base_url}"
    for req, res in zip(requests, results, strict=True):
        assert res.status == "ok", res.error
        assert res.caption and res.model_id == cap.model_id
        assert res.prompt_tokens > 0 and 0 < res.completion_tokens <= 24
        assert res.finish_reason in ("stop", "length") and res.truncated == (res.finish_reason == "length")
        assert res.extra["n_images"] == len(req.frames)
    chats = server.chat_requests
    assert len(chats) == 6 and all(r.status == 200 for r in chats)
    assert sorted(r.n_images for r in chats) == sorted(len(r.frames) for r in requests)
    assert 2 <= server.max_in_flight <= 3  # bounded concurrency, actually concurrent
    # The model conditions on the images (size and colour), so different clips get different captions.
    assert len({r.caption for r in results}) > 1
    # Same clip, same greedy decoding: same caption (deterministic end to end).
    again = cap.caption([requests[0]])[0]
    assert again.caption == results[0].caption
    # Keep-alive connections are reused across batches and threads: at most one per concurrent request.
    cap.caption(requests)
    assert server.connections_opened <= 3


def test_small_max_tokens_is_flagged_truncated(server):
    res = captioner(server, max_tokens=2).caption([clip(0)])[0]
    assert res.status == "ok"
    assert res.finish_reason == "length" and res.truncated and res.completion_tokens == 2


def test_image_parts_are_jpeg_data_urls(server):
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :, 2] = 255  # pure red in BGR
    url = encode_jpeg_data_url(frame, quality=80, max_side=160)
    assert url.startswith("data:image/jpeg;base64,")
    res = captioner(server, jpeg_max_side=160, jpeg_quality=80).caption(
        [CaptionRequest("red", [frame] * 2, "Describe.")])[0]
    assert res.status == "ok", res.error
    # The server decoded both JPEGs (160x90 after downscaling) and saw them as red.
    assert server.chat_requests[0].n_images == 2


def test_one_bad_clip_fails_alone(server):
    bad_dtype = CaptionRequest("float", [np.zeros((8, 8, 3), np.float32)], "Describe.")
    no_frames = CaptionRequest("empty", [], "Describe.")
    results = captioner(server).caption([clip(1), bad_dtype, no_frames, clip(2)])
    assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
    assert "uint8" in results[1].error and "no frames" in results[2].error
    assert len(server.chat_requests) == 2  # bad clips never reached the server


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_recovered_by_retries(tiny_lm, status):
    with TinyOpenAIServer(tiny_lm, faults=Faults(fail_first=2, fail_status=status)) as srv:
        res = captioner(srv, concurrency=1).caption([clip(3)])[0]
        assert res.status == "ok", res.error
        assert [r.status for r in srv.chat_requests] == [status, status, 200]


def test_429_honours_retry_after(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(fail_first=1, fail_status=429, retry_after=0.3)) as srv:
        c = client(srv, backoff_s=0.001, max_backoff_s=5)
        start = time.perf_counter()
        completion = c.chat([{"role": "user", "content": "hello"}], max_tokens=4)
        elapsed = time.perf_counter() - start
        assert completion.completion_tokens and completion.prompt_tokens
        assert [r.status for r in srv.chat_requests] == [429, 200]
        assert elapsed >= 0.3  # waited Retry-After, not the 1 ms backoff
        gap = srv.chat_requests[1].at - srv.chat_requests[0].at
        assert gap >= 0.29


def test_retries_exhausted_on_5xx(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(fail_first=100, fail_status=502)) as srv:
        with pytest.raises(ScoringError, match=r"after 3 attempts: HTTP 502: injected failure #3"):
            client(srv, max_retries=2).chat([{"role": "user", "content": "hi"}], max_tokens=4)
        assert len(srv.chat_requests) == 3


def test_slow_response_times_out_then_fails_clearly(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(delay_s=2.0)) as srv:
        cap = captioner(srv, timeout_s=0.2, max_retries=1)
        start = time.perf_counter()
        res = cap.caption([clip(4)])[0]
        assert time.perf_counter() - start < 1.5  # gave up on timeouts, did not wait for the replies
        assert res.status == "failed"
        assert "after 2 attempts" in res.error and "timed out after 0.2s" in res.error
        assert len(srv.chat_requests) == 2


def test_slow_first_response_is_retried(tiny_lm):
    # The 2nd reply takes ~0.1 s; the timeout leaves room for a loaded CI machine.
    with TinyOpenAIServer(tiny_lm, faults=Faults(delay_s=1.5, delay_first=1)) as srv:
        res = captioner(srv, timeout_s=0.6, max_retries=2).caption([clip(5)])[0]
        assert res.status == "ok", res.error
        assert len(srv.chat_requests) == 2


def test_malformed_body_fails_clearly(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(malformed_first=100)) as srv:
        res = captioner(srv, max_retries=1).caption([clip(6)])[0]
        assert res.status == "failed"
        assert "after 2 attempts: malformed response (not JSON)" in res.error
        assert len(srv.chat_requests) == 2  # malformed 200s are retried like a 5xx


def test_malformed_body_then_good_is_recovered(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(malformed_first=1, missing_content_first=2)) as srv:
        completion = client(srv, max_retries=3).chat([{"role": "user", "content": "hi"}], max_tokens=4)
        assert completion.completion_tokens
        assert [r.fault for r in srv.chat_requests] == ["malformed", "missing content", ""]


def test_4xx_is_not_retried(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(fail_first=100, fail_status=400)) as srv:
        with pytest.raises(ScoringError, match=r"HTTP 400 \(not retried\): injected failure #1"):
            client(srv, max_retries=3).chat([{"role": "user", "content": "hi"}], max_tokens=4)
        assert len(srv.chat_requests) == 1


def test_invalid_image_is_a_400_from_the_server(server):
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                                        {"type": "text", "text": "Describe."}]}]
    with pytest.raises(ScoringError, match=r"HTTP 400 \(not retried\): image_url does not hold a JPEG"):
        client(server).chat(bad, max_tokens=4)
    # Unknown model: 404 with the server's message, not retried.
    with pytest.raises(ScoringError, match=r"HTTP 404 .*does not exist"):
        OpenAIClient(server.base_url, "other-model", **FAST).chat([{"role": "user", "content": "x"}], max_tokens=2)
    assert len(server.chat_requests) == 2


def test_api_key_is_sent(tiny_lm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("VIDGEN_OPENAI_API_KEY", raising=False)
    with TinyOpenAIServer(tiny_lm, api_key="sk-test") as srv:
        monkeypatch.setenv("MY_KEY", "sk-test")
        assert captioner(srv, openai_api_key_env="MY_KEY").caption([clip(7)])[0].status == "ok"
        assert srv.chat_requests[-1].authorization == "Bearer sk-test"
        with pytest.raises(ModelUnavailableError, match="refused the credentials"):
            client(srv).check()
        with pytest.raises(ScoringError, match=r"HTTP 401 \(not retried\): Incorrect API key"):
            client(srv, api_key="wrong").chat([{"role": "user", "content": "x"}], max_tokens=2)


# -- responses shaped like vLLM's server -------------------------------------------------------------


def test_usage_and_length_cut_are_recorded_and_flagged(server):
    """vLLM's usage block gives the token counts; a caption cut at max_tokens (finish_reason "length")
    is recorded truncated and the rule detectors reject it for that reason."""
    res = captioner(server, max_tokens=3).caption([clip(3)])[0]
    record = server.chat_requests[0]
    assert (res.prompt_tokens, res.completion_tokens) == (record.prompt_tokens, record.completion_tokens)
    assert res.completion_tokens == 3 and res.finish_reason == "length" and res.truncated
    verdict = check_caption(res.caption, res.finish_reason)
    assert verdict.labels["reduplication"] and 'truncated: finish_reason == "length"' in verdict.reasons["reduplication"]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])  # vLLM >= 0.11 / older vLLM
def test_reasoning_model_answer_is_the_content(tiny_lm, field):
    with TinyOpenAIServer(tiny_lm, think_tokens=4, reasoning_field=field) as srv:
        res = captioner(srv, max_tokens=16).caption([clip(4)])[0]
        record = srv.chat_requests[0]
        assert res.status == "ok", res.error
        assert record.reasoning and record.content  # the reply carried both
        assert res.caption == record.content.strip()  # the answer only; the reasoning is not part of it
        # The token counts are the usage block's (vLLM counts the reasoning tokens as completion tokens).
        assert (res.prompt_tokens, res.completion_tokens) == (record.prompt_tokens, record.completion_tokens)
        text = chat_model(srv).complete([{"role": "user", "content": "Is this caption fine?"}], max_tokens=16)
        assert text.text == srv.chat_requests[-1].content


def test_reasoning_without_an_answer_is_a_clear_error(tiny_lm):
    """A reasoning model that spends max_tokens thinking answers content null: a clear error naming
    the cause, not retried (the same request would end the same way)."""
    with TinyOpenAIServer(tiny_lm, think_tokens=50) as srv:
        res = captioner(srv, max_tokens=6, max_retries=3).caption([clip(5)])[0]
        assert res.status == "failed" and srv.chat_requests[0].content is None
        assert res.error.startswith("no_answer: the model answered with reasoning only and no content")
        assert "finish_reason 'length'" in res.error and "raise max_tokens" in res.error
        assert len(srv.chat_requests) == 1
        verdict = LLMJudge(chat_model(srv), judge_prompt(), max_tokens=6).judge("A cat sleeps.")
        assert verdict.status == "failed" and verdict.attempts == 1 and "reasoning only" in verdict.error


def test_images_sent_to_a_text_only_model_name_the_cause(tiny_lm):
    """vLLM serving a text model answers image parts with a 400 "<model> is not a multimodal model":
    the run fails once with what to change, every clip is asked once (no retries)."""
    with TinyOpenAIServer(tiny_lm, text_only=True) as srv:
        with pytest.raises(ModelUnavailableError) as err:
            captioner(srv, max_retries=3).caption([clip(i) for i in range(3)])
        message = str(err.value)
        assert "does not accept images" in message and f"{srv.model_path} is not a multimodal model" in message
        assert "set captions.openai_model to a vision-language model" in message
        chats = srv.chat_requests
        assert len(chats) == 3 and all(r.status == 400 for r in chats)
        # The body the client read is vLLM's ErrorResponse.
        import requests

        body = requests.post(f"{srv.base_url}/chat/completions", timeout=10, json={
            "model": MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]}]}).json()
        assert body == {"error": {"message": f"{srv.model_path} is not a multimodal model", "type": "BadRequestError",
                                  "param": None, "code": 400}}
        # Text-only requests (the judge's) are served as usual.
        assert chat_model(srv).complete([{"role": "user", "content": "hi"}], max_tokens=3).text


def test_judge_does_not_accept_a_verdict_cut_at_max_tokens(tiny_lm):
    verdict = json.dumps({"scene_transition": False, "frame_level": False, "reduplication": False,
                          "rationale": "fine"})

    def cut_first(n):
        # A parsable verdict followed by more text until the token limit, then (if ever) a complete one.
        return lambda body, index: (verdict + " Also, the", "length") if index < n else (verdict, "stop")

    with TinyOpenAIServer(tiny_lm, script=cut_first(1)) as srv:
        res = LLMJudge(chat_model(srv), judge_prompt(), max_attempts=3).judge("A cat sleeps.")
        assert res.status == "ok" and res.attempts == 2
    with TinyOpenAIServer(tiny_lm, script=cut_first(10)) as srv:
        res = LLMJudge(chat_model(srv), judge_prompt(), max_attempts=2, max_tokens=50).judge("A cat sleeps.")
        assert res.status == "failed" and res.labels is None and res.attempts == 2
        assert res.error.startswith("no complete judge verdict after 2 attempts: the verdict was cut at "
                                    'judge.max_tokens=50 (finish_reason "length"); raise judge.max_tokens')


# -- check() and an unreachable server ---------------------------------------------------------------


def test_check_lists_models_and_rejects_unknown_model(server):
    assert client(server).check() == [MODEL]
    with pytest.raises(ModelUnavailableError, match=r"does not serve model 'llama'.*serves: tiny-lm"):
        OpenAIClient(server.base_url, "llama").check()


def test_unreachable_server_is_model_unavailable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        OpenAIClient(url, MODEL, timeout_s=1).check()
    cap = OpenAICaptioner({"openai_base_url": url, "openai_model": MODEL, "timeout_s": 1, "max_retries": 0})
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        cap.caption([clip(0)])


def test_server_dying_mid_run_is_model_unavailable(tiny_lm):
    srv = TinyOpenAIServer(tiny_lm).start()
    cap = captioner(srv, max_retries=1, timeout_s=1)
    assert cap.caption([clip(0)])[0].status == "ok"
    srv.stop()
    with pytest.raises(ModelUnavailableError, match="became unreachable.*after 2 attempts"):
        cap.caption([clip(1), clip(2)])


# -- the LLM judge ------------------------------------------------------------------------------------


def chat_model(srv: TinyOpenAIServer, **kwargs) -> OpenAIChatModel:
    return OpenAIChatModel(srv.base_url, MODEL, **{**FAST, "timeout_s": 10, **kwargs})


def test_judge_prompt_file():
    prompt = judge_prompt()
    assert prompt.text.count("{caption}") == 1 and prompt.version.startswith("judge_v1@")
    for label in LABELS:
        assert label in prompt.text
    assert "pans" in prompt.text and "NOT" in prompt.text
    text = render_judge_prompt(prompt, "A dog {runs} on a beach.")
    assert "A dog {runs} on a beach." in text and "{caption}" not in text


def test_judge_parses_valid_json_from_the_model(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(judge_json=True)) as srv:
        judge = LLMJudge(chat_model(srv), judge_prompt())
        res = judge.judge("A dog runs along a beach while the camera pans to reveal the sea.")
        assert res.status == "ok", res.error
        assert set(res.labels) == set(LABELS) and all(isinstance(v, bool) for v in res.labels.values())
        assert isinstance(res.rationale, str) and res.attempts == 1
        assert res.model_id == f"{MODEL}@{srv.base_url}" and res.prompt_version == judge_prompt().version
        record = srv.chat_requests[0]
        assert record.max_tokens == 200 and record.temperature == 0.0 and record.prompt_tokens > 100


def test_judge_retries_invalid_output_then_succeeds(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(judge_json=True, bad_judge_first=2)) as srv:
        res = LLMJudge(chat_model(srv), judge_prompt(), max_attempts=3, max_tokens=40).judge("A cat sleeps.")
        assert res.status == "ok" and res.attempts == 3
        assert [r.temperature for r in srv.chat_requests] == [0.0, 0.3, 0.6]


def test_judge_always_invalid_is_failed_with_reason(tiny_lm):
    with TinyOpenAIServer(tiny_lm) as srv:  # raw tiny-LM gibberish: never JSON
        res = LLMJudge(chat_model(srv), judge_prompt(), max_attempts=2, max_tokens=16).judge("A cat sleeps.")
        assert res.status == "failed" and res.labels is None and res.attempts == 2
        assert res.error.startswith("unparsable judge output after 2 attempts: no JSON object found")
        assert "output: '" in res.error and res.raw
        assert len(srv.chat_requests) == 2


def test_judge_request_failure_is_not_reparsed(tiny_lm):
    with TinyOpenAIServer(tiny_lm, faults=Faults(fail_first=100, fail_status=400)) as srv:
        res = LLMJudge(chat_model(srv, max_retries=2), judge_prompt()).judge("A cat sleeps.")
        assert res.status == "failed" and res.attempts == 1 and "HTTP 400" in res.error


def test_judge_many_scripted_in_order(tiny_lm):
    def script(body: dict, index: int) -> str:
        user = body["messages"][-1]["content"]
        flag = "SMASH CUT" in user  # a marker the judge prompt itself does not contain
        return ("Sure! Here is my verdict:\n```json\n"
                + json.dumps({"scene_transition": flag, "frame_level": "false", "reduplication": False,
                              "rationale": "cut" if flag else "continuous"}) + "\n```")

    captions = [f"A dog runs. SMASH CUT to scene {i}." if i % 2 else f"A dog runs, take {i}." for i in range(5)]
    with TinyOpenAIServer(tiny_lm, script=script) as srv:
        results = LLMJudge(chat_model(srv), judge_prompt()).judge_many(captions, concurrency=3)
    assert [r.labels["scene_transition"] for r in results] == [False, True, False, True, False]
    assert [r.rationale for r in results] == ["continuous", "cut", "continuous", "cut", "continuous"]
    assert all(r.labels["frame_level"] is False for r in results)


def test_judge_unreachable_raises():
    model = OpenAIChatModel(f"http://127.0.0.1:{free_port()}/v1", MODEL, timeout_s=1)
    with pytest.raises(ModelUnavailableError):
        model.check()


def test_judge_config_errors():
    with pytest.raises(ConfigError, match="no \\{caption\\} slot"):
        LLMJudge(object(), Prompt("p", "no slot here", "/tmp/p.txt"))  # type: ignore[arg-type]


# -- pure helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    '{"scene_transition": true, "frame_level": false, "reduplication": false, "rationale": "cut"}',
    'Here you go:\n```json\n{"scene_transition": true, "frame_level": false, "reduplication": false,'
    ' "rationale": "cut"}\n```\nHope it helps.',
    'Answer: {"scene_transition": "true", "frame_level": "False", "reduplication": 0, "rationale": "cut"} done',
    "{'x': 1} {\"scene_transition\": True, \"frame_level\": False, \"reduplication\": False, \"rationale\": \"cut\",}",
])
def test_parse_judgement_tolerant(text):
    assert parse_judgement(text) == {"scene_transition": True, "frame_level": False, "reduplication": False,
                                     "rationale": "cut"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty output"),
    ("I think there is a scene transition.", "no JSON object found"),
    ('{"scene_transition": true, "frame_level": false}', "lacks reduplication"),
    ('{"scene_transition": "maybe", "frame_level": false, "reduplication": false}', "'scene_transition' must be a boolean"),
    ('{"scene_transition": true, "frame_level": false, "reduplication": fa', "no JSON object found"),
])
def test_parse_judgement_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_judgement(text)


def test_url_and_retry_after_helpers():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("https://api.x.com/v1/chat/completions") == "https://api.x.com/v1"
    assert normalize_base_url("http://h/openai/v1") == "http://h/openai/v1"
    with pytest.raises(ConfigError):
        normalize_base_url("localhost:8000")
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 9 <= parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) <= 11
