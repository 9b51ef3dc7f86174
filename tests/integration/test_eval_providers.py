"""Providers against loopback servers speaking the OpenAI and Anthropic protocols."""

from __future__ import annotations

import asyncio
import time

import pytest

from support.llm import FakeLLM
from promptctl.errors import ProviderError
from promptctl.providers import ProviderSettings, Request, make_provider


@pytest.fixture
def server():
    with FakeLLM() as fake:
        yield fake


def call(kind: str, url: str, request: Request, **settings):
    async def go():
        provider = make_provider(ProviderSettings(kind=kind, base_url=url, **settings))
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()
    return asyncio.run(go())


CHAT = Request.of("m-1", [{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "hello there"}], {"temperature": 0})


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_success_records_text_tokens_latency_and_sends_key(server, kind, monkeypatch):
    env = "OPENAI_API_KEY" if kind == "openai" else "ANTHROPIC_API_KEY"
    monkeypatch.setenv(env, "sk-test-123")
    response = call(kind, server.url, CHAT)
    assert response.text == "hello there"
    assert (response.tokens_in, response.tokens_out) == (11, 7)
    assert response.latency_ms > 0
    req = server.requests[0]
    if kind == "openai":
        assert req["path"] == "/chat/completions"
        assert req["headers"]["authorization"] == "Bearer sk-test-123"
        assert req["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert req["body"]["temperature"] == 0
    else:
        assert req["path"] == "/v1/messages"
        assert req["headers"]["x-api-key"] == "sk-test-123"
        assert req["body"]["system"] == "Be brief."
        assert req["body"]["messages"] == [{"role": "user", "content": "hello there"}]
        assert req["body"]["max_tokens"] == 1024


def test_base_url_and_key_come_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-key")
    async def go():
        provider = make_provider(ProviderSettings(kind="openai", api_key_env="MY_GATEWAY_KEY"))
        try:
            return await provider.complete(CHAT)
        finally:
            await provider.aclose()
    assert asyncio.run(go()).text == "hello there"
    assert server.requests[0]["headers"]["authorization"] == "Bearer gw-key"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_429_honours_retry_after_then_succeeds(server, kind):
    server.script = [("status", 429, {"Retry-After": "1"})]
    start = time.monotonic()
    response = call(kind, server.url, CHAT, backoff=0.01)
    assert response.text == "hello there"
    assert len(server.requests) == 2
    gap = server.requests[1]["time"] - server.requests[0]["time"]
    assert gap >= 0.95, "the retry must wait what Retry-After asked"
    assert time.monotonic() - start < 5


def test_500_retries_with_backoff_then_gives_up(server):
    server.script = [("status", 500)] * 3
    with pytest.raises(ProviderError, match="HTTP 500: .*scripted.* after 3 attempts"):
        call("openai", server.url, CHAT, retries=2, backoff=0.05)
    assert len(server.requests) == 3
    gaps = [b["time"] - a["time"] for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.045   # base 0.05·2^k, jittered within [½, 1]


def test_500_then_success_is_a_success(server):
    server.script = [("status", 503)]
    assert call("anthropic", server.url, CHAT, backoff=0.01).text == "hello there"


def test_timeout_is_retried_and_reported(server):
    server.script = [("sleep", 1.0), ("sleep", 1.0)]
    with pytest.raises(ProviderError, match="timed out after 0.2s after 2 attempts"):
        call("openai", server.url, CHAT, timeout=0.2, retries=1, backoff=0.01)
    assert len(server.requests) == 2


def test_malformed_json_is_an_error_not_retried(server):
    server.script = [("malformed",)]
    with pytest.raises(ProviderError, match="malformed response"):
        call("openai", server.url, CHAT)
    assert len(server.requests) == 1


def test_4xx_other_than_429_fails_at_once(server):
    server.script = [("status", 401)]
    with pytest.raises(ProviderError, match="HTTP 401"):
        call("anthropic", server.url, CHAT)
    assert len(server.requests) == 1


def test_concurrency_limit_and_rpm(server):
    server.delay = 0.1

    async def go(**settings):
        provider = make_provider(ProviderSettings(kind="openai", base_url=server.url, **settings))
        start = time.monotonic()
        try:
            await asyncio.gather(*(provider.complete(CHAT) for _ in range(6)))
        finally:
            await provider.aclose()
        return time.monotonic() - start

    assert 0.28 <= asyncio.run(go(concurrency=2)) < 1.5       # 3 waves of 0.1 s
    server.delay = 0.0
    assert asyncio.run(go(concurrency=6, rpm=600)) >= 0.45    # 6 starts spaced 0.1 s apart


def test_python_provider_calls_the_apps_function(tmp_path):
    (tmp_path / "myapp_pipeline.py").write_text(
        "def answer(prompt, **params):\n"
        "    return {'text': prompt.upper(), 'tokens_in': 3, 'tokens_out': 2}\n"
        "async def broken(prompt, **params):\n"
        "    raise RuntimeError('db down')\n")

    async def go(spec):
        provider = make_provider(ProviderSettings(kind=f"python:{spec}"), tmp_path)
        return await provider.complete(Request.of("m", "hi"))

    response = asyncio.run(go("myapp_pipeline:answer"))
    assert (response.text, response.tokens_in, response.tokens_out) == ("HI", 3, 2)
    with pytest.raises(ProviderError, match="RuntimeError: db down"):
        asyncio.run(go("myapp_pipeline:broken"))


def test_echo_joins_messages():
    provider = make_provider(ProviderSettings(kind="echo"))
    assert provider.complete_sync(CHAT).text == "Be brief.\nhello there"


def test_hosted_api_without_key_fails_fast(monkeypatch):
    from promptctl.errors import UsageError
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY is not set"):
        make_provider(ProviderSettings(kind="anthropic"))


def test_a_key_echoed_in_an_error_reply_is_redacted(server, monkeypatch):
    # Error text is kept in results, reports and history: an echoed key must not be.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-echoed-secret-42")
    server.script = [("status", 401, {}, b'{"error": "Incorrect API key: sk-echoed-secret-42"}')]
    with pytest.raises(ProviderError) as info:
        call("openai", server.url, CHAT)
    assert "sk-echoed-secret-42" not in str(info.value) and "Incorrect API key: ***" in str(info.value)


def test_a_sync_python_provider_runs_concurrency_calls_at_once(tmp_path):
    (tmp_path / "slow_pipeline.py").write_text(
        "import threading, time\n"
        "live, peak, lock = [0], [0], threading.Lock()\n"
        "def answer(prompt, **params):\n"
        "    with lock:\n"
        "        live[0] += 1; peak[0] = max(peak[0], live[0])\n"
        "    time.sleep(0.05)\n"
        "    with lock:\n"
        "        live[0] -= 1\n"
        "    return prompt\n")

    async def go(concurrency):
        provider = make_provider(ProviderSettings(kind="python:slow_pipeline:answer",
                                                  concurrency=concurrency), tmp_path)
        try:
            replies = await asyncio.gather(*(provider.complete(Request.of("m", f"q{i}"))
                                             for i in range(8)))
        finally:
            await provider.aclose()
        return [r.text for r in replies]

    assert asyncio.run(go(4)) == [f"q{i}" for i in range(8)]
    import slow_pipeline  # on sys.path once the provider loaded it
    assert slow_pipeline.peak[0] == 4        # four threads at once, never more
    slow_pipeline.peak[0] = 0
    asyncio.run(go(1))
    assert slow_pipeline.peak[0] == 1        # concurrency 1: one call at a time


def test_timeout_is_a_deadline_for_the_whole_attempt_even_when_bytes_drip(server):
    # httpx's timeout is per read: one byte every 0.1 s would never trip a 0.5 s read timeout
    server.script = [("drip", 0.1), ("drip", 0.1)]
    start = time.monotonic()
    with pytest.raises(ProviderError, match="timed out after 0.5s after 2 attempts"):
        call("openai", server.url, CHAT, timeout=0.5, retries=1, backoff=0.01)
    assert time.monotonic() - start < 2.5


@pytest.mark.parametrize("step", [("endless",), ("huge", 3_000_000)], ids=["endless", "huge"])
def test_a_body_over_the_cap_is_an_error_not_memory(server, step):
    server.script = [step]
    start = time.monotonic()
    with pytest.raises(ProviderError, match="over the 1,048,576-byte limit") as info:
        call("openai", server.url, CHAT, timeout=5, max_response_bytes=1024 * 1024)
    assert "max_response_bytes" in info.value.one_line()
    assert time.monotonic() - start < 3
    assert len(server.requests) == 1   # a broken server is not asked again


def test_the_last_server_error_text_is_kept_after_retries(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-secret-123456")
    body = b'{"error": {"message": "max_tokens: \'abc\' is not an integer (key sk-live-secret-123456)"}}'
    server.script = [("status", 500, {}, body)] * 3
    with pytest.raises(ProviderError) as info:
        call("openai", server.url, CHAT, retries=2, backoff=0.01)
    message = str(info.value)
    assert "HTTP 500: " in message and "is not an integer" in message and "after 3 attempts" in message
    assert "sk-live-secret-123456" not in message and "(key ***)" in message
