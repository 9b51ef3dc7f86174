"""Prompts read from a FileSource: prompt.yaml validated, its templates and partials
gathered, every problem of a prompt reported at once."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError

from .errors import NotFoundError, Problem, UsageError, ValidationError
from .model import NAME_RE, PROMPT_NAME_RULE, Body, Config, PromptContent, PromptSpec
from .render import (has_computed_reference, only_plain_variables, parse, parsing_environment,
                     referenced_templates)
from .safeyaml import load_yaml
from .sources import FileSource, outside_reference
from .yamlfile import key_lines, parse_model, scalar_start_line

PROMPT_FILE = "prompt.yaml"
PARTIALS_DIR = "_partials"


@lru_cache(maxsize=4096)
def _parse_spec(text: str, yaml_path: str) -> PromptSpec:
    # releases often keep prompt.yaml and change a template; the model is frozen, so a
    # spec parsed once serves every release with the same text
    return parse_model(PromptSpec, text, yaml_path)


def prompt_dir(config: Config, name: str) -> str:
    return f"{config.prompts_dir}/{name}"


def list_prompt_names(root: Path, config: Config) -> list[str]:
    """Every folder under prompts/ that holds a prompt.yaml, as prompt names."""
    base = root / config.prompts_dir
    names = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", PARTIALS_DIR)))
        if PROMPT_FILE in files:
            names.append(Path(folder).relative_to(base).as_posix())
    return sorted(names)


def content_digest(files: dict[str, str]) -> str:
    """sha256 over (path, sha256(content)) pairs in path order, line endings normalised."""
    outer = hashlib.sha256()
    for path in sorted(files):
        inner = hashlib.sha256(files[path].replace("\r\n", "\n").encode("utf-8")).hexdigest()
        outer.update(f"{path}\0{inner}\n".encode("utf-8"))
    return "sha256:" + outer.hexdigest()


def check_name(name: str) -> str:
    """A prompt name, or UsageError: a name is also a path, so '../x' must never reach the disk."""
    if not NAME_RE.match(name):
        raise UsageError(f"invalid prompt name {name!r}", field="NAME",
                         fix=f"use {PROMPT_NAME_RULE}")
    return name


def load_prompt(source: FileSource, config: Config, name: str) -> PromptContent:
    """Read, validate and gather a prompt with its partials; raises with every problem."""
    folder = prompt_dir(config, check_name(name))
    yaml_path = f"{folder}/{PROMPT_FILE}"
    text = source.read(yaml_path)
    if text is None:
        raise NotFoundError(f"prompt {name!r} not found", file=yaml_path,
                            fix="run `promptctl list` to see the prompts")
    try:
        spec = _parse_spec(text, yaml_path)
    except ValidationError as exc:
        # a schema error must not hide the template errors of the same prompt
        raise ValidationError(problems=[
            *exc.problems, *_raw_template_problems(source, config, name, text, yaml_path)]) from exc
    problems: list[Problem] = []
    if spec.name != name:
        problems.append(Problem(yaml_path, f"is {spec.name!r} but the folder says {name!r} "
                                           f"(set name: {name}, or move the folder)",
                                line=key_lines(text).get(("name",)), field="name"))
    files = {f"{name}/{f}": source.read(f"{folder}/{f}") or "" for f in source.listdir(folder)}
    templates, bodies = _bodies(spec, name, files, yaml_path, text, problems)
    _gather_partials(source, config, templates, problems, yaml_path, text)
    if problems:
        raise ValidationError(problems=problems)
    used = {k: v for k, v in templates.items() if "#" not in k}
    return PromptContent(spec=spec, files={**files, **used}, templates=templates,
                         bodies=tuple(bodies), digest=content_digest({**files, **used}))


class _LazyLines:
    """key_lines(text), computed when a problem needs a line: composing the YAML again for
    every prompt loaded was a quarter of verifying 10,000 releases."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: dict[tuple, int] | None = None

    def get(self, key: tuple, default: int | None = None) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self._text)
        return self._lines.get(key, default)


