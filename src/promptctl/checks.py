"""Checks that need no model: the input contract against the variables templates use."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from .errors import Problem
from .model import PromptContent
from .render import make_environment, parse, undeclared_variables


def used_variables(content: PromptContent) -> set[str]:
    """Every free variable in the prompt's templates and the partials they include."""
    env = make_environment({})
    used: set[str] = set()
    for loader_name, source in content.templates.items():
        try:
            used |= undeclared_variables(parse(env, source, loader_name))
        except TemplateSyntaxError:
            continue  # load_prompt already reported it
    return used


def contract_problems(content: PromptContent, yaml_path: str) -> list[Problem]:
    spec = content.spec
    # a placeholder uses its `messages` input without a template naming it
    used = used_variables(content) | {b.name for b in content.bodies if b.role == "placeholder"}
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
