"""Scorers on known inputs: each returns a score in [0, 1] and a reason."""

from __future__ import annotations

import pytest

from promptctl.evals import scorers
from promptctl.evals.datasets import Case
from promptctl.evals.judge import judge_messages, parse_judge
from promptctl.evals.scoring import Context, Observation
from promptctl.evals.suite import MetricSpec


def score(kind: str, output: str, expected=None, latency_ms=0.0, cost=0.0, **params):
    metric = MetricSpec.model_validate({"type": kind, **params})
    assert scorers.check_params(metric) is None
    fn = scorers.build(metric, Context(output_schema={"type": "object",
                                                   "required": ["label"]}))
    value, reason = fn(Observation(output, Case("c1", {}, expected), latency_ms, cost))
    assert 0.0 <= value <= 1.0 and isinstance(reason, str)
    return value, reason


@pytest.mark.parametrize("kind,output,expected,params,want", [
    ("exact", " Paris \n", "Paris", {}, 1.0),
    ("exact", "paris", "Paris", {}, 0.0),
    ("exact", "paris", "Paris", {"ignore_case": True}, 1.0),
    ("contains", "The capital is Paris.", "Paris", {}, 1.0),
    ("contains", "The capital is paris.", "Paris", {}, 0.0),
    ("contains", "a b", None, {"value": ["a", "z"], "mode": "any"}, 1.0),
    ("contains", "a b", None, {"value": ["a", "z"]}, 0.0),
    ("icontains", "THE CAPITAL IS PARIS", "paris", {}, 1.0),
    ("not_contains", "We will refund you.", None, {"value": ["we will refund"]}, 0.0),
    ("not_contains", "Let me check the order.", None, {"values": ["we will refund"]}, 1.0),
    ("regex", "Order #12345 shipped", None, {"pattern": r"#\d{5}\b"}, 1.0),
    ("regex", "Order shipped", r"#\d+", {}, 0.0),
    ("json_valid", '```json\n{"a": 1}\n```', None, {}, 1.0),
    ("json_valid", "{a: 1}", None, {}, 0.0),
    ("json_schema", '{"label": "bug"}', None, {}, 1.0),
    ("json_schema", '{"x": 1}', None, {}, 0.0),
    ("json_schema", '{"label": "x"}', None,
     {"schema": {"properties": {"label": {"enum": ["bug", "billing"]}}}}, 0.0),
    ("refusal", "I'm sorry, but I can't help with that.", None, {}, 1.0),
    ("refusal", "Your order ships tomorrow.", None, {}, 0.0),
    ("length", "one two three", None, {"max": 2, "unit": "words"}, 0.0),
    ("length", "short", None, {"min": 1, "max": 10}, 1.0),
    ("similarity", "the cat sat", "the cat sat", {}, 1.0),
    ("similarity", "completely different", "the cat sat", {}, 0.0),
])
def test_scorers_on_known_inputs(kind, output, expected, params, want):
    assert score(kind, output, expected, **params)[0] == want


def test_similarity_is_graded_and_char_method_works():
    value, _ = score("similarity", "the cat sat on a mat", "the cat sat on the mat")
    assert 0.7 < value < 1.0
    value, _ = score("similarity", "colour", "color", method="chars")
    assert 0.8 < value < 1.0


def test_latency_and_cost_budgets():
    assert score("latency", "x", latency_ms=150, max_ms=200)[0] == 1.0
    assert score("latency", "x", latency_ms=250, max_ms=200)[0] == 0.0
    assert score("cost", "x", cost=0.02, max=0.01) == (0.0, "$0.020000")


def test_reasons_explain_failures():
    assert "missing 'refund'" in score("contains", "no", None, value="refund")[1]
    assert "expected 'Paris', got 'Rome'" in score("exact", "Rome", "Paris")[1]


def test_python_scorer_loads_from_repo(tmp_path, monkeypatch):
    (tmp_path / "my_scorers.py").write_text(
        "def polite(output, case, word='please'):\n"
        "    return (1.0 if word in output else 0.2), f'looked for {word}'\n")
    metric = MetricSpec.model_validate({"type": "python", "function": "my_scorers:polite",
                                        "word": "thanks"})
    fn = scorers.build(metric, Context(root=tmp_path))
    assert fn(Observation("thanks!", Case("c", {}))) == (1.0, "looked for thanks")
    assert fn(Observation("no", Case("c", {}))) == (0.2, "looked for thanks")


@pytest.mark.parametrize("spec,message", [
    ({"type": "contains", "valu": "x"}, "has no param `valu`"),
    ({"type": "not_contains"}, "needs `value`"),
    ({"type": "llm_judge"}, "needs `rubric`"),
    ({"type": "similarity", "method": "cosine"}, "tokens or chars"),
])
def test_bad_params_are_named(spec, message):
    assert message in scorers.check_params(MetricSpec.model_validate(spec))


def test_judge_reply_is_scaled_and_reason_kept():
    metric = MetricSpec.model_validate({"type": "llm_judge", "rubric": "Is it polite?",
                                        "scale": [1, 5]})
    assert parse_judge(metric, 'Sure: {"score": 4, "reason": "mostly polite"}') == \
        (0.75, "mostly polite")
    assert parse_judge(metric, "5") == (1.0, "5")
    with pytest.raises(ValueError):
        parse_judge(metric, "no idea")
    messages = judge_messages(metric, Observation("hi", Case("c", {"q": "x"}, "ref")))
    assert "Is it polite?" in messages[0]["content"] and "Reference answer:\nref" in messages[0]["content"]


def test_params_may_read_case_fields():
    metric = MetricSpec.model_validate({"type": "contains", "value": "{{ expected }}-{{ inputs.n }}"})
    fn = scorers.build(metric, Context())
    assert fn(Observation("label: bug-2", Case("c", {"n": 2}, "bug")))[0] == 1.0
    assert fn(Observation("label: bug-3", Case("c", {"n": 2}, "bug")))[0] == 0.0


@pytest.mark.parametrize("reply,score", [("Score: 4", 0.75), ("4/5", 0.75), ("I give it 3 out of 5", 0.5),
                                         ("Step 1: the tone is fine", None),
                                         ('Reply with JSON only: {"score": <number from 1 to 5>}', None)])
def test_a_judge_reply_without_json_needs_an_explicit_score(reply, score):
    # The first number anywhere (a list item, or the judge prompt echoed back by an offline
    # provider) is not a grade: it is an error, never a silent score.
    metric = MetricSpec.model_validate({"type": "llm_judge", "rubric": "Polite?", "scale": [1, 5]})
    if score is None:
        with pytest.raises(ValueError, match="judge reply has no score"):
            parse_judge(metric, reply)
    else:
        assert parse_judge(metric, reply)[0] == score


@pytest.mark.parametrize("reply", ['{"score": 7}', '{"score": 0}', "Score: 9", '{"score": "nan"}'])
def test_an_out_of_range_judge_score_is_an_error_not_a_clamped_grade(reply):
    metric = MetricSpec.model_validate({"type": "llm_judge", "rubric": "Polite?", "scale": [1, 5]})
    with pytest.raises(ValueError, match="outside the scale"):
        parse_judge(metric, reply)
