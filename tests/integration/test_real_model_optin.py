"""Opt-in: the OpenAI provider against a real OpenAI-compatible server running a small
local model (tools, forced tool choice, JSON-schema output, usage). Set
PROMPTCTL_REALLLM_URL (e.g. http://127.0.0.1:8081/v1) to run it; it skips otherwise."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest

from promptctl.evals.jsonschema import first_error
from promptctl.providers import ProviderSettings, Request, make_provider

URL = os.environ.get("PROMPTCTL_REALLLM_URL", "")


def _model() -> str:
    if not URL:
        pytest.skip("PROMPTCTL_REALLLM_URL is not set")
    try:
        listing = httpx.get(f"{URL.rstrip('/')}/models", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        pytest.skip(f"no OpenAI-compatible server answers at {URL}")
    return listing["data"][0]["id"]


def complete(request: Request):
    async def go():
        provider = make_provider(ProviderSettings(kind="openai", base_url=URL, timeout=120, retries=0))
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()
    return asyncio.run(go())


TOOLS = [{"name": "lookup_order", "description": "Look up an order by its id.",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                         "required": ["order_id"]}}]


def test_a_forced_tool_call_comes_back_as_a_tool_call():
    model = _model()
    response = complete(Request.of(model, "Where is my order A-17?", {"max_tokens": 64, "temperature": 0},
                                   tools=TOOLS, tool_choice="lookup_order"))
    assert response.tool_calls, response.text
    assert response.tool_calls[0]["name"] == "lookup_order"
    assert isinstance(response.tool_calls[0]["arguments"], dict)
    assert response.tokens_in > 0


def test_json_schema_output_through_a_params_response_format():
    # llama.cpp's server takes the schema as {type: json_object, schema}, not OpenAI's
    # json_schema form: a prompt's own params.response_format wins over the derived one.
    model = _model()
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response = complete(Request.of(model, "Name the capital of France as JSON.",
                                   {"max_tokens": 48, "temperature": 0,
                                    "response_format": {"type": "json_object", "schema": schema}},
                                   output={"format": "json", "schema": schema, "strict": True}))
    assert first_error(json.loads(response.text), schema) is None, response.text
