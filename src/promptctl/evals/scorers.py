"""Scorers: each turns one answer into a score in [0, 1] and a short reason.

A scorer is built once per metric from its params and called once per case, so
anything expensive (regex compilation, imports) happens at build time.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from .datasets import Case

Score = tuple[float, str]

REFUSAL_PATTERNS = (
    r"\bI(?:'m| am) (?:sorry|afraid)\b", r"\bI can(?:'|no)t\b", r"\bI cannot\b",
    r"\bI(?:'m| am) (?:not able|unable) to\b", r"\bI won'?t be able to\b",
    r"\bas an AI\b", r"\bI must decline\b", r"\bnot (?:able|allowed) to (?:help|assist)\b",
)


@dataclass(frozen=True)
class Observation:
    """What a scorer may look at: the answer, the case and the call's measurements."""

    output: str
    case: Case
    latency_ms: float = 0.0
    cost: float = 0.0
    tokens_out: int = 0
    tool_calls: tuple[dict, ...] = ()   # {id, name, arguments} of a reply that called tools


@dataclass(frozen=True)
class Context:
    root: Any = None                 # repo root, for `python` scorers
    output_schema: dict | None = None
    tools: tuple[dict, ...] = ()     # the prompt's declared tools, for argument schemas


def _target(params: dict, obs: Observation) -> Any:
    for key in ("value", "values"):
        if key in params:
            value = params[key]
            if isinstance(value, str) and "{{" in value:
                return _case_template(value).render(expected=obs.case.expected,
                                                    inputs=obs.case.inputs,
                                                    metadata=obs.case.metadata)
            return value
    return obs.case.expected


