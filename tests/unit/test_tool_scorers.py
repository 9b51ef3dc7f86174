"""tool_call and json_field scorers, and the payload translation they rely on."""

from __future__ import annotations

import pytest

from promptctl import payloads
from promptctl.evals import scorers
from promptctl.evals.datasets import Case
from promptctl.evals.judge import judge_messages
from promptctl.evals.scoring import Context, Observation
from promptctl.evals.suite import MetricSpec

TOOLS = ({"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
    "required": ["order_id"]}},)


def score(kind, output="", calls=(), expected=None, **params):
    metric = MetricSpec.model_validate({"type": kind, **params})
    assert scorers.check_params(metric) is None
    fn = scorers.build(metric, Context(tools=TOOLS))
    return fn(Observation(output, Case("c", {}, expected), tool_calls=tuple(calls)))


def call(name="lookup_order", **arguments):
    return {"id": "c1", "name": name, "arguments": arguments}


@pytest.mark.parametrize("calls,expected,params,want", [
    ([call(order_id="A")], {"name": "lookup_order", "arguments": {"order_id": "A"}}, {}, 1.0),
    ([call(order_id="A", verbose=True)], {"name": "lookup_order", "arguments": {"order_id": "A"}}, {}, 0.0),
    ([call(order_id="A", verbose=True)], {"name": "lookup_order", "arguments": {"order_id": "A"}},
     {"match": "subset"}, 1.0),
    ([call(order_id="A")], "lookup_order", {}, 1.0),                 # the name only
    ([call(order_id="A")], '{"name": "lookup_order", "arguments": {"order_id": "B"}}', {}, 0.0),  # CSV
    ([call("refund"), call(order_id="A")], None, {"name": "lookup_order"}, 1.0),
    ([call(order_id=7)], "lookup_order", {}, 0.0),                   # breaks the tool's schema
    ([call(order_id=7)], "lookup_order", {"schema": False}, 1.0),
    ([], "lookup_order", {}, 0.0),
    ([call()], None, {"arguments": {"order_id": "A"}}, 0.0),
])
def test_tool_call(calls, expected, params, want):
    assert score("tool_call", calls=calls, expected=expected, **params)[0] == want


@pytest.mark.parametrize("output,calls,expected,params,want", [
    ('{"order": {"items": [{"id": 7}]}}', (), 7, {"path": "$.order.items[0].id"}, 1.0),
    ('{"order": {"items": [{"id": 7}]}}', (), "7", {"path": "order.items.0.id"}, 1.0),   # CSV text
    ('{"ok": true}', (), 1, {"path": "$.ok"}, 0.0),                                       # True is not 1
    ('{"status": "open"}', (), {"status": "open", "other": 1}, {"path": "$.status"}, 1.0),
    ('{"status": "open"}', (), None, {"path": "$.status", "value": "open"}, 1.0),
    ('{"status": "open"}', (), None, {"path": "$.missing", "value": "open"}, 0.0),
    ("not json", (), "x", {"path": "$.a"}, 0.0),
    ("", (call(order_id="A"),), "A", {"path": "$.order_id"}, 1.0),   # a tool call's arguments
])
def test_json_field(output, calls, expected, params, want):
    assert score("json_field", output, calls, expected, **params)[0] == want


@pytest.mark.parametrize("params,problem", [
    ({"type": "json_field"}, "needs `path`"),
    ({"type": "json_field", "path": "$"}, "must be a JSON path"),
    ({"type": "tool_call", "match": "some"}, "tool_call `match` is exact or subset"),
    ({"type": "tool_call", "arguments": "x"}, "`arguments` must be a mapping"),
])
def test_bad_params(params, problem):
    assert problem in scorers.check_params(MetricSpec.model_validate(params))


def test_sdk_kwargs_moves_unknown_params_to_extra_body():
    body = payloads.anthropic_body("m", [{"role": "user", "content": "hi"}],
                                   {"temperature": 0.2, "top_k": 5, "max_tokens": 50})
    kwargs = payloads.sdk_kwargs(body, payloads.ANTHROPIC_KEYWORDS)
    assert kwargs["max_tokens"] == 50 and kwargs["extra_body"] == {"temperature": 0.2, "top_k": 5}
    plain = payloads.sdk_kwargs(payloads.openai_body("m", [], {"temperature": 0}), payloads.OPENAI_KEYWORDS)
    assert "extra_body" not in plain


def test_anthropic_developer_messages_join_the_system_prompt_and_data_urls_inline():
    body = payloads.anthropic_body("m", [
        {"role": "system", "content": "A."}, {"role": "developer", "content": "B."},
        {"role": "user", "content": [{"type": "image_url",
                                      "image_url": {"url": "data:image/png;base64,iVBO"}}]}], {})
    assert body["system"] == "A.\n\nB."
    assert body["messages"][0]["content"][0]["source"] == {
        "type": "base64", "media_type": "image/png", "data": "iVBO"}


def test_params_in_the_prompt_win_over_the_derived_fields():
    body = payloads.openai_body("m", [], {"response_format": {"type": "text"}},
                                output={"format": "json", "schema": {"type": "object"}})
    assert body["response_format"] == {"type": "text"}


def test_a_judge_grades_a_tool_call_reply_on_its_calls():
    metric = MetricSpec.model_validate({"type": "llm_judge", "rubric": "right tool?"})
    obs = Observation("", Case("c", {}), tool_calls=(call(order_id="A"),))
    text = judge_messages(metric, obs)[0]["content"]
    assert '(called lookup_order with {"order_id": "A"})' in text
    plain = judge_messages(metric, Observation(" hi \n", Case("c", {})))[0]["content"]
    assert "<<<\n hi \n\n>>>" in plain   # text answers are graded exactly as before
