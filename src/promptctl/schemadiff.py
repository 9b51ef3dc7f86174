"""How much a change of tools or of the output schema matters, by semver.

A tool's parameters are what the app's tool code receives; the output schema is what the
app parses. Either side breaks callers when a field becomes required, changes type,
disappears, or is constrained further: that is major. A new optional field is minor; a
reworded description is patch.
"""

from __future__ import annotations

from typing import Any

from .versions import BumpKind

Finding = tuple[BumpKind, str]
_WORDING = ("description", "title", "examples", "$comment")


def _without_wording(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_wording(v) for k, v in schema.items() if k not in _WORDING}
    if isinstance(schema, list):
        return [_without_wording(v) for v in schema]
    return schema


def schema_findings(old: Any, new: Any, where: str, *, optional_removed: BumpKind) -> list[Finding]:
    """Findings between two JSON Schemas; `optional_removed` is what dropping an optional
    property costs (a tool's unused argument is minor, an output field an app reads is not)."""
    if old == new:
        return []
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [(BumpKind.MAJOR, f"{where}: schema changed")]
    if old.get("type") != new.get("type"):
        return [(BumpKind.MAJOR, f"{where}: type {old.get('type')} -> {new.get('type')}")]
    found: list[Finding] = []
    if any(old.get(k) != new.get(k) for k in _WORDING):
        found.append((BumpKind.PATCH, f"{where}: description changed"))
    found += _property_findings(old, new, where, optional_removed)
    if old.get("items") != new.get("items"):
        found += schema_findings(old.get("items"), new.get("items"), f"{where}[]",
                                 optional_removed=optional_removed)
    rest = ("properties", "required", "items", *_WORDING)
    before = {k: v for k, v in old.items() if k not in rest}
    after = {k: v for k, v in new.items() if k not in rest}
    if _without_wording(before) != _without_wording(after):
        keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        found.append((BumpKind.MAJOR, f"{where}: {', '.join(keys)} changed"))
    return found


def _property_findings(old: dict, new: dict, where: str, optional_removed: BumpKind) -> list[Finding]:
    props_a, props_b = old.get("properties") or {}, new.get("properties") or {}
    req_a, req_b = set(old.get("required") or ()), set(new.get("required") or ())
    found: list[Finding] = []
    for key in sorted(props_a.keys() | props_b.keys()):
        at = f"{where}.{key}"
        if key not in props_a:
            found.append((BumpKind.MAJOR, f"required {at} added") if key in req_b
                         else (BumpKind.MINOR, f"optional {at} added"))
        elif key not in props_b:
            found.append((BumpKind.MAJOR if key in req_a else optional_removed, f"{at} removed"))
        else:
            if (key in req_a) != (key in req_b):
                found.append((BumpKind.MAJOR, f"{at} became {'required' if key in req_b else 'optional'}"))
            found += schema_findings(props_a[key], props_b[key], at, optional_removed=optional_removed)
    return found


def tool_findings(old: list, new: list, old_choice: str | None, new_choice: str | None) -> list[Finding]:
    """Tools (ToolSpec) compared by name: removed major, added minor, then their parameters."""
    a, b = {t.name: t for t in old}, {t.name: t for t in new}
    found: list[Finding] = []
    for name in sorted(a.keys() | b.keys()):
        if name not in b:
            found.append((BumpKind.MAJOR, f"tool {name!r} removed"))
        elif name not in a:
            found.append((BumpKind.MINOR, f"tool {name!r} added"))
        else:
            found += _one_tool(a[name], b[name])
    if old_choice != new_choice:
        found.append((BumpKind.MINOR, f"tool_choice {old_choice} -> {new_choice}"))
    return found


def _one_tool(old: Any, new: Any) -> list[Finding]:
    label = f"tool {old.name!r}"
    found = schema_findings(old.parameters, new.parameters, f"{label} parameters",
                            optional_removed=BumpKind.MINOR)
    if old.description != new.description:
        found.append((BumpKind.PATCH, f"{label} description changed"))
    if old.strict != new.strict:
        found.append((BumpKind.MINOR, f"{label} strict {old.strict} -> {new.strict}"))
    return found


def output_findings(old: Any, new: Any) -> list[Finding]:
    """The answer's contract: a format change or a stricter schema breaks its parsers."""
    found: list[Finding] = []
    if old.format != new.format:
        found.append((BumpKind.MAJOR, f"format {old.format} -> {new.format}"))
    if old.json_schema != new.json_schema:
        if old.json_schema is None or new.json_schema is None:
            found.append((BumpKind.MAJOR, "output schema " + ("added" if old.json_schema is None
                                                                else "removed")))
        else:
            found += schema_findings(old.json_schema, new.json_schema, "output",
                                     optional_removed=BumpKind.MAJOR)
    if old.strict != new.strict:
        found.append((BumpKind.MAJOR if new.strict else BumpKind.MINOR,
                      f"output strict {old.strict} -> {new.strict}"))
    return found
