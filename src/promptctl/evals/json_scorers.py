"""The scorers of structured answers: valid JSON, a JSON Schema, one JSON field, and the
tool calls a reply made."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .scoring import Context, Observation, Score, target


def parse_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("```"):   # models often fence JSON; the content is what counts
        text = re.sub(r"^```[a-zA-Z]*\n?|\n?```$", "", text).strip()
    return json.loads(text)


def json_valid(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    def score(obs: Observation) -> Score:
        try:
            parse_json(obs.output)
        except ValueError as exc:
            return 0.0, f"invalid JSON: {exc}"
        return 1.0, "valid JSON"
    return score


def json_schema(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    from .jsonschema import first_error

    schema = params.get("schema") or ctx.output_schema or {}

    def score(obs: Observation) -> Score:
        try:
            data = parse_json(obs.output)
        except ValueError as exc:
            return 0.0, f"invalid JSON: {exc}"
        error = first_error(data, schema)
        return (0.0, error) if error else (1.0, "matches schema")
    return score


def _expected_call(params: dict, obs: Observation) -> tuple[Any, Any]:
    """(tool name, arguments) wanted: the params, else the case's expected
    (`{name, arguments}` or just the name)."""
    expected = _mapping_text(obs.case.expected)
    name = params.get("name")
    arguments = params.get("arguments")
    if isinstance(expected, dict):
        name = name if name is not None else expected.get("name")
        arguments = arguments if arguments is not None else expected.get("arguments")
    elif name is None and expected is not None:
        name = str(expected)
    return name, arguments


def _mapping_text(value: Any) -> Any:
    """CSV datasets hold an expected mapping as JSON text."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _subset(want: Any, got: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in want.items())
    return want == got


def tool_call(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    from .jsonschema import first_error

    subset = params.get("match", "exact") == "subset"
    validate = params.get("schema", True)
    schemas = {t["name"]: t.get("parameters") or {} for t in ctx.tools}

    def score(obs: Observation) -> Score:
        if not obs.tool_calls:
            return 0.0, "no tool call"
        name, arguments = _expected_call(params, obs)
        calls = [c for c in obs.tool_calls if name is None or c.get("name") == name]
        if not calls:
            return 0.0, f"called {obs.tool_calls[0].get('name')!r}, expected {name!r}"
        call = calls[0]
        got = call.get("arguments")
        if not isinstance(got, dict):
            return 0.0, f"{call.get('name')}: arguments are not a JSON object: {str(got)[:60]!r}"
        if validate and call.get("name") in schemas:
            error = first_error(got, schemas[call["name"]])
            if error:
                return 0.0, f"{call['name']}: {error}"
        if arguments is not None:
            ok = _subset(arguments, got) if subset else arguments == got
            if not ok:
                return 0.0, f"{call['name']}: arguments {json.dumps(got)[:80]}"
        return 1.0, f"called {call.get('name')}"
    return score


_PATH_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def json_path(path: str) -> list[str | int]:
    """`$.order.items[0].id` (or `order.items.0.id`) as keys and indices."""
    text = path.strip().removeprefix("$")
    steps: list[str | int] = []
    for key, index in _PATH_STEP.findall(text):
        steps.append(int(index) if index else int(key) if key.isdigit() else key)
    return steps


def _lookup(data: Any, steps: list[str | int]) -> tuple[bool, Any]:
    for step in steps:
        if isinstance(step, int) and isinstance(data, list) and -len(data) <= step < len(data):
            data = data[step]
        elif isinstance(data, dict) and str(step) in data:
            data = data[str(step)]
        else:
            return False, None
    return True, data


def _same(got: Any, want: Any) -> bool:
    if got == want and isinstance(got, bool) == isinstance(want, bool):   # True is not 1
        return True
    # CSV datasets hold every expected value as text: 42 matches "42", true matches "true"
    return isinstance(want, str) and not isinstance(got, str) and json.dumps(got) == want


def json_field(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    path = str(params["path"])
    steps = json_path(path)

    def score(obs: Observation) -> Score:
        if not obs.output.strip() and obs.tool_calls:
            data = obs.tool_calls[0].get("arguments")   # a tool call's arguments are its answer
        else:
            try:
                data = parse_json(obs.output)
            except ValueError as exc:
                return 0.0, f"invalid JSON: {exc}"
        found, value = _lookup(data, steps)
        if not found:
            return 0.0, f"no {path}"
        want = target(params, obs)
        if "value" not in params:
            want = _mapping_text(want)
        if "value" not in params and isinstance(want, dict):
            # an expected mapping holds the wanted value at the same path
            found_there, there = _lookup(want, steps)
            want = there if found_there else want
        if _same(value, want):
            return 1.0, f"{path} matches"
        return 0.0, f"{path} is {json.dumps(value)[:40]}, expected {json.dumps(want)[:40]}"
    return score

