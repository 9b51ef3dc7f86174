"""The runtime hands apps tools, output schema, config and metadata, and SDK-ready payloads:
checked by the official openai and anthropic SDKs against the loopback server."""

from __future__ import annotations

import pytest

from support.releases import release
from support.llm import FakeLLM
from support.tools import HISTORY, answer_last_order, make_agent_repo

import promptctl
from promptctl.errors import RenderError, UsageError


@pytest.fixture
def agent(tmp_path):
    root = make_agent_repo(tmp_path / "r", "openai")
    release(root, "agent", "1.0.0")
    return promptctl.Registry.open(root, env="production").get("agent")


@pytest.fixture
def server():
    with FakeLLM(reply=answer_last_order) as fake:
        yield fake


def test_resolved_prompt_exposes_tools_output_config_and_metadata(agent):
    assert [t["name"] for t in agent.tools] == ["lookup_order", "refund"]
    assert agent.tools[0]["description"] == "Look up an order placed at {{ shop }}."
    assert agent.render_tools(shop="Acme")[0]["description"] == "Look up an order placed at Acme."
    assert agent.tool_choice == "auto"
    assert agent.output == {"format": "json", "strict": True, "schema": {
        "type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}}
    assert agent.config == {"retrieval_k": 4} and agent.metadata == {"owner": "support-team"}
    agent.config["retrieval_k"] = 99   # a copy: the next caller sees the released value
    agent.tools[0]["name"] = "x"
    assert agent.config == {"retrieval_k": 4} and agent.tools[0]["name"] == "lookup_order"
    messages = agent.render(shop="Acme", history=HISTORY, photo="https://img.example/p.png")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "user", "user"]


def test_openai_sdk_accepts_the_payload_and_reads_the_tool_call(agent, server):
    openai = pytest.importorskip("openai")
    payload = agent.request("openai", shop="Acme", history=HISTORY, photo="https://img.example/p.png")
    client = openai.OpenAI(base_url=server.url, api_key="sk-local", max_retries=0)
    reply = client.chat.completions.create(**payload)
    call = reply.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("lookup_order", '{"order_id": "B-2"}')
    sent = server.requests[0]["body"]
    assert sent["model"] == "m-1" and sent["temperature"] == 0
    assert sent["tools"][0]["function"]["description"] == "Look up an order placed at Acme."
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["messages"][2]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert sent["messages"][5]["content"][1]["image_url"]["url"] == "https://img.example/p.png"
    assert "config" not in sent and "metadata" not in sent


def test_anthropic_sdk_accepts_the_payload_and_reads_tool_use(agent, server):
    anthropic = pytest.importorskip("anthropic")
    payload = agent.request("anthropic", shop="Acme", history=HISTORY, photo="https://img.example/p.png")
    assert payload["extra_body"] == {"temperature": 0}   # not a keyword of every SDK version
    client = anthropic.Anthropic(base_url=server.url, api_key="sk-local", max_retries=0)
    reply = client.messages.create(**payload)
    block = reply.content[0]
    assert (block.type, block.name, block.input) == ("tool_use", "lookup_order", {"order_id": "B-2"})
    sent = server.requests[0]["body"]
    assert sent["temperature"] == 0 and sent["max_tokens"] == 1024
    assert sent["system"] == "You are the assistant of Acme."
    assert sent["output_config"]["format"]["schema"]["required"] == ["status"]
    assert sent["tools"][0]["input_schema"]["required"] == ["order_id"]
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"


def test_editing_a_payload_leaves_the_released_version_alone(agent):
    payload = agent.request("openai", shop="Acme")
    payload["tools"][0]["function"]["parameters"]["required"].append("x")
    payload["response_format"]["json_schema"]["schema"]["required"].append("y")
    again = agent.request("openai", shop="Acme")
    assert again["tools"][0]["function"]["parameters"]["required"] == ["order_id"]
    assert again["response_format"]["json_schema"]["schema"]["required"] == ["status"]


def test_request_errors_are_promptctl_errors(agent):
    with pytest.raises(UsageError, match="no request format for provider 'echo'"):
        agent.request("echo", shop="Acme")
    with pytest.raises(RenderError, match=r"input 'history'\[1\].tool_call_id: missing"):
        agent.request("openai", shop="Acme", history=[{"role": "user", "content": "hi"},
                                                      {"role": "tool", "content": "x"}])


def test_a_fallback_prompt_has_an_empty_contract(tmp_path):
    reg = promptctl.Registry.open(tmp_path / "missing", fallback="Hello {{ name }}")
    p = reg.get("anything")
    assert (p.tools, p.tool_choice, p.config, p.metadata) == ([], None, {}, {})
    assert p.output["format"] == "text"
