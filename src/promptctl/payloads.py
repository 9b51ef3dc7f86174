"""Request bodies for the OpenAI chat-completions and Anthropic Messages APIs, and their
replies read back: one translation shared by the eval providers (which POST the body) and
the runtime's `ResolvedPrompt.request()` (which hands it to the vendor's SDK).

Rendered messages are in the OpenAI shape (role, content as text or parts, tool_calls,
tool_call_id); the Anthropic body is translated from it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Keyword arguments the SDKs' create() accept; any other param travels in `extra_body`,
# which both SDKs merge into the JSON body (so temperature reaches Anthropic whatever the
# SDK version's signature, and a gateway's own params reach it too).
OPENAI_KEYWORDS = frozenset("""model messages tools tool_choice response_format temperature top_p
    max_tokens max_completion_tokens n stop seed presence_penalty frequency_penalty logit_bias
    logprobs top_logprobs user parallel_tool_calls reasoning_effort service_tier store metadata
    stream stream_options modalities audio prediction verbosity safety_identifier
    prompt_cache_key web_search_options""".split())
ANTHROPIC_KEYWORDS = frozenset("""model messages max_tokens system tools tool_choice output_config
    stop_sequences metadata thinking service_tier stream container""".split())
ANTHROPIC_MAX_TOKENS = 1024   # required by the Messages API


def openai_body(model: str, messages: list[dict[str, Any]], params: dict[str, Any], *,
                tools: list[dict] | tuple = (), tool_choice: str | None = None,
                output: dict[str, Any] | None = None, name: str = "output") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model,
                            "messages": [_openai_message(m) for m in messages]}
    if tools:
        body["tools"] = [{"type": "function", "function": _function(t)} for t in tools]
    if tool_choice:
        body["tool_choice"] = (tool_choice if tool_choice in ("auto", "none", "required")
                               else {"type": "function", "function": {"name": tool_choice}})
    response_format = _response_format(output, name)
    if response_format:
        body["response_format"] = response_format
    return {**body, **params}   # params written in the prompt win, as they always did


def _function(tool: dict) -> dict[str, Any]:
    function = {"name": tool["name"], "parameters": tool["parameters"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict"):
        function["strict"] = True
    return function


def _response_format(output: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    if not output or output.get("format") != "json":
        return None
    schema = output.get("schema")
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema",
            "json_schema": {"name": schema_name(name), "schema": schema,
                            "strict": bool(output.get("strict"))}}


def schema_name(name: str) -> str:
    """OpenAI's response-format names allow [A-Za-z0-9_-]{1,64}; prompt names hold '/'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output"


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    if out.get("tool_calls"):
        out["tool_calls"] = [_openai_call(c) for c in out["tool_calls"]]
    return out


def _openai_call(call: dict[str, Any]) -> dict[str, Any]:
    """Apps may keep calls as promptctl reports them ({id, name, arguments}) or as OpenAI does."""
    if "function" in call:
        return call
    arguments = call.get("arguments", {})
    return {"id": call.get("id", ""), "type": "function",
            "function": {"name": call.get("name", ""),
                         "arguments": arguments if isinstance(arguments, str)
                         else json.dumps(arguments, ensure_ascii=False)}}


def anthropic_body(model: str, messages: list[dict[str, Any]], params: dict[str, Any], *,
                   tools: list[dict] | tuple = (), tool_choice: str | None = None,
                   output: dict[str, Any] | None = None) -> dict[str, Any]:
    system = [_text_of(m.get("content")) for m in messages if m["role"] in ("system", "developer")]
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] in ("system", "developer"):
            continue
        role = "assistant" if message["role"] == "assistant" else "user"
        blocks = _anthropic_blocks(message)
        if turns and turns[-1]["role"] == role:   # the API wants turns to alternate
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    body: dict[str, Any] = {"model": model, "max_tokens": ANTHROPIC_MAX_TOKENS, "messages": turns}
    if any(system):
        body["system"] = "\n\n".join(s for s in system if s)
    if tools:
        body["tools"] = [_anthropic_tool(t) for t in tools]
    if tool_choice:
        body["tool_choice"] = {"auto": {"type": "auto"}, "none": {"type": "none"},
                               "required": {"type": "any"}}.get(
                                   tool_choice, {"type": "tool", "name": tool_choice})
    if output and output.get("format") == "json" and output.get("schema") is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": output["schema"]}}
    return {**body, **params}


def _anthropic_tool(tool: dict) -> dict[str, Any]:
    out = {"name": tool["name"], "input_schema": tool["parameters"]}
    if tool.get("description"):
        out["description"] = tool["description"]
    if tool.get("strict"):
        out["strict"] = True
    return out


def _anthropic_blocks(message: dict[str, Any]) -> str | list[dict[str, Any]]:
    content = message.get("content")
    if message["role"] == "tool":
        return [{"type": "tool_result", "tool_use_id": message["tool_call_id"],
                 "content": _text_of(content)}]
    blocks: list[dict[str, Any]] = []
    if isinstance(content, list):
        blocks = [_anthropic_part(p) for p in content]
    elif content:
        if not message.get("tool_calls"):
            return content
        blocks = [{"type": "text", "text": content}]
    for call in message.get("tool_calls") or []:
        plain = plain_call(call)
        blocks.append({"type": "tool_use", "id": plain["id"], "name": plain["name"],
                       "input": plain["arguments"] if isinstance(plain["arguments"], dict) else {}})
    return blocks


def _anthropic_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") != "image_url":
        return part   # text, and Anthropic-native blocks an app put in its history
    url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
    match = re.match(r"data:([\w/+.-]+);base64,(.*)", url, re.DOTALL)
    if match:
        return {"type": "image", "source": {"type": "base64", "media_type": match[1],
                                            "data": match[2]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _as_blocks(content: str | list) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


def sdk_kwargs(body: dict[str, Any], keywords: frozenset[str]) -> dict[str, Any]:
    """A flat HTTP body as keyword arguments of the SDK's create(): unknown keys in extra_body."""
    known = {k: v for k, v in body.items() if k in keywords}
    extra = {k: v for k, v in body.items() if k not in keywords}
    return {**known, "extra_body": extra} if extra else known


# ---------------------------------------------------------------- replies

def plain_call(call: dict[str, Any]) -> dict[str, Any]:
    """{id, name, arguments}: arguments parsed from JSON text when they are (models may
    send broken JSON; it is kept as text so a scorer can say so)."""
    function = call.get("function") or call
    arguments = function.get("arguments", call.get("input", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            pass
    return {"id": str(call.get("id", "")), "name": str(function.get("name", "")),
            "arguments": arguments}


def parse_openai(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """(text, tool calls, usage) of a chat completion; text is "" for a tool-call-only reply."""
    message = data["choices"][0]["message"]
    text = message.get("content")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise TypeError("content is not text")
    calls = [plain_call(c) for c in message.get("tool_calls") or []]
    usage = data.get("usage") or {}
    return text, calls, {"in": int(usage.get("prompt_tokens") or 0),
                         "out": int(usage.get("completion_tokens") or 0)}


def parse_anthropic(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    blocks = data["content"]
    text = "".join(b["text"] for b in blocks if b.get("type") == "text")
    calls = [plain_call({"id": b.get("id"), "name": b.get("name"), "input": b.get("input", {})})
             for b in blocks if b.get("type") == "tool_use"]
    usage = data.get("usage") or {}
    return text, calls, {"in": int(usage.get("input_tokens") or 0),
                         "out": int(usage.get("output_tokens") or 0)}
