"""YAML files into models, with every finding at its file, line and field."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .errors import Problem, ValidationError
from .safeyaml import compose, load_yaml
from .wording import reword


def key_lines(text: str) -> dict[tuple, int]:
    """Map each path of keys/indices in a YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    root = compose(text)
    if root is not None:
        walk(root, ())
    return lines


def scalar_start_line(text: str, path: tuple) -> int | None:
    """The 1-based line where the string value at `path` begins (after a `|` or `>`)."""
    node = compose(text)
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return None
        if node is None:
            return None
    if not isinstance(node, yaml.ScalarNode):
        return None
    block = node.style in ("|", ">")
    return node.start_mark.line + (2 if block else 1)


def validation_problems(exc: PydanticValidationError, text: str, file: str,
                        model: type[BaseModel] | None = None) -> list[Problem]:
    lines = key_lines(text)
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        field = ".".join(str(p) for p in loc) or "(document)"
        problems.append(Problem(file, reword({**err, "loc": loc}, model), line=line, field=field))
    return problems


def parse_model(model: type[BaseModel], text: str, file: str) -> Any:
    data = load_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(problems=[Problem(file, "expected a mapping at the top level", line=1)])
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(problems=validation_problems(exc, text, file, model)) from exc


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of `path`, else of the nearest enclosing key that has one."""
    return next((lines[path[:cut]] for cut in range(len(path), -1, -1) if path[:cut] in lines), None)
