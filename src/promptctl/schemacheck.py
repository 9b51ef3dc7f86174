"""Is a JSON Schema well-formed? Checked when a prompt file is read, so a broken tool or
output schema is a one-line error in `check`, not a 400 from the provider mid-eval."""

from __future__ import annotations

import re
from typing import Any

TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def schema_problem(schema: Any, path: str = "$") -> str | None:
    """The first thing wrong with `schema` as `path: message`; None when it is well-formed."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"{path}: a schema is a mapping, not {type(schema).__name__}"
    problem = _type_problem(schema.get("type"), path) if "type" in schema else None
    return problem or _keyword_problem(schema, path) or _children_problem(schema, path)


def _type_problem(kind: Any, path: str) -> str | None:
    kinds = kind if isinstance(kind, list) else [kind]
    bad = [k for k in kinds if k not in TYPES]
    if bad or not kinds:
        return f"{path}.type: {bad[0] if bad else kind!r} is not a JSON Schema type " \
               f"({', '.join(sorted(TYPES))})"
    return None


def _keyword_problem(schema: dict, path: str) -> str | None:
    required = schema.get("required")
    if required is not None:
        if not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
            return f"{path}.required: must be a list of property names"
        props = schema.get("properties")
        if isinstance(props, dict):
            missing = [r for r in required if r not in props]
            if missing:
                return f"{path}.required: {missing[0]!r} is not one of the properties"
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        return f"{path}.enum: must be a non-empty list"
    for key in _NUMBERS:
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{path}.{key}: must be a number"
    for key in _COUNTS:
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"{path}.{key}: must be a whole number >= 0"
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            return f"{path}.pattern: does not compile: {exc}"
    return None


def _children_problem(schema: dict, path: str) -> str | None:
    for key in _SUBSCHEMA_MAPS:
        if key in schema:
            if not isinstance(schema[key], dict):
                return f"{path}.{key}: must be a mapping of names to schemas"
            for name, sub in schema[key].items():
                problem = schema_problem(sub, f"{path}.{key}.{name}")
                if problem:
                    return problem
    for key in _SUBSCHEMA_LISTS:
        if key in schema:
            if not isinstance(schema[key], list) or not schema[key]:
                return f"{path}.{key}: must be a non-empty list of schemas"
            for index, sub in enumerate(schema[key]):
                problem = schema_problem(sub, f"{path}.{key}[{index}]")
                if problem:
                    return problem
    for key in (*_SUBSCHEMAS, "items"):
        if key in schema:
            problem = schema_problem(schema[key], f"{path}.{key}")
            if problem:
                return problem
    return None
