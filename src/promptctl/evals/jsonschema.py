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
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return f"{path}: expected {'/'.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: must be {schema['const']!r}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: shorter than {schema['minLength']}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: longer than {schema['maxLength']}"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{path}: does not match {schema['pattern']!r}"
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: below {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: above {schema['maximum']}"
    if isinstance(value, dict):
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
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{path}: fewer than {schema['minItems']} items"
        if "items" in schema:
            for index, item in enumerate(value):
                error = first_error(item, schema["items"], f"{path}[{index}]")
                if error:
                    return error
    return None


_SCHEMA_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def schema_error(schema: Any, path: str = "$") -> str | None:
    """The first reason `schema` is not a usable JSON Schema (of the subset checked above)."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"{path}: a schema is a mapping, not {type(schema).__name__}"
    kinds = schema.get("type")
    for kind in (kinds if isinstance(kinds, list) else [kinds] if kinds is not None else []):
        if kind not in _SCHEMA_TYPES:
            return f"{path}.type: {kind!r} is not a JSON Schema type (use {', '.join(sorted(_SCHEMA_TYPES))})"
    for key in _COUNTS:
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"{path}.{key}: must be a whole number >= 0, not {value!r}"
    for key in ("minimum", "maximum"):
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{path}.{key}: must be a number, not {value!r}"
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            return f"{path}.pattern: {schema['pattern']!r} does not compile ({exc})"
    if "enum" in schema and not isinstance(schema["enum"], list):
        return f"{path}.enum: must be a list"
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
        return f"{path}.required: must be a list of property names"
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        return f"{path}.properties: must be a mapping of property schemas"
    subs = [(f"{path}.properties.{k}", v) for k, v in props.items()]
    subs += [(f"{path}.{k}", schema[k]) for k in ("items", "additionalProperties") if k in schema]
    for sub_path, sub in subs:
        error = schema_error(sub, sub_path)
        if error:
            return error
    return None
