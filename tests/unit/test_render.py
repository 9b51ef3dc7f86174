"""The renderer's whitespace rules: trim_blocks and lstrip_blocks, unlike Jinja2's defaults."""

from promptctl.model import InputSpec
from promptctl.render import CompiledPrompt

TEMPLATE = """\
Items:
  {% for item in items %}
  - {{ item }}
  {% endfor %}
{% if vip %}
Priority customer.
{% else %}
Standard customer.
{% endif %}
Done.
"""

# A block tag's line leaves nothing behind: no blank line, no indentation, and the final
# newline of the file is kept.
GOLDEN = """\
Items:
  - a
  - b
Priority customer.
Done.
"""


def render(template: str, **inputs) -> str:
    specs = {k: InputSpec(type="string") for k in inputs}
    return CompiledPrompt("t@1", {"t": template}, (("text", "t"),), specs).render(inputs)


def test_a_loop_and_a_condition_render_without_the_block_lines():
    assert render(TEMPLATE, items=["a", "b"], vip=True) == GOLDEN
    assert render(TEMPLATE, items=[], vip=False) == "Items:\nStandard customer.\nDone.\n"


def test_the_same_template_under_jinja_defaults_would_differ():
    import jinja2

    plain = jinja2.Environment(keep_trailing_newline=True).from_string(TEMPLATE)
    assert plain.render(items=["a", "b"], vip=True) != GOLDEN


def test_a_dotted_name_on_a_mapping_reads_its_item_unless_dict_has_that_attribute():
    from collections import OrderedDict

    import pytest

    from promptctl.errors import RenderError

    order = {"id": "A-1", "items": 3}
    assert render("{{ o.id }}/{{ o['items'] }}", o=order) == "A-1/3"
    # `items` is dict's method, as under Jinja: the attribute wins over the key
    assert render("{{ o.items is callable }}", o=order) == "True"
    assert render("{{ o.id }}", o=OrderedDict(id="B-2")) == "B-2"
    with pytest.raises(RenderError, match="has no attribute 'status'"):
        render("{{ o.status }}", o=order)
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ o.__class__ }}", o=order)