def _bodies(spec: PromptSpec, name: str, files: dict[str, str], yaml_path: str, text: str,
            problems: list[Problem]) -> tuple[dict[str, str], list[Body]]:
    templates: dict[str, str] = {}
    bodies: list[Body] = []
    lines = _LazyLines(text)

    def add(inline: str | None, file: str | None, field: tuple) -> str | None:
        if inline is not None:
            loader_name = f"{name}/{PROMPT_FILE}#{'.'.join(map(str, field))}"
            templates[loader_name] = inline
            return loader_name
        loader_name = f"{name}/{file}"
        if loader_name not in files:
            problems.append(Problem(yaml_path, f"file {file!r} not found next to prompt.yaml "
                                               f"(create {yaml_path.rsplit('/', 1)[0]}/{file} or fix the name)",
                                    line=lines.get(field), field=".".join(map(str, field))))
            return None
        templates[loader_name] = files[loader_name]
        return loader_name

    if spec.messages is None:
        key = "template" if spec.template is not None else "template_file"
        loader = add(spec.template, spec.template_file, (key,))
        if loader:
            bodies.append(Body("text", loader))
    for i, msg in enumerate(spec.messages or ()):
        if msg.placeholder is not None:
            _check_placeholder(spec, msg.placeholder, ("messages", i, "placeholder"), yaml_path,
                               lines, problems)
            bodies.append(Body("placeholder", name=msg.placeholder))
            continue
        parts: tuple[tuple[str, str, str | None], ...] = ()
        if isinstance(msg.content, list):
            parts = tuple(_part(part, add, ("messages", i, "content", j))
                          for j, part in enumerate(msg.content))
            loader = None
        else:
            key = "content" if msg.content is not None else "content_file"
            loader = add(msg.content, msg.content_file, ("messages", i, key))
            if loader is None:
                continue
        call_id = add(msg.tool_call_id, None, ("messages", i, "tool_call_id")) \
            if msg.tool_call_id is not None else None
        bodies.append(Body(msg.role or "user", loader, parts, call_id, msg.name))
    for i, tool in enumerate(spec.tools):
        if tool.description:   # descriptions may use inputs; they render with the messages
            add(tool.description, None, ("tools", i, "description"))
    return templates, bodies


def _raw_template_problems(source: FileSource, config: Config, name: str, text: str,
                           yaml_path: str) -> list[Problem]:
    """Syntax errors of the templates an invalid prompt.yaml names, read from its raw YAML."""
    try:
        data = load_yaml(text, yaml_path)
    except ValidationError:
        return []   # already reported by parse_model
    if not isinstance(data, dict):
        return []
    folder = prompt_dir(config, name)
    templates: dict[str, str] = {}

    def add(value: Any, field: tuple, file_value: Any) -> None:
        if isinstance(value, str):
            templates[f"{name}/{PROMPT_FILE}#{'.'.join(map(str, field))}"] = value
        elif isinstance(file_value, str) and "/" not in file_value:
            body = source.read(f"{folder}/{file_value}")
            if body is not None:
                templates[f"{name}/{file_value}"] = body

    add(data.get("template"), ("template",), data.get("template_file"))
    messages = data.get("messages")
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        if isinstance(msg, dict):
            add(msg.get("content"), ("messages", i, "content"), msg.get("content_file"))
    problems: list[Problem] = []
    env = parsing_environment()
    for loader_name, body in templates.items():
        try:
            parse(env, body, loader_name)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(config, loader_name, yaml_path, text, exc))
    return problems


def _syntax_problem(config: Config, loader_name: str, yaml_path: str, text: str,
                    exc: TemplateSyntaxError) -> Problem:
    """A template syntax error at its real line: inline templates count from their YAML line."""
    line: int | None = exc.lineno
    field = _field_of(loader_name)
    if field is not None:
        path = tuple(int(p) if p.isdigit() else p for p in field.split("."))
        start = scalar_start_line(text, path)
        line = start + (exc.lineno or 1) - 1 if start else None
    return Problem(_display(config, loader_name, yaml_path), f"template syntax: {exc.message}",
                   line=line, field=field)


