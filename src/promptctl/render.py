"""Sandboxed Jinja: one environment per prompt version, templates compiled once."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from jinja2 import DictLoader, StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import RenderError
from .model import CHAT_ROLES, Body
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


_PARSER: ImmutableSandboxedEnvironment | None = None


def parsing_environment() -> ImmutableSandboxedEnvironment:
    """One shared environment for parsing only (no loader): building one per prompt cost
    as much as parsing its template when thousands of releases are read."""
    global _PARSER
    if _PARSER is None:
        _PARSER = make_environment({})
    return _PARSER


def parse(env: ImmutableSandboxedEnvironment, source: str, name: str | None) -> nodes.Template:
    """Parse one template; raises jinja2's TemplateSyntaxError with its line."""
    return env.parse(source, name=name)


# A Jinja tag opens at the first `{{`, `{%` or `{#`; `{{ name }}` and `{{ a.b }}` always parse
_TAG_START = re.compile(r"\{[{%#]")
_PLAIN_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_OPERATOR_WORDS = frozenset({"not", "and", "or", "in", "is", "if", "else"})


def only_plain_variables(source: str) -> bool:
    """True when every tag of `source` is a plain `{{ name }}` or `{{ a.b }}`: such a template
    parses and includes nothing, which a scan tells for a fraction of a parse's cost (most
    prompt templates are text with a few inputs, and verify reads thousands of them)."""
    pos = 0
    while (tag := _TAG_START.search(source, pos)) is not None:
        plain = _PLAIN_VARIABLE.match(source, tag.start())
        if plain is None or not _OPERATOR_WORDS.isdisjoint(plain[1].split(".")):
            return False
        pos = plain.end()
    return True


def referenced_templates(ast: nodes.Template) -> list[str]:
    """Names of templates included or imported with a literal name."""
    return [n for n in meta.find_referenced_templates(ast) if n is not None]


def has_computed_reference(ast: nodes.Template) -> bool:
    """An include/import whose name is computed at render time: it cannot be released
    (digested) with the prompt, so check refuses it."""
    return any(n is None for n in meta.find_referenced_templates(ast))


def undeclared_variables(ast: nodes.Template) -> set[str]:
    return meta.find_undeclared_variables(ast)


# A body compiled: (body, its content template, its (kind, template, detail) parts, its
# tool_call_id template)
_CompiledBody = tuple[Body, Template | None, tuple[tuple[str, Template, str | None], ...],
                      Template | None]