@functools.lru_cache(maxsize=256)
def _case_template(source: str):
    """`value: "{{ expected }}"` reads per-case fields; compiled once per distinct text."""
    from ..render import make_environment
    return make_environment({}).from_string(source)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def exact(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    strip, fold = params.get("strip", True), params.get("ignore_case", False)

    def norm(text: str) -> str:
        text = text.strip() if strip else text
        return text.casefold() if fold else text

    def score(obs: Observation) -> Score:
        want = _target(params, obs)
        if want is None:
            return 0.0, "no expected value"
        ok = norm(obs.output) == norm(str(want))
        if ok:
            return 1.0, "matches"
        return 0.0, f"expected {str(want)[:60]!r}, got {_excerpt(obs.output)!r}"
    return score


def _contains(fold: bool, negate: bool) -> Callable:
    def factory(params: dict, ctx: Context) -> Callable[[Observation], Score]:
        mode = params.get("mode", "all")
        fold_here = params.get("ignore_case", fold)

        def score(obs: Observation) -> Score:
            needles = _as_list(_target(params, obs))
            if not needles:
                return 0.0, "nothing to look for"
            hay = obs.output.casefold() if fold_here else obs.output
            found = [n for n in needles if (n.casefold() if fold_here else n) in hay]
            if negate:
                return (0.0, f"contains {found[0]!r}") if found else (1.0, "none found")
            ok = bool(found) if mode == "any" else len(found) == len(needles)
            missing = [n for n in needles if n not in found]
            return (1.0, "found") if ok else (0.0, f"missing {missing[0]!r}")
        return score
    return factory


def regex(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    flags = re.IGNORECASE if params.get("ignore_case") else 0
    fixed = re.compile(params["pattern"], flags) if "pattern" in params else None
    full = params.get("full", False)

    def score(obs: Observation) -> Score:
        pattern = fixed or re.compile(str(obs.case.expected), flags)
        found = pattern.fullmatch(obs.output.strip()) if full else pattern.search(obs.output)
        return (1.0, "matches") if found else (0.0, f"no match for /{pattern.pattern[:40]}/")
    return score


def _parse_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("```"):   # models often fence JSON; the content is what counts
        text = re.sub(r"^```[a-zA-Z]*\n?|\n?```$", "", text).strip()
    return json.loads(text)


def json_valid(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    def score(obs: Observation) -> Score:
        try:
            _parse_json(obs.output)
        except ValueError as exc:
            return 0.0, f"invalid JSON: {exc}"
        return 1.0, "valid JSON"
    return score


def json_schema(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    from .jsonschema import first_error

    schema = params.get("schema") or ctx.output_schema or {}

    def score(obs: Observation) -> Score:
        try:
            data = _parse_json(obs.output)
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
                data = _parse_json(obs.output)
            except ValueError as exc:
                return 0.0, f"invalid JSON: {exc}"
        found, value = _lookup(data, steps)
        if not found:
            return 0.0, f"no {path}"
        want = _target(params, obs)
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


def refusal(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    pattern = re.compile("|".join([*REFUSAL_PATTERNS, *_as_list(params.get("patterns"))]),
                         re.IGNORECASE)

    def score(obs: Observation) -> Score:
        found = pattern.search(obs.output)
        return (1.0, f"refusal: {found[0]!r}") if found else (0.0, "answered")
    return score


def length(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    low, high = params.get("min", 0), params.get("max", float("inf"))
    words = params.get("unit", "chars") == "words"

    def score(obs: Observation) -> Score:
        size = len(obs.output.split()) if words else len(obs.output)
        ok = low <= size <= high
        return (1.0 if ok else 0.0), f"{size} {'words' if words else 'chars'}"
    return score


def latency(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    limit = float(params.get("max_ms", 2000))

    def score(obs: Observation) -> Score:
        return (1.0 if obs.latency_ms <= limit else 0.0), f"{obs.latency_ms:.0f} ms"
    return score


def cost(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    limit = float(params.get("max", 0.01))

    def score(obs: Observation) -> Score:
        return (1.0 if obs.cost <= limit else 0.0), f"${obs.cost:.6f}"
    return score


def similarity(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    method = params.get("method", "tokens")

    def score(obs: Observation) -> Score:
        want = _target(params, obs)
        if want is None:
            return 0.0, "no expected value"
        a, b = obs.output.strip().casefold(), str(want).strip().casefold()
        if method == "chars":
            value = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
        else:
            value = _token_f1(a.split(), b.split())
        return round(value, 6), f"{method} similarity {value:.2f}"
    return score


def _token_f1(got: list[str], want: list[str]) -> float:
    if not got or not want:
        return float(got == want)
    counts: dict[str, int] = {}
    for token in want:
        counts[token] = counts.get(token, 0) + 1
    common = 0
    for token in got:
        if counts.get(token, 0) > 0:
            counts[token] -= 1
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def python(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    from ..providers.python import load_callable

    func = load_callable(params["function"], ctx.root, "function")
    options = {k: v for k, v in params.items() if k != "function"}

    def score(obs: Observation) -> Score:
        result = func(obs.output, obs.case, **options)
        if isinstance(result, dict):
            value, reason = result.get("score", 0.0), str(result.get("reason", ""))
        elif isinstance(result, tuple):
            value, reason = result[0], str(result[1])
        else:
            value, reason = result, ""
        value = float(value)
        if value != value:   # NaN would silently clamp to 0 and hide the function's bug
            raise ValueError("returned NaN")
        return min(1.0, max(0.0, value)), reason
    return score


Factory = Callable[[dict, Context], Callable[[Observation], Score]]

# name -> (factory, allowed params, required params); llm_judge has no factory, as the
# engine asks the judge model itself
SCORERS: dict[str, tuple[Factory | None, set[str] | None, set[str]]] = {
    "exact": (exact, {"value", "strip", "ignore_case"}, set()),
    "contains": (_contains(False, False), {"value", "values", "mode", "ignore_case"}, set()),
    "icontains": (_contains(True, False), {"value", "values", "mode"}, set()),
    "not_contains": (_contains(True, True), {"value", "values", "ignore_case"}, set()),
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
        return _as_list(params.get("patterns"))
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
        data = _parse_json(text[text.find("{"):text.rfind("}") + 1] if "{" in text else text)
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
