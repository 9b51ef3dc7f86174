"""Anthropic Messages API."""

from __future__ import annotations

from typing import Any

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
        params = dict(request.params)
        params.setdefault("max_tokens", 1024)   # required by the Messages API
        system = "\n\n".join(c for r, c in request.messages if r == "system")
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": r, "content": c} for r, c in request.messages if r != "system"],
            **params,
        }
        if system:
            body["system"] = system
        base = self.base_url.removesuffix("/v1")
        return f"{base}/v1/messages", headers, body

    def parse(self, data: dict[str, Any]) -> Response:
        blocks = data["content"]
        text = "".join(b["text"] for b in blocks if b.get("type") == "text")
        usage = data.get("usage") or {}
        return Response(text=text, tokens_in=int(usage.get("input_tokens") or 0),
                        tokens_out=int(usage.get("output_tokens") or 0))
