"""Prompt loading and validation from an in-memory source: errors name file, line, field."""

import pytest

from promptctl.config import load_config
from promptctl.errors import NotFoundError, ValidationError
from promptctl.model import Config
from promptctl.prompt_files import content_digest, load_prompt
from promptctl.sources import DictSource

CONFIG = Config()
GOOD = """\
name: support
model: {provider: echo, name: e1}
inputs:
  question: string
template: |
  {% include "_partials/rules.j2" %}
  Q: {{ question }}
"""


def load(files, name="support"):
    return load_prompt(DictSource(files), CONFIG, name)


def problems_of(files, name="support"):
    with pytest.raises(ValidationError) as info:
        load(files, name)
    return [str(p) for p in info.value.problems]


def test_partials_are_part_of_the_content_and_digest():
    files = {"prompts/support/prompt.yaml": GOOD, "prompts/_partials/rules.j2": "Be kind.\n"}
    content = load(files)
    assert set(content.files) == {"support/prompt.yaml", "_partials/rules.j2"}
    changed = load({**files, "prompts/_partials/rules.j2": "Be terse.\n"})
    assert changed.digest != content.digest


def test_digest_ignores_line_endings_but_not_content():
    assert content_digest({"a": "x\r\ny\n"}) == content_digest({"a": "x\ny\n"})
    assert content_digest({"a": "x"}) != content_digest({"b": "x"})


def test_unknown_field_names_line_and_field():
    text = GOOD.replace("inputs:", "temprature: 1\ninputs:")
    found = problems_of({"prompts/support/prompt.yaml": text, "prompts/_partials/rules.j2": ""})
    assert found == ["prompts/support/prompt.yaml:3: temprature: unknown field 'temprature' (did you mean 'template'?)"]


def test_malformed_yaml_names_line():
    found = problems_of({"prompts/support/prompt.yaml": "name: support\nmodel: [unclosed\n"})
    assert found[0].startswith("prompts/support/prompt.yaml:")
    assert "invalid YAML" in found[0]


@pytest.mark.parametrize("bad,field", [
    ("name: Support_Refund!", "name"),
    ("inputs:\n  question: {type: str}", "inputs.question.type"),
])
def test_field_errors(bad, field):
    key = bad.split(":", 1)[0]
    lines = [ln for ln in GOOD.splitlines() if not ln.startswith(key) and not ln.startswith("  question")]
    text = bad + "\n" + "\n".join(lines) + "\n"
    found = problems_of({"prompts/support/prompt.yaml": text, "prompts/_partials/rules.j2": ""})
    assert any(f": {field}: " in p for p in found), found


def test_missing_template_file_and_include_are_reported_together():
    text = ("name: support\nmodel: {provider: echo, name: e}\nmessages:\n"
            "  - role: system\n    content_file: sys.j2\n"
            "  - role: user\n    content: '{% include \"_partials/nope.j2\" %}'\n")
    found = problems_of({"prompts/support/prompt.yaml": text})
    assert any("messages.0.content_file" in p and "sys.j2" in p for p in found)
    assert any("'_partials/nope.j2' not found" in p for p in found)


def test_syntax_error_in_template_file_names_its_line():
    text = "name: support\nmodel: {provider: echo, name: e}\ntemplate_file: body.j2\n"
    found = problems_of({"prompts/support/prompt.yaml": text,
                         "prompts/support/body.j2": "ok\n{% if x %}\nno end\n"})
    assert found and found[0].startswith("prompts/support/body.j2:")


def test_name_must_match_folder():
    found = problems_of({"prompts/other/prompt.yaml": GOOD, "prompts/_partials/rules.j2": ""}, "other")
    assert any(": name: " in p and "folder" in p for p in found)


def test_unknown_prompt():
    with pytest.raises(NotFoundError):
        load({}, "nothing")


def test_config_tag_format_must_name_both_fields():
    with pytest.raises(ValidationError) as info:
        load_config(DictSource({"promptctl.yaml": "tag_format: '{name}-release'\n"}))
    assert "promptctl.yaml:1: tag_format:" in str(info.value.problems[0])


@pytest.mark.parametrize("inputs, words", [
    ("{q: {type: string, default: 5}}", "inputs.q: default 5 is not of type string"),
    ("{q: {type: integer, default: true}}", "default True is not of type integer"),
    ("{q: {type: string, required: true, default: hi}}", "a required input takes no default"),
])
def test_an_input_default_must_honour_the_contract(inputs, words):
    from promptctl.errors import ValidationError
    from promptctl.yamlfile import parse_model
    from promptctl.model import PromptSpec
    text = f"name: p\nmodel: {{name: m}}\ntemplate: '{{{{ q }}}}'\ninputs: {inputs}\n"
    with pytest.raises(ValidationError) as info:
        parse_model(PromptSpec, text, "prompts/p/prompt.yaml")
    assert words in str(info.value.problems[0])


def test_defaults_of_the_right_type_pass():
    from promptctl.yamlfile import parse_model
    from promptctl.model import PromptSpec
    text = ("name: p\nmodel: {name: m}\ntemplate: '{{ a }}{{ b }}{{ c }}'\n"
            "inputs: {a: {type: number, default: 2}, b: {type: list, default: []}, c: {default: x}}\n")
    spec = parse_model(PromptSpec, text, "prompts/p/prompt.yaml")
    assert spec.inputs["a"].default == 2 and spec.inputs["c"].required is False
