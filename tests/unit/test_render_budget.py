"""Renders are bounded: size-multiplying operations are refused before they allocate."""

import time

import pytest

from promptctl.errors import RenderError
from promptctl.model import Body
from promptctl.render import CompiledPrompt
from promptctl.render_limits import MAX_RENDER_CHARS, deadline


def render(source: str, **inputs):
    return CompiledPrompt("p@1.0.0", {"t": source}, (Body("text", "t"),), {}).render(inputs)


@pytest.mark.parametrize("source,needle", [
    ("{{ 'a' * 1000000000 }}", "repeating"),
    ("{{ [1] * 1000000000 }}", "repeating"),
    ("{{ ('a' * 1000000) | wordwrap(1) }}", "wordwrap"),
    ("{{ 'a' | center(1000000000) }}", "center"),
    ("{{ 'a' | indent(1000000000) }}", "indent"),
    ("{{ '%0999999999d' | format(1) }}", "format width"),
    ("{{ '%*d' | format(5, 1) }}", "format width"),
    ("{{ '{:>999999999}'.format('a') }}", "format width"),
    ("{{ 'a'.rjust(1000000000) }}", "rjust"),
    ("{{ ('a' * 100000) | replace('a', 'b' * 1000) }}", "replace"),
    ("{{ ('x' * 100000).join(range(10000)|map('string')) }}", "join"),
    ("{{ 7 ** 100000000 }}", "too large a number"),
    ("{% for i in range(1000000) %}{% endfor %}", "range"),
    ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('a', 40) }}",
     "an argument"),
    ("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", "rendered output"),
])
def test_budget_breaks_are_render_errors_within_a_second(source, needle):
    start = time.monotonic()
    with pytest.raises(RenderError) as info:
        render(source)
    assert time.monotonic() - start < 1.0
    assert "p@1.0.0: blocked by the sandbox" in info.value.message and needle in info.value.message


def test_a_deadline_stops_a_loop_that_produces_nothing():
    start = time.monotonic()
    with deadline(0.3), pytest.raises(RenderError, match="longer than 0.3s"):
        render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert time.monotonic() - start < 1.0


def test_ordinary_templates_render_as_before():
    out = render("{{ name | center(9) }}|{{ 'x' * 3 }}|{{ items | join(', ') }}|"
                 "{{ '%05.1f' | format(3.14159) }}|{{ '{:>4}'.format(n) }}|{{ text | wordwrap(6) }}|"
                 "{{ 2 ** 10 }}|{{ text | replace('b', 'B') }}",
                 name="ann", items=["a", "b"], n=7, text="abc def ghi")
    assert out == "   ann   |xxx|a, b|003.1|   7|abc\ndef\nghi|1024|aBc def ghi"
    assert len(render("{{ 'a' * n }}", n=MAX_RENDER_CHARS)) == MAX_RENDER_CHARS


def test_the_sandbox_still_guards_attributes_through_the_wrapped_filters():
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ [1] | join(attribute='__class__') }}")
