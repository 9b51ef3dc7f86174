"""`evals/<name>/suite.yaml`: what to run, how to score it, and which gates must hold."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import Problem, ValidationError
from ..model import StrictModel
from ..yamlfile import key_lines, parse_model

SUITE_FILE = "suite.yaml"
GATE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(>=|<=|>|<|==)\s*(-?[0-9.]+)\s*$")
BUILTIN_METRICS = ("error_rate", "pass_rate")
LOWER_IS_BETTER = {"refusal", "length_chars", "error_rate"}


class MetricSpec(StrictModel):
    """One scorer applied to every case. Keys other than the fixed ones are scorer params."""

    name: str = ""
    type: str
    weight: float = Field(default=1.0, ge=0)
    threshold: float = Field(default=0.5, ge=0, le=1)   # a case passes this metric when its score >= threshold
    direction: Literal["higher", "lower"] = "higher"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _fold_params(cls, value: Any) -> Any:
        # `{type: contains, value: refund}` reads better than nesting under `params:`.
        if not isinstance(value, dict):
            return value
        fixed = {"name", "type", "weight", "threshold", "direction", "params"}
        kept = {k: v for k, v in value.items() if k in fixed}
        extra = {k: v for k, v in value.items() if k not in fixed}
        if extra:
            params = value.get("params")
            kept["params"] = {**(params if isinstance(params, dict) else {}), **extra}
        kind = kept.get("type")
        if isinstance(kind, str):
            kept.setdefault("name", kind)
            kept.setdefault("direction", "lower" if kind in LOWER_IS_BETTER else "higher")
        return kept


class Gate(StrictModel):
    metric: str
    op: Literal[">=", "<=", ">", "<", "=="]
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def holds(self, observed: float) -> bool:
        return {">=": observed >= self.value, "<=": observed <= self.value,
                ">": observed > self.value, "<": observed < self.value,
                "==": observed == self.value}[self.op]


class BaselinePolicy(StrictModel):
    tolerance: float = Field(default=0.02, ge=0, le=1)   # drops at or below this never count
    alpha: float = Field(default=0.05, gt=0, lt=1)       # significance level of the paired test
    resamples: int = Field(default=2000, ge=100)


class JudgeSpec(StrictModel):
    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Suite(StrictModel):
    dataset: str | list[str]
    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    metrics: list[MetricSpec] = Field(default_factory=lambda: [MetricSpec(type="exact")])
    gates: list[str] = Field(default_factory=list)
    repeat: int = Field(1, ge=1, le=100)
    concurrency: int = Field(8, ge=1, le=512)
    timeout: float = Field(60.0, gt=0)   # seconds for a whole attempt, not per read
    max_response_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    retries: int = Field(3, ge=0, le=10)
    rpm: float | None = Field(None, gt=0)
    max_errors: int = Field(0, ge=0)
    baseline: BaselinePolicy = Field(default_factory=BaselinePolicy)
    judge: JudgeSpec = Field(default_factory=JudgeSpec)
    # --require-eval: may a run with an offline provider (echo, python:) vouch for a prompt
    # served by a model API? Off unless said here: such a run proves nothing about the model.
    accept_offline_runs: bool = False

    @field_validator("dataset")
    @classmethod
    def _datasets(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one dataset file")
        return value

    @field_validator("gates")
    @classmethod
    def _some_gates(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("an empty list gates nothing (add one, e.g. `pass_rate >= 0.9`, "
                             "or leave `gates` out)")
        return value

    @field_validator("metrics")
    @classmethod
    def _unique(cls, value: list[MetricSpec]) -> list[MetricSpec]:
        if not value:
            raise ValueError("give at least one metric (or leave `metrics` out for `exact`)")
        names = [m.name for m in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"metric name {name!r} is used twice; give each a `name`")
            if name in BUILTIN_METRICS:
                raise ValueError(f"{name!r} is a built-in metric; choose another name")
        return value

    @property
    def datasets(self) -> list[str]:
        return [self.dataset] if isinstance(self.dataset, str) else list(self.dataset)

    def parsed_gates(self) -> list[Gate]:
        return [parse_gate(g) for g in self.gates]


def parse_gate(text: str) -> Gate:
    match = GATE_RE.match(text)
    if not match:
        raise ValueError(f"gate {text!r} is not `metric OP number`")
    # validated, not constructed: GATE_RE admits exactly the operators `op` allows
    return Gate.model_validate({"metric": match[1], "op": match[2], "value": float(match[3])})


def parse_suite(text: str, file: str) -> Suite:
    """Validate a suite file; gates must name known metrics and scorers must exist.

    Every problem is reported at once: a schema error does not hide a bad gate."""
    from ..safeyaml import load_yaml

    try:
        suite: Suite = parse_model(Suite, text, file)
    except ValidationError as exc:
        data = load_yaml(text, file)
        raw = data if isinstance(data, dict) else {}
        raise ValidationError(problems=[*exc.problems, *_raw_problems(raw, text, file)]) from exc
    problems = _raw_problems(suite.model_dump(), text, file, typed=suite)
    if problems:
        raise ValidationError(problems=problems)
    return suite


def _raw_problems(data: dict, text: str, file: str, typed: Suite | None = None) -> list[Problem]:
    """Gates and scorer types, checked on the validated suite or, when it failed, its raw data."""
    from ..wording import did_you_mean
    from .scorers import SCORERS, check_params

    lines = key_lines(text)
    problems = []
    metrics = _list(data, "metrics")
    if typed is None and "metrics" not in data:
        metrics = [{"type": "exact", "name": "exact"}]
    named = {(m.get("name") or m.get("type")) for m in metrics if isinstance(m, dict)}
    names = {n for n in named if isinstance(n, str)} | set(BUILTIN_METRICS)
    for i, gate in enumerate(_list(data, "gates")):
        if not isinstance(gate, str):
            continue   # the schema reported it
        line, field = lines.get(("gates", i)), f"gates.{i}"
        try:
            parsed = parse_gate(gate)
        except ValueError as exc:
            problems.append(Problem(file, str(exc), line=line, field=field))
            continue
        if parsed.metric not in names and not _k_of_n_known(parsed.metric, names):
            guess = did_you_mean(parsed.metric, names)
            hint = f"did you mean {guess!r}? known: " if guess else "known: "
            problems.append(Problem(file, f"unknown metric {parsed.metric!r} ({hint}"
                                          f"{', '.join(sorted(names))})", line=line, field=field))
    for i, metric in enumerate(metrics):
        kind = metric.get("type") if isinstance(metric, dict) else None
        if not isinstance(kind, str):
            continue
        if kind not in SCORERS:
            guess = did_you_mean(kind, SCORERS)
            hint = f"did you mean {guess!r}? use " if guess else "use "
            problems.append(Problem(file, f"{kind!r} is not a scorer type ({hint}"
                                          f"{', '.join(sorted(SCORERS))})",
                                    line=lines.get(("metrics", i, "type")),
                                    field=f"metrics.{i}.type"))
            continue
        message = (check_params(typed.metrics[i]) or _schema_param_error(typed.metrics[i])
                   if typed is not None else None)
        if message:
            problems.append(Problem(file, message, line=lines.get(("metrics", i)),
                                    field=f"metrics.{i}"))
    return problems


def _list(data: dict, key: str) -> list:
    """`data[key]` when it is a list; [] when it is missing or of another kind."""
    value = data.get(key)
    return value if isinstance(value, list) else []


def _k_of_n_known(name: str, names: set[str]) -> bool:
    """`pass_at_K`, `pass_all` (whole case) and `METRIC.pass_at_K`, `METRIC.pass_all`."""
    from .results import k_of_n

    parsed = k_of_n(name)
    return parsed is not None and (parsed[0] is None or parsed[0] in names - set(BUILTIN_METRICS))


def k_of_n_problem(gates: list[str], repeat: int) -> str | None:
    """A `pass_at_K` gate needs at least K samples per case."""
    from .results import k_of_n

    for text in gates:
        parsed = k_of_n(parse_gate(text).metric)
        if parsed is not None and parsed[1] is not None and parsed[1] > repeat:
            return f"gate {text!r} needs at least {parsed[1]} samples per case"
    return None


def _schema_param_error(metric: MetricSpec) -> str | None:
    from .jsonschema import schema_error

    schema = metric.params.get("schema")
    if metric.type != "json_schema" or not isinstance(schema, dict):
        return None
    error = schema_error(schema)
    return f"json_schema `schema` is not a valid JSON Schema: {error}" if error else None


def suite_path(evals_dir: str, name: str) -> str:
    return f"{evals_dir}/{name}/{SUITE_FILE}"


def check_suite(project, name: str) -> list[Problem]:
    """`promptctl check`'s view of a suite: the file validates and its datasets parse."""
    from ..errors import PromptctlError
    from .datasets import input_problems, load_cases

    path = suite_path(project.config.evals_dir, name)
    text = project.working.read(path)
    if text is None:
        return []
    spec = _working_spec(project, name)
    declared = set(spec.inputs) if spec is not None else None
    try:
        suite = parse_suite(text, path)
        folder = path.rsplit("/", 1)[0]
        cases, _ = load_cases(lambda p: project.working.read(f"{folder}/{p}"), suite.datasets,
                              path, declared)
        if spec is None:
            return []
        return input_problems(cases, spec.inputs) + _schema_source_problems(project, name, spec)
    except ValidationError as exc:
        return exc.problems or [Problem(exc.file or path, exc.message, field=exc.field)]
    except PromptctlError as exc:   # a check reports every problem, never stops
        return [Problem(exc.file or path, exc.message, field=exc.field)]


def _working_spec(project, name: str):
    from ..errors import PromptctlError
    from ..prompt_files import load_prompt
    try:
        return load_prompt(project.working, project.config, name).spec
    except PromptctlError:
        return None   # the prompt's own problems are reported by the prompt check


def _schema_source_problems(project, name: str, spec) -> list[Problem]:
    """json_schema without `schema` scores against the prompt's output.schema; with neither
    it would pass any JSON at all."""
    path = suite_path(project.config.evals_dir, name)
    text = project.working.read(path) or ""
    suite = parse_suite(text, path)
    lines = key_lines(text)
    return [Problem(path, "scorer 'json_schema' needs `schema` (or an output.schema in the "
                          "prompt)", line=lines.get(("metrics", i)), field=f"metrics.{i}")
            for i, m in enumerate(suite.metrics)
            if m.type == "json_schema" and "schema" not in m.params and spec.output.json_schema is None]
