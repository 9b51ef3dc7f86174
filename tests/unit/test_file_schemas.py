"""The shipped JSON Schemas equal their models, and accept what promptctl accepts."""

import json

import jsonschema
import pytest
import yaml

from promptctl import file_schemas
from promptctl.errors import ValidationError
from promptctl.evals.suite import parse_suite
from promptctl.model import PromptSpec
from promptctl.yamlfile import parse_model

REGENERATE = "python -c 'from promptctl.file_schemas import regenerate_shipped as r; r()'"


@pytest.mark.parametrize("kind", file_schemas.KINDS)
def test_each_shipped_schema_is_generated_from_its_model(kind):
    shipped = json.loads(file_schemas.shipped_text(kind))
    assert shipped == json.loads(json.dumps(file_schemas.generate(kind))), f"stale: run {REGENERATE}"
    assert shipped["$schema"].endswith("2020-12/schema")


def validator(kind):
    return jsonschema.Draft202012Validator(json.loads(file_schemas.shipped_text(kind)))


SHORTHAND_PROMPT = """\
name: team/faq
model: {provider: echo, name: echo-1}
inputs:
  question: string
  tone: {type: string, default: calm}
messages:
  - {role: system, content: "Be {{ tone }}."}
  - {role: user, content_file: user.j2}
output: {format: json, schema: {type: object}}
"""


def test_prompt_schema_accepts_the_shorthand_promptctl_accepts():
    parse_model(PromptSpec, SHORTHAND_PROMPT, "prompt.yaml")
    assert not list(validator("prompt").iter_errors(yaml.safe_load(SHORTHAND_PROMPT)))


def messages(kind, data) -> list[str]:
    """Every message, including those nested under anyOf/oneOf."""
    found, todo = [], list(validator(kind).iter_errors(data))
    while todo:
        error = todo.pop()
        found.append(error.message)
        todo.extend(error.context or [])
    return found


@pytest.mark.parametrize("old, new, found", [
    ("name: team/faq", "name: Team FAQ", "does not match"),
    ("question: string", "question: strng", "'strng' is not one of"),
    ("role: system", "role: robot", "'robot' is not one of"),
    ("output:", "colour: red\noutput:", "'colour' was unexpected"),
    ("content_file: user.j2", "content_file: user.j2, content: x", "is valid under each of"),
])
def test_prompt_schema_rejects_what_promptctl_rejects(old, new, found):
    text = SHORTHAND_PROMPT.replace(old, new, 1)
    with pytest.raises(ValidationError, match=r"^prompt\.yaml:\d+: "):
        parse_model(PromptSpec, text, "prompt.yaml")
    assert any(found in m for m in messages("prompt", yaml.safe_load(text))), messages


def test_prompt_schema_needs_exactly_one_body():
    data = yaml.safe_load(SHORTHAND_PROMPT) | {"template": "Hi"}
    assert list(validator("prompt").iter_errors(data))


def test_suite_schema_takes_scorer_params_beside_the_fixed_keys():
    text = ("dataset: cases.jsonl\nmetrics:\n  - {type: contains, value: refund}\n"
            "  - {name: short, type: length, max: 200}\ngates: [contains >= 0.9, short >= 1]\n")
    parse_suite(text, "suite.yaml")
    assert not list(validator("suite").iter_errors(yaml.safe_load(text)))
    bad = yaml.safe_load(text.replace("type: length", "type: lenght").replace("short >= 1", "short is 1"))
    messages = " ".join(e.message for e in validator("suite").iter_errors(bad))
    assert "'lenght' is not one of" in messages and "does not match" in messages


@pytest.mark.parametrize("path, line", [
    ("prompts/faq/prompt.yaml", "$schema=../../.schemas/prompt.schema.json"),
    ("prompts/team/faq/prompt.yaml", "$schema=../../../.schemas/prompt.schema.json"),
    ("evals/faq/suite.yaml", "$schema=../../.schemas/suite.schema.json"),
    ("release.yaml", "$schema=.schemas/manifest.schema.json"),
    ("promptctl.yaml", "$schema=.schemas/config.schema.json"),
])
def test_modeline_points_at_the_repo_schema_relative_to_the_file(path, line):
    text = file_schemas.with_modeline(path, "a: 1\n")
    assert text == f"# yaml-language-server: {line}\na: 1\n"
    assert file_schemas.with_modeline(path, text) == text   # replaced, never stacked


def test_modeline_leaves_other_files_alone():
    assert file_schemas.with_modeline("evals/faq/cases.yaml", "- a\n") == "- a\n"
