"""A provider that answers from a function, for tests of anything that calls a model.

Like an HTTP client's mock transport: the code under test builds real Requests and gets real
Responses, nothing leaves the process, and every request is kept for the test to inspect.
"""

from __future__ import annotations

from typing import Callable

from .base import ProviderSettings, Request, Response

Answer = Callable[[Request], "Response | str"]


class FakeProvider:
    """Answers each request with `answer(request)` (a Response, or text for a plain one).

    `synchronous=True` (the default) makes it a SyncProvider, as echo is; False keeps it to
    the async `complete`, the path the HTTP adapters take."""

    def __init__(self, answer: Answer | str = "ok", *, kind: str = "fake",
                 synchronous: bool = True) -> None:
        self.settings = ProviderSettings(kind=kind)
        self._answer = answer
        self.requests: list[Request] = []
        self.closed = False
        if synchronous:
            self.complete_sync = self._reply

    def _reply(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self._answer(request) if callable(self._answer) else self._answer
        if isinstance(answer, Response):
            return answer
        return Response(text=answer, tokens_in=len(request.text().split()),
                        tokens_out=len(answer.split()))

    async def complete(self, request: Request) -> Response:
        return self._reply(request)

    async def aclose(self) -> None:
        self.closed = True