def _part(part: Any, add: Any, field: tuple) -> tuple[str, str, str | None]:
    if part.type == "text":
        return "text", add(part.text, None, (*field, "text")), None
    return "image_url", add(part.image_url, None, (*field, "image_url")), part.detail


def _check_placeholder(spec: PromptSpec, input_name: str, field: tuple, yaml_path: str,
                       lines: _LazyLines, problems: list[Problem]) -> None:
    declared = spec.inputs.get(input_name)
    if declared is None:
        message = (f"{input_name!r} is not a declared input (add `{input_name}: messages` "
                   f"under inputs:)")
    elif declared.type != "messages":
        message = (f"input {input_name!r} is of type {declared.type}; a placeholder takes a "
                   f"`messages` input (set type: messages)")
    else:
        return
    problems.append(Problem(yaml_path, message, line=lines.get(field), field=".".join(map(str, field))))


def _gather_partials(source: FileSource, config: Config, templates: dict[str, str],
                     problems: list[Problem], yaml_path: str, text: str = "") -> None:
    """Add every template reachable by include/import; report syntax errors and missing ones."""
    pending = list(templates)
    seen = set(pending)
    edges: dict[str, list[str]] = {}
    while pending:
        current = pending.pop()
        try:
            refs, computed = _references(templates[current])
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(config, current, yaml_path, text, exc))
            continue
        if computed:
            problems.append(Problem(_display(config, current, yaml_path),
                                    "include/import with a computed name (write the template name "
                                    "as a literal, e.g. {% include \"_partials/x.j2\" %})",
                                    field=_field_of(current)))
        for ref in refs:
            edges.setdefault(current, []).append(ref)
            if ref in seen:
                continue
            seen.add(ref)
            if outside_reference(ref):
                problems.append(Problem(_display(config, current, yaml_path),
                                        f"include {ref!r} leaves the {config.prompts_dir}/ folder "
                                        f"(name a file inside it, e.g. \"_partials/x.j2\")",
                                        field=_field_of(current)))
                continue
            body = source.read(f"{config.prompts_dir}/{ref}")
            if body is None:
                problems.append(Problem(_display(config, current, yaml_path),
                                        f"included template {ref!r} not found (create "
                                        f"{config.prompts_dir}/{ref} or fix the include)",
                                        field=_field_of(current),
                                        ))
                continue
            templates[ref] = body
            pending.append(ref)
    cycle = _include_cycle(edges)
    if cycle:
        problems.append(Problem(_display(config, cycle[0], yaml_path),
                                f"include cycle: {' -> '.join(cycle)} (a template may not "
                                "include itself, directly or through others)",
                                field=_field_of(cycle[0])))


def _include_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """The first include cycle found, as a path that ends where it starts."""
    state: dict[str, int] = {}   # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for ref in edges.get(node, ()):
            if state.get(ref) == 1:
                return [*path[path.index(ref):], ref]
            if ref not in state:
                found = visit(ref, [*path, ref])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


@lru_cache(maxsize=4096)
def _references(text: str) -> tuple[tuple[str, ...], bool]:
    """(literal include/import names, any computed one) of a template. Cached by text: a
    shared partial, or a message kept across releases, is parsed once per process."""
    if only_plain_variables(text):
        return (), False
    ast = parse(parsing_environment(), text, None)
    return tuple(referenced_templates(ast)), has_computed_reference(ast)


def _display(config: Config, loader_name: str, yaml_path: str) -> str:
    return yaml_path if "#" in loader_name else f"{config.prompts_dir}/{loader_name}"


def _field_of(loader_name: str) -> str | None:
    return loader_name.split("#", 1)[1] if "#" in loader_name else None