class CompiledPrompt:
    """A prompt version's templates compiled once, rendered many times.

    `bodies` is the ordered list of `Body`; role "text" marks a text prompt. `tools` are
    the declared tools as dicts; their descriptions are templates too.
    """

    __slots__ = ("label", "_templates", "_bodies", "_tool_specs", "_parts", "_defaults",
                 "_required", "is_chat", "_tools", "_plain")

    def __init__(self, label: str, templates: dict[str, str], bodies: tuple[Body | tuple, ...],
                 inputs: dict[str, Any], tools: tuple[dict, ...] | list[dict] = (), *,
                 lazy: bool = False) -> None:
        self.label = label
        # (role, loader name) pairs, the layout before Body, still compile
        layout = tuple(b if isinstance(b, Body) else Body(*b) for b in bodies)
        self._templates, self._bodies, self._tool_specs = templates, layout, tuple(tools)
        self._parts: list[_CompiledBody] | None = None
        self._tools: list[tuple[dict, Template]] = []
        self._plain: list[tuple[str, Template]] | None = None
        self._defaults = {k: spec.default for k, spec in inputs.items() if not spec.required}
        self._required = tuple(k for k, spec in inputs.items() if spec.required)
        self.is_chat = bool(layout) and layout[0].role != "text"
        if not lazy:
            self._compile()

    def _compile(self) -> list[_CompiledBody]:
        """Jinja's compile to Python code: lazy for the runtime, whose versions' syntax was
        checked when they were loaded, so an app with 1,000 prompts starts without compiling
        the ones it never renders."""
        env = make_environment(self._templates)
        try:
            parts = [_compile_body(env, body) for body in self._bodies]
            tools = [(tool, env.from_string(tool.get("description") or ""))
                     for tool in self._tool_specs]
        except TemplateSyntaxError as exc:
            raise RenderError(f"{self.label}: template syntax error at {exc.name}:{exc.lineno}: "
                              f"{exc.message}") from exc
        # Messages that are only {role, content}, the common case, render in one comprehension.
        plain: list[tuple[str, Template]] | None = None
        if all(content is not None and not body_parts and call_id is None and not body.name
               and body.role != "placeholder" for body, content, body_parts, call_id in parts):
            plain = [(body.role, content) for body, content, _, _ in parts if content is not None]
        self._tools, self._plain = tools, plain
        self._parts = parts     # last: a thread seeing it set sees the rest (a race compiles twice)
        return parts

    def render(self, inputs: dict[str, Any]) -> str | list[dict[str, Any]]:
        parts = self._parts if self._parts is not None else self._compile()
        values = self._values(inputs)
        # try/except, not a context manager: a generator per call shows on the request path
        try:
            if not self.is_chat:
                return render_bounded(parts[0][1], values)
            if self._plain is not None:
                return [{"role": role, "content": render_bounded(tpl, values)}
                        for role, tpl in self._plain]
            return self._messages(parts, values)
        except TemplateError as exc:
            raise self._reworded(exc) from exc

    def _messages(self, compiled: list[_CompiledBody],
                  values: dict[str, Any]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for body, content, parts, call_id in compiled:
            if body.role == "placeholder":
                assert body.name is not None    # prompt_files gives every placeholder its input
                messages.extend(self._history(body.name, values.get(body.name)))
                continue
            text = (render_bounded(content, values) if content is not None
                    else _render_parts(parts, values))
            message: dict[str, Any] = {"role": body.role, "content": text}
            if call_id is not None:
                message["tool_call_id"] = render_bounded(call_id, values)
            if body.name:
                message["name"] = body.name
            messages.append(message)
        return messages

    def render_tools(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        """The declared tools with their descriptions rendered for these inputs."""
        if self._parts is None:
            self._compile()
        if not self._tools:
            return []
        values = self._values(inputs)
        try:
            return [{**tool, "description": render_bounded(template, values)}
                    for tool, template in self._tools]
        except TemplateError as exc:
            raise self._reworded(exc) from exc

    def _values(self, inputs: dict[str, Any]) -> dict[str, Any]:
        for key in self._required:
            if key not in inputs:
                raise RenderError(f"{self.label}: missing required input {key!r}",
                                  fix=f"pass {key}=... to render()")
        return {**self._defaults, **inputs} if self._defaults else inputs

    def _reworded(self, exc: TemplateError) -> RenderError:
        if isinstance(exc, UndefinedError):
            return RenderError(f"{self.label}: {exc.message}",
                               fix="declare the variable as an input and pass it")
        if isinstance(exc, SecurityError):
            return RenderError(f"{self.label}: blocked by the sandbox: {exc}")
        return RenderError(f"{self.label}: {exc}")

    def _history(self, name: str, value: Any) -> list[dict[str, Any]]:
        try:
            return check_messages(value)
        except ValueError as exc:
            raise RenderError(f"{self.label}: input {name!r}{exc}",
                              fix="pass a list of {role, content} messages") from exc


def _compile_body(env: ImmutableSandboxedEnvironment, body: Body) -> _CompiledBody:
    content = env.get_template(body.template) if body.template else None
    parts = tuple((kind, env.get_template(loader), detail) for kind, loader, detail in body.parts)
    call_id = env.get_template(body.tool_call_id) if body.tool_call_id else None
    return body, content, parts, call_id


def _render_parts(parts: tuple[tuple[str, Template, str | None], ...], values: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, template, detail in parts:
        text = render_bounded(template, values)
        if kind == "text":
            out.append({"type": "text", "text": text})
        else:
            image: dict[str, Any] = {"url": text.strip()}
            if detail:
                image["detail"] = detail
            out.append({"type": "image_url", "image_url": image})
    return out


def check_messages(value: Any) -> list[dict[str, Any]]:
    """A `messages` input as copies of its items; ValueError `[i].field: problem` otherwise.

    Items are chat messages as apps keep them: {role, content} with content a string, a
    list of parts or (for an assistant turn that called tools) null, plus tool_calls,
    tool_call_id and name where they apply.
    """
    if value is None:
        return []
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)   # a CSV dataset holds the conversation as JSON text
        except ValueError as exc:
            raise ValueError(f": not a JSON list of messages ({exc})") from exc
    if not isinstance(value, (list, tuple)):
        raise ValueError(f": expected a list of messages, got {type(value).__name__}")
    out = []
    for index, item in enumerate(value):
        where = f"[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: a message is a mapping with `role`, got {type(item).__name__}")
        role = item.get("role")
        if role is None:
            raise ValueError(f"{where}.role: missing (each message needs a role)")
        if role not in CHAT_ROLES:
            raise ValueError(f"{where}.role: {role!r} is not {', '.join(CHAT_ROLES)}")
        content = item.get("content")
        if content is None and not (role == "assistant" and item.get("tool_calls")):
            raise ValueError(f"{where}.content: missing (only an assistant turn with tool_calls "
                             f"may leave it out)")
        if content is not None and not isinstance(content, (str, list)):
            raise ValueError(f"{where}.content: must be text or a list of parts")
        if role == "tool" and not item.get("tool_call_id"):
            raise ValueError(f"{where}.tool_call_id: missing (a tool message answers a call by its id)")
        out.append(dict(item))
    return out


def tool_dict(tool: Any) -> dict[str, Any]:
    """A declared tool as plain data: name, description, parameters (and strict when set)."""
    data = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    if tool.strict:
        data["strict"] = True
    return data


def compile_content(content: Any, label: str, *, lazy: bool = False) -> CompiledPrompt:
    """A PromptContent compiled with its tools; `label` names it in errors (name@version).
    `lazy` compiles on the first render (see CompiledPrompt._compile)."""
    spec = content.spec
    return CompiledPrompt(label, content.templates, content.bodies, spec.inputs,
                          tuple(tool_dict(t) for t in spec.tools), lazy=lazy)


def output_request(spec: Any) -> dict[str, Any] | None:
    """The structured output a prompt asks of the model: None for a text answer."""
    if spec.output.format != "json":
        return None
    return {"format": "json", "schema": spec.output.json_schema, "strict": spec.output.strict}
