"""A provider that answers with the rendered prompt: offline quickstarts and benchmarks."""

from __future__ import annotations

from .base import ProviderSettings, Request, Response


class EchoProvider:
    """A SyncProvider: the engine calls `complete_sync` directly, no event loop per case."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings

    def complete_sync(self, request: Request) -> Response:
        text = request.text()
        words = len(text.split())
        return Response(text=text, tokens_in=words, tokens_out=words, latency_ms=0.0)

    async def complete(self, request: Request) -> Response:
        return self.complete_sync(request)

    async def aclose(self) -> None:
        return None
