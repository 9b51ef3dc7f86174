"""OpenAI-compatible chat completions: OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .. import payloads
from .base import HTTPProvider, Request, Response


def chat_url(base_url: str) -> str:
    """`{base}/chat/completions`, keeping a query where it belongs: an Azure deployment URL
    `.../openai/deployments/x?api-version=...` gets the path before its `?api-version`."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions"))


def azure_base_url(endpoint: str, deployment: str, api_version: str) -> str:
    """The base URL of an Azure OpenAI deployment (`providers.openai.azure` in promptctl.yaml)."""
    return (f"{endpoint.rstrip('/')}/openai/deployments/{deployment}"
            f"?api-version={api_version}")


class OpenAIProvider(HTTPProvider):
    env_base_url = "OPENAI_BASE_URL"
    env_api_key = "OPENAI_API_KEY"
    default_base_url = "https://api.openai.com/v1"

    def build(self, request: Request) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json"}
        key = self._api_key()
        if key:
            headers["authorization"] = f"Bearer {key}"
            headers["api-key"] = key   # Azure OpenAI reads this header instead
        body = payloads.openai_body(request.model, list(request.messages), dict(request.params),
                                    tools=request.tools, tool_choice=request.tool_choice,
                                    output=request.output, name=request.name)
        return chat_url(self.base_url), headers, body

    def parse(self, data: dict[str, Any]) -> Response:
        text, calls, usage = payloads.parse_openai(data)
        return Response(text=text, tokens_in=usage["in"], tokens_out=usage["out"], tool_calls=calls)
