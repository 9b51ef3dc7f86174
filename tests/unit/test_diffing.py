"""Bump classification (major/minor/patch) on in-memory prompt versions."""

import pytest

from promptctl.diffing import diff_prompts
from promptctl.model import Config
from promptctl.prompt_files import load_prompt
from promptctl.sources import DictSource
from promptctl.versions import BumpKind

BASE = """\
name: p
description: d
model: {provider: openai, name: gpt-4o-2024-08-06, params: {temperature: 0}}
inputs:
  question: string
  tone: {type: string, default: warm}
output: {format: text}
template: |
  Answer in a {{ tone }} tone and never promise refunds.
  Question: {{ question }}
"""


def content(text):
    return load_prompt(DictSource({"prompts/p/prompt.yaml": text}), Config(), "p")


def level(new_text):
    result = diff_prompts(content(BASE), content(new_text), "1.0.0", "working")
    return result.level, result


@pytest.mark.parametrize("old,new,expected", [
    ("  tone: {type: string, default: warm}\n", "  tone: {type: string}\n", BumpKind.MAJOR),
    ("  question: string\n", "  question: integer\n", BumpKind.MAJOR),
    ("output: {format: text}", "output: {format: json}", BumpKind.MAJOR),
    ("  tone: {type: string, default: warm}\n",
     "  tone: {type: string, default: warm}\n  extra: {type: string, default: ''}\n", BumpKind.MINOR),
    ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20", BumpKind.MINOR),
    ("temperature: 0", "temperature: 0.7", BumpKind.MINOR),
    ("never promise refunds", "always promise refunds", BumpKind.MINOR),
    ("never promise refunds", "never promise refunds, ever", BumpKind.MINOR),
    ("never promise refunds", "never  promise\n  refunds", BumpKind.PATCH),
    ("Answer in a", "Answer on a", BumpKind.MINOR),   # short words are never typos
    ("Question:", "Qeustion:", BumpKind.PATCH),
    ("never promise", "ever promise", BumpKind.MINOR),  # meaning-bearing word
    ("description: d", "description: better words", BumpKind.PATCH),
])
def test_classification(old, new, expected):
    assert old in BASE
    found, result = level(BASE.replace(old, new))
    assert found is expected, result.reasons


def test_removing_an_input_and_template_use_is_major():
    text = BASE.replace("  question: string\n", "").replace("Question: {{ question }}", "")
    found, result = level(text)
    assert found is BumpKind.MAJOR
    assert any("question" in r for r in result.reasons)


def test_identical_is_no_change():
    found, result = level(BASE)
    assert found is BumpKind.NONE and not result.changed


def test_first_release_has_a_unified_diff_of_every_file():
    result = diff_prompts(None, content(BASE), "(none)", "working")
    assert "+  Question: {{ question }}" in result.files["p/prompt.yaml"]


TOOLED = """\
name: p
model: {provider: openai, name: gpt-4o-2024-08-06}
inputs:
  question: string
tools:
  - name: lookup_order
    description: Look up an order.
    parameters:
      type: object
      properties:
        order_id: {type: string, description: the id}
        verbose: {type: boolean}
      required: [order_id]
  - name: refund
    parameters: {type: object, properties: {amount: {type: number}}}
output:
  format: json
  schema: {type: object, properties: {answer: {type: string}}, required: [answer]}
template: "Q: {{ question }}"
"""


def tool_level(old, new):
    assert old in TOOLED
    result = diff_prompts(content(TOOLED), content(TOOLED.replace(old, new)), "1.0.0", "working")
    return result.level, result


@pytest.mark.parametrize("old,new,expected,reason", [
    ("  - name: refund\n    parameters: {type: object, properties: {amount: {type: number}}}\n", "",
     BumpKind.MAJOR, "tool 'refund' removed"),
    ("required: [order_id]", "required: [order_id, verbose]", BumpKind.MAJOR,
     "tool 'lookup_order' parameters.verbose became required"),
    ("        verbose: {type: boolean}\n", "        verbose: {type: boolean}\n        note: {type: string}\n",
     BumpKind.MINOR, "optional tool 'lookup_order' parameters.note added"),
    ("        verbose: {type: boolean}\n      required: [order_id]",
     "        verbose: {type: boolean}\n        shop: {type: string}\n      required: [order_id, shop]",
     BumpKind.MAJOR, "required tool 'lookup_order' parameters.shop added"),
    ("amount: {type: number}", "amount: {type: string}", BumpKind.MAJOR,
     "tool 'refund' parameters.amount: type number -> string"),
    ("tools:\n", "tools:\n  - name: escalate\n    parameters: {type: object}\n", BumpKind.MINOR,
     "tool 'escalate' added"),
    ("Look up an order.", "Look up one order by its id.", BumpKind.PATCH,
     "tool 'lookup_order' description changed"),
    ("{type: string, description: the id}", "{type: string, description: the order's id}",
     BumpKind.PATCH, "tool 'lookup_order' parameters.order_id: description changed"),
    ("{answer: {type: string}}, required: [answer]",
     "{answer: {type: string}, confidence: {type: number}}, required: [answer, confidence]",
     BumpKind.MAJOR, "output contract: required output.confidence added"),
    ("properties: {answer: {type: string}}", "properties: {answer: {type: string}, note: {type: string}}",
     BumpKind.MINOR, "output contract: optional output.note added"),
    ("  format: json\n", "  format: json\n  strict: true\n", BumpKind.MAJOR,
     "output contract: output strict False -> True"),
    ("  schema: {type: object, properties: {answer: {type: string}}, required: [answer]}",
     "  schema: {type: object, properties: {answer: {type: string}}, required: [answer], "
     "additionalProperties: false}", BumpKind.MAJOR, "output contract: output: additionalProperties changed"),
])
def test_tool_and_output_schema_changes(old, new, expected, reason):
    found, result = tool_level(old, new)
    assert found is expected, result.reasons
    assert any(reason in r for r in result.reasons), result.reasons


def test_diff_lists_tool_changes_by_name():
    _, result = tool_level("  - name: refund\n", "  - name: refund_order\n")
    assert result.tools == ["tool 'refund' removed", "tool 'refund_order' added"]
    assert result.as_dict()["tools"] == result.tools


def test_a_changed_config_is_minor_and_shown():
    found, result = tool_level("template:", "config: {k: 3}\ntemplate:")
    assert found is BumpKind.MINOR and result.config == ["config k changed"]
