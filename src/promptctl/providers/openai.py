"""OpenAI-compatible chat completions: OpenAI, Azure-style gateways, vLLM, Ollama, llama.cpp."""

from __future__ import annotations

from typing import Any

from .base import HTTPProvider, Request, Response


class OpenAIProvider(HTTPProvider):
    env_base_url = "OPENAI_BASE_URL"
    env_api_key = "OPENAI_API_KEY"
    default_base_url = "https://api.openai.com/v1"

    def build(self, request: Request) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json"}
        key = self._api_key()
        if key:
            headers["authorization"] = f"Bearer {key}"
            headers["api-key"] = key   # Azure-style gateways read this header instead
        body = {"model": request.model,
                "messages": [{"role": r, "content": c} for r, c in request.messages],
                **dict(request.params)}
        return f"{self.base_url}/chat/completions", headers, body

    def parse(self, data: dict[str, Any]) -> Response:
        text = data["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("content is not text")
        usage = data.get("usage") or {}
        return Response(text=text, tokens_in=int(usage.get("prompt_tokens") or 0),
                        tokens_out=int(usage.get("completion_tokens") or 0))
