"""`python:module:function`: evaluate the app's own pipeline, loaded from the prompt repo.

The function receives the rendered prompt (a string, or a list of {role, content}) and
the model params as keywords; it returns a string or a dict with `text` and optional
`tokens_in` / `tokens_out` / `tool_calls`. It may be sync or async. A prompt with tools
also passes `tools` and `tool_choice` as keywords.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ProviderError, UsageError
from ..payloads import plain_call
from .base import ProviderSettings, Request, Response


def load_callable(spec: str, root: Path | None, what: str) -> Callable[..., Any]:
    """Import `module:function`, with the repo root first on sys.path."""
    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise UsageError(f"{what} {spec!r} is not module:function", field=what,
                         fix="write it as package.module:function")
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}", field=what,
                         fix="put the module in the prompt repo or install it") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UsageError(f"{module_name!r} has no function {func_name!r}", field=what)
    return func


class PythonProvider:
    def __init__(self, settings: ProviderSettings, root: Path | None) -> None:
        self.settings = settings
        self.func = load_callable(settings.kind.removeprefix("python:"), root, "provider")
        self._limit = asyncio.Semaphore(settings.concurrency)

    async def complete(self, request: Request) -> Response:
        first = request.messages[0]
        if len(request.messages) == 1 and first["role"] == "user" and isinstance(first["content"], str):
            prompt: Any = first["content"]
        else:
            prompt = [dict(m) for m in request.messages]
        extra: dict[str, Any] = {}
        if request.tools:   # only then: older pipelines take no such keyword
            extra = {"tools": list(request.tools), "tool_choice": request.tool_choice}
        start = time.perf_counter()
        async with self._limit:
            try:
                result = self.func(prompt, **dict(request.params), **extra)
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, self.settings.timeout)
            except asyncio.TimeoutError as exc:
                raise ProviderError(f"python provider timed out after {self.settings.timeout:g}s") from exc
            except Exception as exc:  # the app's pipeline may raise anything; it is a case error
                raise ProviderError(f"python provider raised {type(exc).__name__}: {exc}") from exc
        latency = (time.perf_counter() - start) * 1000
        if isinstance(result, dict):
            return Response(text=str(result.get("text") or ""),
                            tokens_in=int(result.get("tokens_in") or 0),
                            tokens_out=int(result.get("tokens_out") or 0), latency_ms=latency,
                            tool_calls=[plain_call(c) for c in result.get("tool_calls") or []])
        return Response(text=str(result), latency_ms=latency)

    async def aclose(self) -> None:
        return None
