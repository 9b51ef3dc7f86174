"""The scorers by name: each one's factory and the params it takes, the load-time check
of a metric's params, and building the scorer of a metric."""

from __future__ import annotations

import re
from typing import Callable

from .json_scorers import json_field, json_path, json_schema, json_valid, tool_call
from .python_scorer import python
from .scoring import Context, Observation, Score, as_list
from .text_scorers import contains, cost, exact, latency, length, refusal, regex, similarity

Factory = Callable[[dict, Context], Callable[[Observation], Score]]

# name -> (factory, allowed params, required params); llm_judge has no factory, as the
# engine asks the judge model itself
SCORERS: dict[str, tuple[Factory | None, set[str] | None, set[str]]] = {
    "exact": (exact, {"value", "strip", "ignore_case"}, set()),
    "contains": (contains(False, False), {"value", "values", "mode", "ignore_case"}, set()),
    "icontains": (contains(True, False), {"value", "values", "mode"}, set()),
    "not_contains": (contains(True, True), {"value", "values", "ignore_case"}, set()),
    "regex": (regex, {"pattern", "ignore_case", "full"}, set()),
    "json_valid": (json_valid, set(), set()),
    "json_schema": (json_schema, {"schema"}, set()),
    "json_field": (json_field, {"path", "value"}, {"path"}),
    "tool_call": (tool_call, {"name", "arguments", "match", "schema"}, set()),
    "refusal": (refusal, {"patterns"}, set()),
    "length": (length, {"min", "max", "unit"}, set()),
    "latency": (latency, {"max_ms"}, set()),
    "cost": (cost, {"max"}, set()),
    "similarity": (similarity, {"value", "method"}, set()),
    "llm_judge": (None, {"rubric", "scale", "provider", "model"}, {"rubric"}),
    "python": (python, None, {"function"}),   # None: any extra params go to the function
}


def check_params(metric) -> str | None:
    """A one-line complaint about a metric's params, or None when they fit the scorer."""
    _, allowed, required = SCORERS[metric.type]
    given = set(metric.params)
    if metric.type == "not_contains" and not given & {"value", "values"}:
        return "scorer 'not_contains' needs `value` (a string or a list)"
    missing = required - given
    if missing:
        return f"scorer {metric.type!r} needs `{sorted(missing)[0]}`"
    if allowed is not None and given - allowed:
        unknown = sorted(given - allowed)[0]
        return (f"scorer {metric.type!r} has no param `{unknown}` (known: "
                f"{', '.join(sorted(allowed)) or 'none'})")
    if metric.type == "similarity" and metric.params.get("method", "tokens") not in ("tokens", "chars"):
        return "similarity `method` is tokens or chars"
    return _check_values(metric.type, metric.params)


_NUMBERS = {"length": ("min", "max"), "latency": ("max_ms",), "cost": ("max",)}
_CHOICES = {("length", "unit"): ("chars", "words"), ("contains", "mode"): ("all", "any"),
            ("icontains", "mode"): ("all", "any"), ("tool_call", "match"): ("exact", "subset")}


def _check_values(kind: str, params: dict) -> str | None:
    """Bad param values fail at load time (exit 2), not as a score of 0 on every case."""
    for key in _NUMBERS.get(kind, ()):
        value = params.get(key)
        if key in params and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{kind} `{key}` must be a number, not {value!r}"
    for (owner, key), allowed in _CHOICES.items():
        if owner == kind and key in params and params[key] not in allowed:
            return f"{kind} `{key}` is {' or '.join(allowed)}, not {params[key]!r}"
    for pattern in _fixed_patterns(kind, params):
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            return f"{kind} pattern {pattern!r} does not compile: {exc}"
    if kind == "json_field" and not (isinstance(params["path"], str) and json_path(params["path"])):
        return f"json_field `path` must be a JSON path such as $.order.id, not {params['path']!r}"
    if kind == "tool_call" and "arguments" in params and not isinstance(params["arguments"], dict):
        return "tool_call `arguments` must be a mapping of the expected arguments"
    if kind == "json_schema" and "schema" in params and not isinstance(params["schema"], dict):
        return "json_schema `schema` must be a mapping (a JSON Schema object)"
    if kind == "llm_judge" and "scale" in params:
        scale = params["scale"]
        if not (isinstance(scale, list) and len(scale) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
                and scale[0] < scale[1]):
            return f"llm_judge `scale` must be [low, high] with low < high, not {scale!r}"
    return None


def _fixed_patterns(kind: str, params: dict) -> list:
    if kind == "regex" and "pattern" in params:
        return [params["pattern"]]
    if kind == "refusal":
        return as_list(params.get("patterns"))
    return []


def build(metric, ctx: Context) -> Callable[[Observation], Score]:
    from ..errors import PromptctlError

    factory = SCORERS[metric.type][0]
    if factory is None:
        raise PromptctlError(f"scorer {metric.type!r} is scored by the judge model, not built",
                             field=metric.name)
    try:
        return factory(metric.params, ctx)
    except PromptctlError as exc:
        field = f"{metric.name}.{exc.field}" if exc.field else metric.name
        raise exc.reworded(field=field) from exc

