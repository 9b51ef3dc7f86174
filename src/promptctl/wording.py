"""Validation findings in a user's words: the offending value quoted, the choices named.

pydantic's messages ("Input should be 'system', 'user' or 'assistant'") read as if a
prompt *input* were wrong and never show what the file said; these helpers reword them
and suggest the nearest valid spelling.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Iterable

from pydantic import BaseModel

# the noun for an enum-like field, by the last key of its location (and the key before it)
_NOUNS = {("inputs", "type"): "an input type", ("metrics", "type"): "a scorer type",
          ("output", "format"): "an output format", ("role",): "a role",
          ("direction",): "a direction", ("op",): "a comparison", ("format",): "a format",
          ("type",): "a type"}

_TYPE_WORDS = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "model_type": "a mapping", "model_attributes_type": "a mapping",
}

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelled word, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def quote(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def noun_for(loc: tuple) -> str:
    keys = [p for p in loc if isinstance(p, str)]
    if len(keys) >= 3 and keys[-3] == "inputs" and keys[-1] == "type":
        return _NOUNS[("inputs", "type")]
    for size in (2, 1):
        if len(keys) >= size and tuple(keys[-size:]) in _NOUNS:
            return _NOUNS[tuple(keys[-size:])]
    return f"a valid {keys[-1]}" if keys else "valid"


def choices_text(choices: list[str]) -> str:
    return ", ".join(choices)


def reword(err: dict, root: type[BaseModel] | None = None) -> str:
    """One pydantic error dict as a sentence that quotes what the file said."""
    kind, value, loc = err["type"], err.get("input"), tuple(err["loc"])
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        known = fields_at(root, loc[:-1]) if root else []
        guess = did_you_mean(str(loc[-1]), known) if loc else None
        hint = f"did you mean {guess!r}?" if guess else "remove it or check its spelling"
        return f"unknown field {str(loc[-1])!r} ({hint})" if loc else f"unknown field ({hint})"
    if kind == "missing":
        return "required field is missing (add it)"
    if kind in ("literal_error", "enum"):
        choices = _literal_choices(ctx.get("expected", ""))
        guess = did_you_mean(str(value), choices) if isinstance(value, str) else None
        hint = f"did you mean {guess!r}? use " if guess else "use "
        return f"{quote(value)} is not {noun_for(loc)} ({hint}{choices_text(choices)})"
    if kind in _TYPE_WORDS:
        return f"{quote(value)} is not {_TYPE_WORDS[kind]}"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()), "?")
        return f"{quote(value)} is out of range (must be {_BOUNDS[kind]} {limit})"
    message = err["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be"):
        return f"{quote(value)} should be{message.removeprefix('Input should be')}"
    return message


def _literal_choices(expected: str) -> list[str]:
    # pydantic writes "'system', 'user' or 'assistant'"
    parts = expected.replace(" or ", ", ").split(", ")
    return [p.strip().strip("'\"") for p in parts if p.strip()]


# ---------------------------------------------------------------- model fields at a path

def fields_at(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    """The field names (and aliases) valid at `loc` inside `model`, for suggestions."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap_model(current)
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return []
    names = []
    for name, info in current.model_fields.items():
        names.append(info.alias or name)
    return names


def _step(annotation: Any, part: Any) -> Any:
    model = _unwrap_model(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(part, str):
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    for arg in _args(annotation):
        origin = typing.get_origin(arg)
        if origin is dict:
            return typing.get_args(arg)[1]
        if origin is list and isinstance(part, int):
            return typing.get_args(arg)[0]
    return None


def _args(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _unwrap_model(annotation: Any) -> Any:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation
