"""Checks that need no model: the input contract against the variables templates use."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from .errors import Problem
from .model import PromptContent
from .render import parse, parsing_environment, undeclared_variables


def used_variables(content: PromptContent) -> set[str]:
    """Every free variable in the prompt's templates and the partials they include."""
    env = parsing_environment()
    used: set[str] = set()
    for loader_name, source in content.templates.items():
        try:
            used |= undeclared_variables(parse(env, source, loader_name))
        except TemplateSyntaxError:
            continue  # load_prompt already reported it
    return used


def release_problems(content: PromptContent, yaml_path: str, text: str | None = None) -> list[Problem]:
    """Everything `check` and `bump` judge in a loaded prompt beyond its schema."""
    from .yamlfile import key_lines

    lines = key_lines(text) if text else {}
    problems = contract_problems(content, yaml_path) + spec_problems(content, yaml_path, lines)
    return problems or render_problems(content, yaml_path)


def contract_problems(content: PromptContent, yaml_path: str) -> list[Problem]:
    spec = content.spec
    # a placeholder uses its `messages` input without a template naming it
    used = used_variables(content) | {b.name for b in content.bodies
                                        if b.role == "placeholder" and b.name is not None}
    declared = set(spec.inputs)
    problems = [
        Problem(yaml_path, f"template uses {var!r}, which is not a declared input "
                           f"(add it under inputs:)", field="inputs")
        for var in sorted(used - declared)
    ]
    problems += [
        Problem(yaml_path, f"required input {var!r} is never used by a template "
                           f"(use it, or make it optional with a default)", field=f"inputs.{var}")
        for var in sorted(declared - used) if spec.inputs[var].required
    ]
    return problems


# ---------------------------------------------------------------- model params and output

# name -> (types, low, high): the params every provider shares; others pass through unchecked
_PARAMS: dict[str, tuple[tuple[type[int] | type[float], ...], float | None, float | None]] = {
    "temperature": ((int, float), 0, 2), "top_p": ((int, float), 0, 1),
    "max_tokens": ((int,), 1, None), "max_completion_tokens": ((int,), 1, None),
    "max_output_tokens": ((int,), 1, None), "n": ((int,), 1, None), "seed": ((int,), None, None),
    "top_k": ((int,), 0, None), "presence_penalty": ((int, float), -2, 2),
    "frequency_penalty": ((int, float), -2, 2),
}


def param_problem(key: str, value: object) -> str | None:
    """Why a model param's value cannot work, or None (unknown params are not judged)."""
    if key == "stop":
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        return None if ok else f"must be a string or a list of strings, not {value!r}"
    if key not in _PARAMS:
        return None
    kinds, low, high = _PARAMS[key]
    kind = "a whole number" if kinds == (int,) else "a number"
    if isinstance(value, bool) or not isinstance(value, kinds):
        return f"must be {kind}, not {value!r}"
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        return f"must be {bounds}, not {value!r}"
    return None


def spec_problems(content: PromptContent, yaml_path: str, lines: dict) -> list[Problem]:
    """Model params of the wrong type or range, and an output schema that cannot be used."""
    from .evals.jsonschema import schema_error

    spec = content.spec
    problems = []
    for key, value in spec.model.params.items():
        message = param_problem(key, value)
        if message:
            problems.append(Problem(yaml_path, f"{message} (fix the value or remove it)",
                                    line=lines.get(("model", "params", key)),
                                    field=f"model.params.{key}"))
    schema = spec.output.json_schema
    error = schema_error(schema) if schema is not None else None
    if error:
        problems.append(Problem(yaml_path, f"not a valid JSON Schema: {error}",
                                line=lines.get(("output", "schema")), field="output.schema"))
    return problems


# ---------------------------------------------------------------- render budget

CHECK_RENDER_SECONDS = 2.0
_SAMPLES = {"string": "sample", "integer": 1, "number": 1.5, "boolean": True,
            "list": ["sample"], "object": {"key": "sample"}, "any": "sample",
            "messages": [{"role": "user", "content": "sample"}]}


def sample_inputs(content: PromptContent) -> dict:
    return {name: _SAMPLES.get(spec.type, "sample") for name, spec in content.spec.inputs.items()
            if spec.required}


def render_problems(content: PromptContent, yaml_path: str,
                    inputs: list[dict] | None = None) -> list[Problem]:
    """Render with sample inputs (and the given cases) under size and time budgets.

    Only budget breaks and crashes are findings: a sample value may legitimately fail a
    template's own logic, which the eval reports with real data."""
    from jinja2.exceptions import TemplateError

    from .errors import RenderError
    from .render import compile_content
    from .render_limits import BudgetExceeded, deadline

    label = f"{content.name}@working"
    field = "messages" if content.spec.kind == "chat" else "template"
    try:
        compiled = compile_content(content, label)
    except RenderError:
        return []   # a syntax error: load_prompt reported it
    with deadline(CHECK_RENDER_SECONDS):
        for values in [sample_inputs(content), *(inputs or [])]:
            try:
                compiled.render(values)
                compiled.render_tools(values)   # tool descriptions are templates too
            except RenderError as exc:
                if isinstance(exc.__cause__, BudgetExceeded):
                    return [Problem(yaml_path, f"{exc.message.removeprefix(label + ': ')} "
                                               "(make the template cheaper)", field=field)]
            except (RecursionError, OverflowError, MemoryError) as exc:
                return [Problem(yaml_path, f"rendering fails with {type(exc).__name__} (a macro "
                                           "that recurses without end, or a number too big?)",
                                field=field)]
            except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError):
                continue
    return []
