"""Bump classification (major/minor/patch) on in-memory prompt versions."""

import pytest

from promptctl.diffing import diff_prompts
from promptctl.files import DictSource, load_prompt
from promptctl.model import Config
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
