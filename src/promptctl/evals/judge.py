"""`llm_judge`: the prompt that asks the judge model to grade an answer on a rubric, and
the grade read back from its reply."""

from __future__ import annotations

import json
import re

from .json_scorers import parse_json
from .scoring import Observation, Score


JUDGE_TEMPLATE = """You are grading an AI assistant's answer against a rubric.

Rubric:
{rubric}

Input given to the assistant:
{inputs}
{expected}
Answer to grade:
<<<
{output}
>>>

Reply with JSON only: {{"score": <number from {low} to {high}>, "reason": "<one sentence>"}}"""


def judge_messages(metric, obs: Observation) -> list[dict[str, str]]:
    low, high = _scale(metric)
    expected = "" if obs.case.expected is None else f"Reference answer:\n{obs.case.expected}\n"
    calls = [f"(called {c.get('name')} with {json.dumps(c.get('arguments'), ensure_ascii=False)})"
             for c in obs.tool_calls]   # a tool-call reply is graded on its calls
    text = JUDGE_TEMPLATE.format(rubric=metric.params["rubric"],
                                 inputs=json.dumps(obs.case.inputs, ensure_ascii=False),
                                 expected=expected,
                                 output="\n".join([obs.output, *calls]).strip() if calls else obs.output,
                                 low=low, high=high)
    return [{"role": "user", "content": text}]


def parse_judge(metric, text: str) -> Score:
    """The judge's score scaled to [0, 1], with its reason kept."""
    low, high = _scale(metric)
    try:
        data = parse_json(text[text.find("{"):text.rfind("}") + 1] if "{" in text else text)
        raw = float(data["score"])
        reason = str(data.get("reason", ""))
    except (ValueError, KeyError, TypeError):
        # Without JSON, accept only an explicit score ("4", "Score: 4", "4/5", "4 out of 5"):
        # the first number anywhere (a list item, the rubric echoed back) is not a grade.
        match = _JUDGE_SCORE.search(text)
        if not match:
            raise ValueError(f"judge reply has no score: {text[:80]!r}") from None
        raw = float(next(group for group in match.groups() if group is not None))
        reason = text.strip()[:200]
    if raw != raw or not low <= raw <= high:
        # Clamping would turn a confused judge into a confident grade.
        raise ValueError(f"judge score {raw:g} is outside the scale [{low:g}, {high:g}]")
    value = (raw - low) / (high - low) if high > low else raw
    return value, reason


_NUM = r"(-?\d+(?:\.\d+)?)"
_JUDGE_SCORE = re.compile(rf"^\s*{_NUM}\s*$|\bscore\b\W{{0,3}}{_NUM}|{_NUM}\s*(?:/|out of)\s*\d",
                          re.IGNORECASE)


def _scale(metric) -> tuple[float, float]:
    scale = metric.params.get("scale", [0, 1])
    return float(scale[0]), float(scale[1])
