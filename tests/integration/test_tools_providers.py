"""Tools, structured output, history and images through the OpenAI and Anthropic providers,
against the loopback server speaking both protocols."""

from __future__ import annotations

import asyncio
import json

import pytest

from support.llm import FakeLLM, calls_tool
from promptctl.providers import ProviderSettings, Request, make_provider

TOOLS = [{"name": "lookup_order", "description": "Look up an order.",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                         "required": ["order_id"]}}]
SCHEMA = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is A-1?"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": {"order_id": "A-1"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
    {"role": "user", "content": [{"type": "text", "text": "And this one?"},
                                 {"type": "image_url", "image_url": {"url": "https://img.example/b.png"}}]},
]
REQUEST = Request.of("m-1", MESSAGES, {"temperature": 0}, tools=TOOLS, tool_choice="lookup_order",
                     output={"format": "json", "schema": SCHEMA, "strict": True}, name="support/agent")


def call(kind: str, url: str, request: Request, **settings):
    async def go():
        provider = make_provider(ProviderSettings(kind=kind, base_url=url, retries=0, **settings))
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()
    return asyncio.run(go())


@pytest.fixture
def server():
    with FakeLLM(reply=calls_tool("lookup_order", {"order_id": "B-2"})) as fake:
        yield fake


def test_openai_sends_tools_choice_schema_history_and_images_and_reads_the_tool_call(server):
    response = call("openai", server.url, REQUEST)
    assert response.text == ""   # content: null is a tool-call reply, not a malformed one
    assert response.tool_calls == [{"id": "call_0", "name": "lookup_order",
                                    "arguments": {"order_id": "B-2"}}]
    body = server.requests[0]["body"]
    assert body["tools"] == [{"type": "function", "function": TOOLS[0]}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup_order"}}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "support_agent", "schema": SCHEMA, "strict": True}}
    assert body["messages"][2]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "lookup_order", "arguments": json.dumps({"order_id": "A-1"})}}]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "shipped"}
    assert body["messages"][4]["content"][1] == {"type": "image_url",
                                                  "image_url": {"url": "https://img.example/b.png"}}
    assert body["temperature"] == 0


def test_anthropic_sends_its_own_shapes_and_reads_tool_use(server):
    response = call("anthropic", server.url, REQUEST)
    assert response.text == ""
    assert response.tool_calls == [{"id": "toolu_0", "name": "lookup_order",
                                    "arguments": {"order_id": "B-2"}}]
    req = server.requests[0]
    body = req["body"]
    assert req["path"] == "/v1/messages"
    assert body["system"] == "Be brief."
    assert body["tools"] == [{"name": "lookup_order", "description": "Look up an order.",
                              "input_schema": TOOLS[0]["parameters"]}]
    assert body["tool_choice"] == {"type": "tool", "name": "lookup_order"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user"]   # the tool result and next question merge
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1",
                                               "name": "lookup_order", "input": {"order_id": "A-1"}}]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "shipped"},
        {"type": "text", "text": "And this one?"},
        {"type": "image", "source": {"type": "url", "url": "https://img.example/b.png"}}]


@pytest.mark.parametrize("choice,openai,anthropic", [
    ("auto", "auto", {"type": "auto"}), ("required", "required", {"type": "any"}),
    ("none", "none", {"type": "none"})])
def test_tool_choice_keywords(server, choice, openai, anthropic):
    request = Request.of("m-1", "hi", tools=TOOLS, tool_choice=choice)
    call("openai", server.url, request)
    call("anthropic", server.url, request)
    assert server.requests[0]["body"]["tool_choice"] == openai
    assert server.requests[1]["body"]["tool_choice"] == anthropic


def test_a_plain_prompt_sends_no_tool_or_format_fields(server):
    call("openai", server.url, Request.of("m-1", "hi"))
    call("anthropic", server.url, Request.of("m-1", "hi"))
    for req in server.requests:
        assert not {"tools", "tool_choice", "response_format", "output_config"} & set(req["body"])


def test_json_without_a_schema_asks_for_a_json_object(server):
    call("openai", server.url, Request.of("m-1", "hi", output={"format": "json", "schema": None}))
    assert server.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_azure_deployment_url_keeps_api_version_as_the_query(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "az-key")
    url = f"{server.url}/openai/deployments/gpt4o?api-version=2024-10-21"
    call("openai", url, Request.of("m-1", "hi"))
    req = server.requests[0]
    assert req["path"] == "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
    assert req["headers"]["api-key"] == "az-key"


def test_a_tool_call_with_broken_json_arguments_keeps_the_text():
    from promptctl.payloads import parse_openai

    data = {"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}}]}
    assert parse_openai(data)[1] == [{"id": "c", "name": "f", "arguments": "{oops"}]
