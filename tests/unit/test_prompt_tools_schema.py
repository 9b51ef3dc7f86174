"""The prompt file's tools, structured output, chat roles, content parts and placeholders."""

import pytest

from promptctl.errors import RenderError, ValidationError
from promptctl.model import Config
from promptctl.prompt_files import load_prompt
from promptctl.render import compile_content
from promptctl.sources import DictSource

AGENT = """\
name: agent
model: {provider: openai, name: gpt-4o-2024-08-06}
inputs:
  shop: string
  history: {type: messages, required: false}
  photo: {type: string, required: false, default: "https://img.example/x.png"}
tools:
  - name: lookup_order
    description: Look up an order at {{ shop }}.
    parameters:
      type: object
      properties:
        order_id: {type: string}
        verbose: {type: boolean}
      required: [order_id]
tool_choice: auto
output: {format: json, schema: {type: object, properties: {answer: {type: string}}}, strict: true}
config: {retrieval_k: 4}
metadata: {owner: support}
messages:
  - role: developer
    content: You help customers of {{ shop }}.
  - placeholder: history
  - role: user
    content:
      - {type: text, text: "What is in this photo?"}
      - {type: image_url, image_url: "{{ photo }}", detail: low}
"""


def load(text, name="agent"):
    return load_prompt(DictSource({f"prompts/{name}/prompt.yaml": text}), Config(), name)


def problem_of(text):
    with pytest.raises(ValidationError) as info:
        load(text)
    return str(info.value)


def test_a_full_modern_prompt_loads_and_renders_history_parts_and_tools():
    content = load(AGENT)
    spec = content.spec
    assert [t.name for t in spec.tools] == ["lookup_order"]
    assert spec.tool_choice == "auto" and spec.output.strict and spec.config == {"retrieval_k": 4}
    compiled = compile_content(content, "agent@1")
    history = [{"role": "user", "content": "where is my order?"},
               {"role": "assistant", "content": None,
                "tool_calls": [{"id": "c1", "name": "lookup_order", "arguments": {"order_id": "7"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "shipped"}]
    messages = compiled.render({"shop": "Acme", "history": history})
    assert [m["role"] for m in messages] == ["developer", "user", "assistant", "tool", "user"]
    assert messages[0]["content"] == "You help customers of Acme."
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "shipped"}
    assert messages[4]["content"] == [
        {"type": "text", "text": "What is in this photo?"},
        {"type": "image_url", "image_url": {"url": "https://img.example/x.png", "detail": "low"}}]
    tools = compiled.render_tools({"shop": "Acme"})
    assert tools[0]["description"] == "Look up an order at Acme."
    # an optional placeholder input left out inserts nothing
    assert len(compiled.render({"shop": "Acme"})) == 2


def test_a_tool_message_in_the_file_renders_its_call_id_template():
    text = AGENT.replace("  - placeholder: history\n", "  - role: tool\n    tool_call_id: \"{{ shop }}-1\"\n"
                         "    content: done\n")
    messages = compile_content(load(text), "agent@1").render({"shop": "Acme"})
    assert messages[1] == {"role": "tool", "tool_call_id": "Acme-1", "content": "done"}


@pytest.mark.parametrize("old,new,expected", [
    ("required: [order_id]", "required: [order_id, missing]", "tools.0.parameters: "
     "not a valid JSON Schema: $.required: 'missing' is not one of the properties"),
    ("order_id: {type: string}", "order_id: {type: text}", "$.properties.order_id.type: 'text' "
     "is not a JSON Schema type"),
    ("      type: object\n      properties:", "      type: array\n      properties:",
     "tools.0.parameters: the arguments' schema must have `type: object`"),
    ("  - placeholder: history", "  - placeholder: chat", "messages.1.placeholder: 'chat' is not "
     "a declared input"),
    ("  history: {type: messages, required: false}", "  history: {type: list, required: false}",
     "messages.1.placeholder: input 'history' is of type list; a placeholder takes a `messages` input"),
    ("  - placeholder: history", "  - role: tool\n    content: done",
     "messages.1: a tool message needs `tool_call_id`"),
    ("  - placeholder: history", "  - content: hi", "messages.1: give `role`"),
    ("tool_choice: auto", "tool_choice: send_mail", "tool_choice: 'send_mail' is not auto, none, "
     "required or a declared tool (lookup_order)"),
    ("  - name: lookup_order", "  - name: look up", "tools.0.name: use letters"),
    ("      - {type: text, text: \"What is in this photo?\"}", "      - {type: text}",
     "messages.2.content"),
])
def test_bad_input_is_one_line_naming_the_field(old, new, expected):
    assert old in AGENT
    message = problem_of(AGENT.replace(old, new))
    assert expected in message
    assert "\n" not in message
    assert "prompts/agent/prompt.yaml:" in message


def test_two_tools_of_one_name_are_refused():
    tool = AGENT[AGENT.index("  - name: lookup_order"):AGENT.index("tool_choice")]
    message = problem_of(AGENT.replace(tool, tool + tool))
    assert "tools: tool 'lookup_order' is declared twice" in message


@pytest.mark.parametrize("history,expected", [
    ([{"content": "hi"}], "input 'history'[0].role: missing"),
    ([{"role": "tool", "content": "x"}], "input 'history'[0].tool_call_id: missing"),
    ([{"role": "robot", "content": "x"}], "input 'history'[0].role: 'robot' is not"),
    ("hello", "input 'history': expected a list of messages, got str"),
    ([{"role": "user"}], "input 'history'[0].content: missing"),
])
def test_bad_history_is_a_render_error_naming_the_item(history, expected):
    compiled = compile_content(load(AGENT), "agent@1")
    with pytest.raises(RenderError) as info:
        compiled.render({"shop": "Acme", "history": history})
    assert expected in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_check_counts_a_placeholder_as_using_its_input():
    from promptctl.checks import contract_problems

    text = AGENT.replace("  history: {type: messages, required: false}", "  history: messages")
    assert contract_problems(load(text), "prompts/agent/prompt.yaml") == []


def test_output_schema_is_checked_and_strict_needs_one():
    bad = AGENT.replace("properties: {answer: {type: string}}", "properties: {answer: {type: str}}")
    assert "output.schema: not a valid JSON Schema" in problem_of(bad)
    assert "`strict: true` needs a `schema`" in problem_of(
        "name: agent\nmodel: {name: m}\ntemplate: hi\noutput: {format: json, strict: true}\n")


def test_the_docs_worked_examples_load_and_render():
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs/prompts.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    content = load(blocks[0], "support-agent")   # the tools example is a whole prompt file
    assert [t.name for t in content.spec.tools] == ["lookup_order", "refund"]
    case = json.loads(re.search(r"```json\n(.*?)\n```", text, re.DOTALL)[1])
    conversation = blocks[2].replace("inputs:\n", "name: support-agent\nmodel: {name: m}\ninputs:\n")
    messages = compile_content(load(conversation, "support-agent"), "x").render(
        {**case["inputs"], "question": "And B-2?"})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "user", "user"]
