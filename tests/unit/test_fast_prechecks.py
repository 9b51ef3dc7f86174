"""The shortcuts that let verify skip a full YAML event walk or a Jinja parse must only ever
skip what the full check would pass: seeded random texts from hostile pieces prove it."""

import random

import pytest
import yaml
from jinja2 import TemplateSyntaxError, meta

from promptctl.errors import ValidationError
from promptctl.safeyaml import load_yaml
from promptctl.render import only_plain_variables, parse, parsing_environment
from promptctl import safeyaml
from promptctl.safeyaml import MAX_DEPTH, check_nesting, within_limits_by_counting

JINJA_PIECES = ["{{", "}}", "{{ ", " }}", "{%", "%}", "{#", "#}", "{", "}", "x", "user.name",
                "not", "if", " ", "-", "+", ".", "\n", "'", "include 'a.j2'", "Hello ", "1"]
YAML_PIECES = ["a: ", "- ", "- - ", "[", "[[", "]", "{", "{k: ", "}", ", ", "\n", "  ", "x",
               "&a ", "*a", "[*a, *a]", "? ", ": ", "'", '"', "#", "!!str ", "|\n", "k", "1"]


def random_texts(pieces: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def jinja_verdict(text: str) -> tuple[bool, list]:
    try:
        ast = parse(parsing_environment(), text, None)
    except TemplateSyntaxError:
        return False, []
    return True, list(meta.find_referenced_templates(ast))


def test_a_template_judged_plain_always_parses_and_includes_nothing():
    plain = 0
    for text in random_texts(JINJA_PIECES, 4000, seed=7):
        if only_plain_variables(text):
            plain += 1
            assert jinja_verdict(text) == (True, []), text
    assert plain > 400   # the shortcut is taken often enough to matter


@pytest.mark.parametrize("text,plain", [
    ("Hi {{ name }}, your mail is {{ user.email }}.\n}} and %} are text", True),
    ("no tags at all", True),
    ("{{{ x }}", False),                 # Jinja opens the tag at the first brace: a syntax error
    ("{{ not }}", False),
    ("{{ x }}{% include 'a.j2' %}", False),
    ("{{- x }}", False),
    ("{{ x y }}", False),
    ("{# note #}{{ x }}", False),
])
def test_plain_variable_examples(text, plain):
    assert only_plain_variables(text) is plain


def nesting_passes(text: str) -> bool:
    try:
        check_nesting(text, "f.yaml")
    except ValidationError:
        return False
    except yaml.YAMLError:   # broken YAML: load_yaml reports it as invalid either way
        return True
    return True


def test_yaml_counted_within_limits_always_passes_the_event_walk(monkeypatch):
    # small limits, so that short random texts reach them both ways
    monkeypatch.setattr(safeyaml, "MAX_DEPTH", 3)
    monkeypatch.setattr(safeyaml, "MAX_ALIAS_NODES", 2)
    counted = refused = 0
    for text in random_texts(YAML_PIECES, 6000, seed=11):
        if within_limits_by_counting(text):
            counted += 1
            assert nesting_passes(text), text
        elif not nesting_passes(text):
            refused += 1
    assert counted > 1000 and refused > 100   # both ways, often


@pytest.mark.parametrize("text", [
    "- " * (MAX_DEPTH + 1) + "x\n",                                 # compact block sequences
    "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "v\n",
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcde", "bcdef", strict=True)),
])
def test_texts_past_the_limits_are_never_counted_as_within_them(text):
    assert not within_limits_by_counting(text)
    with pytest.raises(ValidationError):
        load_yaml(text, "f.yaml")


def test_exactly_the_limit_of_nesting_still_loads():
    assert load_yaml("- " * MAX_DEPTH + "x\n", "f.yaml") is not None
