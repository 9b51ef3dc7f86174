"""A prompt repo with a tool-using, multi-turn, image-reading chat prompt and its suite."""

from __future__ import annotations

import json
from pathlib import Path

from support.repos import build_file_tree, git, git_save

AGENT_PROMPT = """\
name: agent
model: {{provider: {provider}, name: m-1, params: {{temperature: 0}}}}
inputs:
  shop: string
  history: {{type: messages, required: false}}
  photo: {{type: string, required: false, default: ""}}
tools:
  - name: lookup_order
    description: Look up an order placed at {{{{ shop }}}}.
    parameters:
      type: object
      properties:
        order_id: {{type: string}}
        verbose: {{type: boolean}}
      required: [order_id]
  - name: refund
    parameters: {{type: object, properties: {{amount: {{type: number}}}}, required: [amount]}}
tool_choice: {tool_choice}
output:
  format: json
  schema: {{type: object, properties: {{status: {{type: string}}}}, required: [status]}}
  strict: true
config: {{retrieval_k: 4}}
metadata: {{owner: support-team}}
messages:
  - role: system
    content: You are the assistant of {{{{ shop }}}}.
  - placeholder: history
  - role: user
    content:
      - {{type: text, text: "Please help."}}
{photo_part}"""
PHOTO_PART = '      - {type: image_url, image_url: "{{ photo }}"}\n'

SUITE = """\
dataset: cases.jsonl
metrics:
  - {name: called, type: tool_call, match: subset}
  - {name: order, type: json_field, path: $.order_id}
gates: ["called >= 1", "order >= 1"]
"""

HISTORY = [
    {"role": "user", "content": "Where is order A-17?"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_9", "name": "lookup_order", "arguments": {"order_id": "A-17"}}]},
    {"role": "tool", "tool_call_id": "call_9", "content": "{\"status\": \"in transit\"}"},
    {"role": "user", "content": "And order B-2?"},
]


def cases() -> list[dict]:
    """Multi-turn cases whose expected call is lookup_order with the last order id asked."""
    rows = []
    for index, order in enumerate(["B-2", "C-3", "D-4"]):
        history = [*HISTORY[:3], {"role": "user", "content": f"And order {order}?"}]
        rows.append({"id": f"turn{index}", "inputs": {
            "shop": "Acme", "history": history, "photo": f"https://img.example/{order}.png"},
            "expected": {"name": "lookup_order", "arguments": {"order_id": order},
                         "order_id": order}})
    return rows


def answer_last_order(body: dict) -> dict:
    """The loopback model: call lookup_order with the order id of the last question asked."""
    texts = []
    for message in body["messages"]:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        texts += [b["text"] for b in blocks if b.get("type") == "text" and b.get("text")]
    asked = [t for t in texts if t.startswith("And order")]
    order = asked[-1].removeprefix("And order ").rstrip("?") if asked else "?"
    return {"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order}}]}


def make_agent_repo(root: Path, provider: str = "openai", base_url: str = "",
                    tool_choice: str = "auto", photo: bool = True) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    config = "prompts_dir: prompts\nevals_dir: evals\n"
    if base_url:
        config += f"providers:\n  {provider}: {{base_url: '{base_url}', retries: 0}}\n"
    build_file_tree(root, {
        "promptctl.yaml": config,
        "release.yaml": "environments:\n  production:\n    agent: {active: 1.0.0}\n",
        ".gitignore": ".promptctl/\n",
        "prompts/agent/prompt.yaml": AGENT_PROMPT.format(
            provider=provider, tool_choice=tool_choice, photo_part=PHOTO_PART if photo else ""),
        "evals/agent/suite.yaml": SUITE,
        "evals/agent/cases.jsonl": "".join(json.dumps(c) + "\n" for c in cases()),
    })
    git_save(root, "agent")
    return root
