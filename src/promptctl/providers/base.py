"""What every provider offers, and the HTTP machinery the remote ones share.

Retries, backoff, the requests-per-minute limit and concurrency live here once so the
OpenAI and Anthropic adapters only translate payloads. API keys are read from the
environment at call time and never stored on any object that gets serialised.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import ProviderError, UsageError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024   # a completion is kilobytes; 8 MB is a broken server


@dataclass(frozen=True)
class Request:
    """One model call: chat messages (a text prompt is one user turn), the model, its params,
    and the prompt's tools and output format when it has them."""

    model: str
    messages: tuple[dict[str, Any], ...]    # {role, content, ...} in the OpenAI shape
    params: tuple[tuple[str, Any], ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None
    output: dict[str, Any] | None = None     # {format: json, schema, strict}; None for text
    name: str = "output"                     # the prompt's name, for the response format

    @classmethod
    def of(cls, model: str, rendered: str | list[dict[str, Any]],
           params: dict[str, Any] | None = None, *, tools: list[dict] | tuple = (),
           tool_choice: str | None = None, output: dict[str, Any] | None = None,
           name: str = "output") -> "Request":
        if isinstance(rendered, str):
            messages: tuple = ({"role": "user", "content": rendered},)
        else:
            messages = tuple(rendered)
        return cls(model, messages, tuple(sorted((params or {}).items())), tuple(tools),
                   tool_choice, output, name)

    def text(self) -> str:
        """Every message's text, joined: what the echo provider answers."""
        return "\n".join(_text(m.get("content")) for m in self.messages)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


@dataclass
class Response:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)   # {id, name, arguments}


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach a provider; the key itself is never held, only its env var name."""

    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = 60.0
    retries: int = 3
    rpm: float | None = None
    concurrency: int = 8
    backoff: float = 0.5
    backoff_max: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    source_digest: str = ""   # a python provider's module source: editing it changes answers

    def cache_identity(self) -> str:
        # The endpoint changes the answer; the key never does and must never be part of it.
        identity = f"{self.kind}|{self.base_url or ''}"
        return f"{identity}|{self.source_digest}" if self.source_digest else identity


@runtime_checkable
class Provider(Protocol):
    """A model endpoint the eval engine calls: one request in, one response out."""

    settings: ProviderSettings

    async def complete(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SyncProvider(Provider, Protocol):
    """A provider that answers without I/O: the engine calls `complete_sync` in a plain loop
    (no event loop per case) when no judge needs the async path."""

    def complete_sync(self, request: Request) -> Response: ...


class RateLimiter:
    """Spaces call starts so no more than `rpm` begin in any minute."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class TransientError(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class HTTPProvider:
    """Shared request loop: concurrency limit, RPM limit, timeout, retries with backoff."""

    env_base_url = ""
    env_api_key = ""
    default_base_url = ""

    def __init__(self, settings: ProviderSettings) -> None:
        import os

        import httpx

        self.settings = settings
        self.base_url = (settings.base_url or os.environ.get(self.env_base_url)
                         or self.default_base_url).rstrip("/")
        self._key_env = settings.api_key_env or self.env_api_key
        from ..redaction import register
        register(self._key_env)
        if self.base_url == self.default_base_url and not self._api_key():
            # The hosted API always needs a key; failing here beats N cases × retries of 401s.
            raise UsageError(f"{self._key_env} is not set", field=f"provider {settings.kind}",
                             fix=f"export {self._key_env}, set providers.{settings.kind}."
                                 "api_key_env / base_url in promptctl.yaml, or try it offline "
                                 "with --provider echo")
        self._client = httpx.AsyncClient(timeout=settings.timeout,
                                         limits=httpx.Limits(max_connections=settings.concurrency))
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._rate = RateLimiter(settings.rpm)

    def _api_key(self) -> str | None:
        import os
        return os.environ.get(self._key_env) if self._key_env else None

    def _redact(self, text: str) -> str:
        """Error text ends up in results and history; some gateways echo the key back."""
        from ..redaction import redact
        key = self._api_key()
        return redact(text.replace(key, "***") if key else text)

    def build(self, request: Request) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def parse(self, data: dict[str, Any]) -> Response:
        raise NotImplementedError

    async def complete(self, request: Request) -> Response:
        import httpx

        url, headers, body = self.build(request)
        attempts = self.settings.retries + 1
        last = "no attempt made"
        async with self._limit:
            for attempt in range(attempts):
                await self._rate.wait()
                try:
                    # `timeout` bounds the whole attempt: a server dripping one byte at a
                    # time must not stretch it (httpx's own timeout is per read)
                    async with asyncio.timeout(self.settings.timeout):
                        return await self._attempt(url, headers, body)
                except (TransientError, TimeoutError, httpx.TimeoutException,
                        httpx.TransportError) as exc:
                    last = _describe(exc, self.settings.timeout)
                    if attempt + 1 >= attempts:
                        break
                    await asyncio.sleep(self._delay(attempt, getattr(exc, "wait", None)))
        raise ProviderError(f"{self.settings.kind}: {last} after {attempts} attempts")

    async def _attempt(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> Response:
        start = time.perf_counter()
        async with self._client.stream("POST", url, headers=headers, json=body) as reply:
            raw = await self._read_capped(reply)
        latency = (time.perf_counter() - start) * 1000
        text = raw.decode("utf-8", "replace")
        if reply.status_code in RETRY_STATUS:
            # the body often says why (a bad param behind a 500): keep it for the last error
            raise TransientError(f"HTTP {reply.status_code}: {self._redact(_short(text))}"
                                 if text.strip() else f"HTTP {reply.status_code}",
                                 retry_after(reply.headers.get("retry-after")))
        if reply.status_code >= 400:
            raise ProviderError(f"{self.settings.kind}: HTTP {reply.status_code}: "
                                f"{self._redact(_short(text))}")
        try:
            response = self.parse(json.loads(raw))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"{self.settings.kind}: malformed response: "
                                f"{self._redact(_short(text))}") from exc
        response.latency_ms = latency
        return response

    async def _read_capped(self, reply: Any) -> bytes:
        cap = self.settings.max_response_bytes
        declared = reply.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise self._too_large(int(declared))
        chunks, size = [], 0
        async for chunk in reply.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._too_large(size, more=True)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int, more: bool = False) -> ProviderError:
        kind = self.settings.kind
        return ProviderError(f"{kind}: response of {'more than ' if more else ''}{size:,} bytes is "
                             f"over the {self.settings.max_response_bytes:,}-byte limit",
                             fix=f"raise providers.{kind}.max_response_bytes in promptctl.yaml "
                                 "if the server is right")

    def _delay(self, attempt: int, wait: float | None) -> float:
        if wait is not None:
            return min(wait, self.settings.backoff_max)
        base = min(self.settings.backoff * (2 ** attempt), self.settings.backoff_max)
        return base / 2 + random.uniform(0, base / 2)   # jitter spreads synchronised retries

    async def aclose(self) -> None:
        await self._client.aclose()


def _describe(exc: Exception, timeout: float) -> str:
    import httpx
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"timed out after {timeout:g}s"
    return str(exc) or type(exc).__name__


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")


def make_provider(settings: ProviderSettings, root: Any = None) -> Provider:
    kind = settings.kind
    if kind == "echo":
        from .echo import EchoProvider
        return EchoProvider(settings)
    if kind == "openai":
        from .openai import OpenAIProvider
        return OpenAIProvider(settings)
    if kind == "anthropic":
        from .anthropic import AnthropicProvider
        return AnthropicProvider(settings)
    if kind.startswith("python:"):
        from .python import PythonProvider
        return PythonProvider(settings, root)
    raise UsageError(f"unknown provider {kind!r}", field="provider",
                     fix="use openai, anthropic, echo or python:module:function")
