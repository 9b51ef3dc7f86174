"""Anthropic Messages API."""

from __future__ import annotations

from typing import Any

from .. import payloads
from .base import HTTPProvider, Request, Response

API_VERSION = "2023-06-01"


class AnthropicProvider(HTTPProvider):
    env_base_url = "ANTHROPIC_BASE_URL"
    env_api_key = "ANTHROPIC_API_KEY"
    default_base_url = "https://api.anthropic.com"

    def build(self, request: Request) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        key = self._api_key()
        if key:
            headers["x-api-key"] = key
        body = payloads.anthropic_body(request.model, list(request.messages),
                                       dict(request.params), tools=request.tools,
                                       tool_choice=request.tool_choice, output=request.output)
        base = self.base_url.removesuffix("/v1")
        return f"{base}/v1/messages", headers, body

    def parse(self, data: dict[str, Any]) -> Response:
        text, calls, usage = payloads.parse_anthropic(data)
        return Response(text=text, tokens_in=usage["in"], tokens_out=usage["out"], tool_calls=calls)
