"""Every YAML file goes through one loader with limits: hostile files fail fast, by name."""

import time

import pytest

from promptctl.errors import ValidationError
from promptctl.safeyaml import load_yaml
from promptctl.yamlfile import key_lines

LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.parametrize("text,expected", [
    (LAUGHS, "aliases expand to more than"),
    ("[" * 5000 + "]" * 5000, "nest"),
    ("x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)), "nested more than"),
    ("a: " + "x" * 10_000_000, "MB, more than the 2 MB"),
    ("model: a\nmodel: b\n", "key 'model' is given twice (lines 1 and 2"),
    ("{a: 1, a: 2}\n", "key 'a' is given twice"),
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", "key 'b' is given twice (lines 2 and 4"),
])
def test_hostile_yaml_is_refused_quickly_with_the_file_named(text, expected):
    start = time.monotonic()
    with pytest.raises(ValidationError) as info:
        load_yaml(text, "prompts/x/prompt.yaml")
    assert time.monotonic() - start < 1.0
    message = info.value.one_line()
    assert message.startswith("prompts/x/prompt.yaml") and expected in message
    assert "\n" not in message


def test_merge_keys_and_modest_aliases_still_load():
    text = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\nlist: [*b, *b]\n"
    data = load_yaml(text, "f.yaml")
    assert data["d"] == {"x": 3, "y": 2} and data["list"] == [{"x": 1, "y": 2}] * 2


def test_key_lines_of_a_bomb_do_not_expand_it():
    start = time.monotonic()
    assert key_lines(LAUGHS) == {}
    assert time.monotonic() - start < 1.0
