"""Sandboxed Jinja: one environment per prompt version, templates compiled once."""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import RenderError
from .render_limits import BudgetedSandbox, render_bounded


def make_environment(templates: dict[str, str]) -> ImmutableSandboxedEnvironment:
    """A sandbox that refuses unsafe attribute access and makes missing variables errors;
    renders are bounded in size (and, under `render_limits.deadline`, in time)."""
    return BudgetedSandbox(
        loader=DictLoader(templates),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def parse(env: ImmutableSandboxedEnvironment, source: str, name: str) -> nodes.Template:
    """Parse one template; raises jinja2's TemplateSyntaxError with its line."""
    return env.parse(source, name=name)


def referenced_templates(ast: nodes.Template) -> list[str]:
    """Names of templates included or imported with a literal name."""
    return [n for n in meta.find_referenced_templates(ast) if n is not None]


def has_computed_reference(ast: nodes.Template) -> bool:
    """An include/import whose name is computed at render time: it cannot be released
    (digested) with the prompt, so check refuses it."""
    return any(n is None for n in meta.find_referenced_templates(ast))


def undeclared_variables(ast: nodes.Template) -> set[str]:
    return meta.find_undeclared_variables(ast)


class CompiledPrompt:
    """A prompt version's templates compiled once, rendered many times.

    `bodies` is the ordered list of (role, loader name); role "text" marks a text prompt.
    """

    __slots__ = ("label", "_parts", "_defaults", "_required", "is_chat")

    def __init__(self, label: str, templates: dict[str, str],
                 bodies: tuple[tuple[str, str], ...], inputs: dict[str, Any]) -> None:
        self.label = label
        env = make_environment(templates)
        try:
            self._parts = [(role, env.get_template(name)) for role, name in bodies]
        except TemplateSyntaxError as exc:
            raise RenderError(f"{label}: template syntax error at {exc.name}:{exc.lineno}: "
                              f"{exc.message}") from exc
        self._defaults = {k: spec.default for k, spec in inputs.items() if not spec.required}
        self._required = tuple(k for k, spec in inputs.items() if spec.required)
        self.is_chat = bool(bodies) and bodies[0][0] != "text"

    def render(self, inputs: dict[str, Any]) -> str | list[dict[str, str]]:
        for key in self._required:
            if key not in inputs:
                raise RenderError(f"{self.label}: missing required input {key!r}",
                                  fix=f"pass {key}=... to render()")
        values = {**self._defaults, **inputs} if self._defaults else inputs
        try:
            if not self.is_chat:
                return render_bounded(self._parts[0][1], values)
            return [{"role": role, "content": render_bounded(tpl, values)}
                    for role, tpl in self._parts]
        except UndefinedError as exc:
            raise RenderError(f"{self.label}: {exc.message}",
                              fix="declare the variable as an input and pass it") from exc
        except SecurityError as exc:
            raise RenderError(f"{self.label}: blocked by the sandbox: {exc}") from exc
        except TemplateError as exc:
            raise RenderError(f"{self.label}: {exc}") from exc
