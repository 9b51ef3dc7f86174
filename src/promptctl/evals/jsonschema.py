"""The subset of JSON Schema that prompt outputs use, without a dependency."""

from __future__ import annotations

import re
from typing import Any

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES.get(kind, object))


def first_error(value: Any, schema: dict, path: str = "$") -> str | None:
    """The first way `value` breaks `schema`, as `path: message`; None when it conforms."""
    for check in (_scalar_error, _string_error, _number_error, _object_error, _array_error):
        error = check(value, schema, path)
        if error:
            return error
    return None


def _scalar_error(value: Any, schema: dict, path: str) -> str | None:
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return f"{path}: expected {'/'.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: must be {schema['const']!r}"
    return None


def _string_error(value: Any, schema: dict, path: str) -> str | None:
    if not isinstance(value, str):
        return None
    if len(value) < schema.get("minLength", 0):
        return f"{path}: shorter than {schema['minLength']}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{path}: longer than {schema['maxLength']}"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{path}: does not match {schema['pattern']!r}"
    return None


def _number_error(value: Any, schema: dict, path: str) -> str | None:
    if not _is_type(value, "number"):
        return None
    if "minimum" in schema and value < schema["minimum"]:
        return f"{path}: below {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"{path}: above {schema['maximum']}"
    return None


def _object_error(value: Any, schema: dict, path: str) -> str | None:
    if not isinstance(value, dict):
        return None
    for key in schema.get("required", []):
        if key not in value:
            return f"{path}: missing required {key!r}"
    props = schema.get("properties", {})
    for key, sub in value.items():
        if key in props:
            error = first_error(sub, props[key], f"{path}.{key}")
            if error:
                return error
        elif schema.get("additionalProperties") is False:
            return f"{path}: unexpected property {key!r}"
    return None


def _array_error(value: Any, schema: dict, path: str) -> str | None:
    if not isinstance(value, list):
        return None
    if len(value) < schema.get("minItems", 0):
        return f"{path}: fewer than {schema['minItems']} items"
    if "items" in schema:
        for index, item in enumerate(value):
            error = first_error(item, schema["items"], f"{path}[{index}]")
            if error:
                return error
    return None


def schema_error(schema: Any, path: str = "$") -> str | None:
    """The first reason `schema` is not a usable JSON Schema; one checker serves the prompt
    file's tools and output schema and the json_schema scorer alike."""
    from ..schemacheck import schema_problem

    return schema_problem(schema, path)
