"""Prompts from other tools as promptctl prompt.yaml data: dotprompt `.prompt` files
(YAML frontmatter, Handlebars, Picoschema) and Prompty `.prompty` files (YAML frontmatter,
Jinja, `role:` lines). Pure conversion: text in, a prompt spec and templates out, with
every construct that could not be converted listed (and kept as a Jinja comment) rather
than dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .safeyaml import load_yaml

ROLES = ("system", "developer", "user", "assistant")
_PICO_TYPES = {"string": "string", "integer": "integer", "number": "number",
               "boolean": "boolean", "any": "any", "array": "list", "object": "object"}
_JSON_TYPES = {"list": "array", "any": None}


@dataclass
class Imported:
    name: str
    spec: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)      # template files next to it
    unconverted: list[str] = field(default_factory=list)     # "line N: what and why"


def split_frontmatter(text: str, file: str) -> tuple[dict, str, int]:
    """(frontmatter, body, the body's first line)."""
    text = text.removeprefix("\ufeff")
    match = re.match(r"---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, re.S)
    if not match:
        return {}, text, 1
    data = load_yaml(match.group(1), file) or {}
    if not isinstance(data, dict):
        data = {}
    return data, text[match.end():], match.group(0).count("\n") + 1


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    """`data[key]` when it is a mapping; {} when it is missing or of another kind."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def slug(name: str) -> str:
    out = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return out or "imported"


# ---------------------------------------------------------------- Handlebars → Jinja

_MUSTACHE = re.compile(r"\{\{\{?(~?)\s*(.*?)\s*(~?)\}?\}\}", re.S)
_PATH = re.compile(r"^[A-Za-z_@][\w.@]*(\.\[\d+\])*$")


def handlebars_to_jinja(text: str, first_line: int = 1):  # noqa: C901 (one tokenizer loop, one branch per Handlebars tag)
    """(Jinja text, the names it reads, what could not be converted, the (offset, role) of
    each {{role "x"}} marker in the Jinja text)."""
    out: list[str] = []
    names: list[str] = []
    unconverted: list[str] = []
    stack: list[tuple[str, str]] = []        # (block kind, loop variable)
    roles: list[tuple[int, str]] = []
    pos = 0

    def var(path: str) -> str:
        loop = next((v for kind, v in reversed(stack) if kind == "each"), None)
        if path in ("this", ".") and loop:
            return loop
        if path.startswith("this.") and loop:
            return f"{loop}.{path[5:]}"
        if path == "@index":
            return "loop.index0"
        if path in ("@first", "@last"):
            return f"loop.{path[1:]}"
        root = path.split(".")[0]
        if not root.startswith("@") and root not in [v for _, v in stack] and root not in names:
            names.append(root)
        return path

    for match in _MUSTACHE.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        line = first_line + text.count("\n", 0, match.start())
        inner = match.group(2)
        head, _, rest = inner.partition(" ")
        rest = rest.strip()
        if head == "role" and rest.strip("'\"") in ROLES:
            roles.append((len("".join(out)), rest.strip("'\"")))
            continue
        if head == "#if" and _PATH.match(rest):
            stack.append(("if", ""))
            out.append("{% if " + var(rest) + " %}")
        elif head == "#unless" and _PATH.match(rest):
            stack.append(("if", ""))
            out.append("{% if not " + var(rest) + " %}")
        elif head == "#each" and _PATH.match(rest):
            item = _singular(rest.split(".")[-1])
            out.append("{% for " + item + " in " + var(rest) + " %}")
            stack.append(("each", item))
        elif inner == "else" and stack:
            out.append("{% else %}")
        elif head in ("/if", "/unless") and stack and stack[-1][0] == "if":
            stack.pop()
            out.append("{% endif %}")
        elif head == "/each" and stack and stack[-1][0] == "each":
            stack.pop()
            out.append("{% endfor %}")
        elif _PATH.match(inner) and not inner.startswith(("#", "/", ">", "!")):
            out.append("{{ " + var(inner) + " }}")
        elif inner.startswith("!"):
            out.append("{# " + inner.lstrip("!-").strip() + " #}")
        else:
            unconverted.append(f"line {line}: {match.group(0)!r} ({_why(head)})")
            out.append("{# unconverted: " + match.group(0).replace("#}", "# }") + " #}")
    out.append(text[pos:])
    for kind, _ in stack:
        unconverted.append(f"an unclosed {{{{#{kind}}}}} block (closed at the end)")
        out.append("{% endfor %}" if kind == "each" else "{% endif %}")
    return "".join(out), names, unconverted, roles


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 1 else "item"


def _why(head: str) -> str:
    if head.startswith(">"):
        return "a Handlebars partial: put its text in prompts/_partials/ and {% include %} it"
    if head in ("media", "history", "section"):
        return f"dotprompt's {head} helper has no promptctl equivalent"
    if head.startswith("#"):
        return f"the {head[1:]} block helper has no conversion"
    return "a helper call with arguments has no conversion"


def split_roles(text: str, roles: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """Messages from the offsets of {{role}} markers; text before the first is `system`."""
    if not roles:
        return []
    messages = []
    head = text[:roles[0][0]].strip()
    if head:
        messages.append(("system", head))
    for i, (at, role) in enumerate(roles):
        end = roles[i + 1][0] if i + 1 < len(roles) else len(text)
        body = text[at:end].strip("\n")
        if body.strip():
            messages.append((role, body.strip() + "\n"))
    return messages


# ---------------------------------------------------------------- schemas

def picoschema(schema: Any, notes: list[str], where: str) -> dict[str, Any]:
    """Picoschema (`name: string, description`, `tags?(array): string`) to JSON Schema."""
    if not isinstance(schema, dict):
        return {"type": "object"}
    if schema.get("type") in ("object", "array", "string", "number", "integer", "boolean"):
        return schema                                   # already JSON Schema
    props: dict[str, Any] = {}
    required: list[str] = []
    for key, value in schema.items():
        name, optional, kind = _pico_key(str(key))
        if not name.startswith("("):
            (required if not optional else []).append(name)
        props[name] = _pico_value(value, kind, notes, f"{where}.{name}")
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def _pico_key(key: str) -> tuple[str, bool, str | None]:
    match = re.match(r"^([\w-]+)(\?)?(?:\((\w+)\))?$", key)
    if not match:
        return key, False, None
    return match.group(1), bool(match.group(2)), match.group(3)


def _pico_value(value: Any, kind: str | None, notes: list[str], where: str) -> dict[str, Any]:
    if kind == "array":
        return {"type": "array", "items": _pico_value(value, None, notes, where)}
    if kind == "object" or isinstance(value, dict):
        return picoschema(value, notes, where)
    if kind == "enum" and isinstance(value, list):
        return {"enum": value}
    text = str(value)
    base, _, description = text.partition(",")
    base = base.strip()
    out: dict[str, Any] = {} if base == "any" else {"type": base}
    if base not in _PICO_TYPES:
        notes.append(f"{where}: unknown Picoschema type {base!r} (kept as written)")
    if description.strip():
        out["description"] = description.strip()
    return out


def inputs_from_schema(schema: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    required = set(schema.get("required", []))
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type")
        spec: dict[str, Any] = {"type": {"array": "list"}.get(kind, kind) if kind in
                                ("string", "integer", "number", "boolean", "array", "object")
                                else "any"}
        if prop.get("description"):
            spec["description"] = prop["description"]
        if name in defaults:
            spec["default"] = defaults[name]
        elif name not in required:
            spec["required"] = False
        inputs[name] = spec
    return inputs


# ---------------------------------------------------------------- the two formats

def from_dotprompt(text: str, file: str, stem: str) -> Imported:
    meta, body, first = split_frontmatter(text, file)
    notes: list[str] = []
    template, names, unconverted, roles = handlebars_to_jinja(body, first)
    name = slug(str(meta.get("name") or stem))
    spec: dict[str, Any] = {"name": name, "description": str(meta.get("description") or
                                                             f"Imported from {file}.")}
    spec["model"] = _model(meta.get("model"), meta.get("config"), notes)
    inp = _mapping(meta, "input")
    schema = picoschema(inp.get("schema") or {}, notes, "input.schema")
    defaults = _mapping(inp, "default")
    inputs = inputs_from_schema(schema, defaults)
    for var in names:
        inputs.setdefault(var, {"type": "any"})
    spec["inputs"] = inputs
    _body(spec, template, roles)
    out = _mapping(meta, "output")
    if out.get("format") == "json" or out.get("schema"):
        spec["output"] = {"format": "json"}
        if out.get("schema"):
            spec["output"]["schema"] = picoschema(out["schema"], notes, "output.schema")
    spec.update(_tools(meta.get("tools"), notes))
    for key in sorted(set(meta) - {"name", "description", "model", "config", "input", "output",
                                   "tools"}):
        notes.append(f"frontmatter {key!r} has no promptctl field (kept under metadata)")
        spec.setdefault("metadata", {})[key] = meta[key]
    return Imported(name, spec, unconverted=[*unconverted, *notes])


def from_prompty(text: str, file: str, stem: str) -> Imported:
    meta, body, first = split_frontmatter(text, file)
    notes: list[str] = []
    name = slug(str(meta.get("name") or stem))
    spec: dict[str, Any] = {"name": name, "description": str(meta.get("description") or
                                                             f"Imported from {file}.")}
    model = _mapping(meta, "model")
    conf = _mapping(model, "configuration")
    model_name = conf.get("azure_deployment") or conf.get("name") or model.get("name") or "gpt-4o-mini"
    kind = str(conf.get("type") or "openai")
    if kind not in ("openai", "azure_openai", "azure"):
        notes.append(f"model.configuration.type {kind!r}: imported as provider openai")
    spec["model"] = {"provider": "openai", "name": str(model_name),
                     "params": dict(model.get("parameters") or {})}
    if meta.get("template") not in (None, "jinja2") and not isinstance(meta.get("template"), dict):
        notes.append(f"template {meta['template']!r}: promptctl templates are Jinja")
    declared = _mapping(meta, "inputs")
    sample = _mapping(meta, "sample")
    spec["inputs"] = _prompty_inputs(declared, sample, _jinja_names(body))
    roles = [(m.start(), m.group(1)) for m in
             re.finditer(r"^(system|user|assistant|developer):[ \t]*$", body, re.M)]
    template = body
    if roles:                       # drop the role lines themselves
        marks = []
        for start, role in roles:
            line_end = body.index("\n", start) + 1 if "\n" in body[start:] else len(body)
            marks.append((start, line_end, role))
        pieces, cursor, offsets = [], 0, []
        for start, end, role in marks:
            pieces.append(body[cursor:start])
            offsets.append((len("".join(pieces)), role))
            cursor = end
        pieces.append(body[cursor:])
        template, roles = "".join(pieces), offsets
    _body(spec, template, roles)
    out = meta.get("outputs")
    if isinstance(out, dict) and out:
        spec["output"] = {"format": "json", "schema": {"type": "object", "properties": {
            k: {kk: vv for kk, vv in (v or {}).items() if kk in ("type", "description")}
            for k, v in out.items() if isinstance(v, dict)}}}
    spec.update(_tools(meta.get("tools"), notes))
    for key in sorted(set(meta) - {"name", "description", "model", "inputs", "sample",
                                   "outputs", "tools", "template"}):
        notes.append(f"frontmatter {key!r} has no promptctl field (kept under metadata)")
        spec.setdefault("metadata", {})[key] = meta[key]
    return Imported(name, spec, unconverted=notes)


def _jinja_names(body: str) -> list[str]:
    from jinja2 import meta
    from jinja2.sandbox import SandboxedEnvironment
    try:
        return sorted(meta.find_undeclared_variables(SandboxedEnvironment().parse(body)))
    except Exception:  # noqa: BLE001 - `promptctl check` reports the syntax error after import
        return []


def _prompty_inputs(declared: dict, sample: dict, used: list[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key, value in declared.items():
        value = value if isinstance(value, dict) else {"type": "string"}
        kind = {"array": "list", "bool": "boolean", "int": "integer", "float": "number",
                "str": "string"}.get(str(value.get("type")), value.get("type", "string"))
        spec: dict[str, Any] = {"type": kind if kind in _PICO_TYPES.values() else "any"}
        if value.get("description"):
            spec["description"] = str(value["description"])
        if "default" in value:
            spec["default"] = value["default"]
        inputs[key] = spec
    for key, value in sample.items():
        inputs.setdefault(key, {"type": _type_of(value)})
    for key in used:
        inputs.setdefault(key, {"type": "any"})
    return inputs


def _type_of(value: Any) -> str:
    return ("boolean" if isinstance(value, bool) else "integer" if isinstance(value, int) else
            "number" if isinstance(value, float) else "list" if isinstance(value, list) else
            "object" if isinstance(value, dict) else "string")


def _body(spec: dict[str, Any], template: str, roles: list[tuple[int, str]]) -> None:
    messages = split_roles(template, roles)
    if messages:
        spec["messages"] = [{"role": r, "content": c} for r, c in messages]
    else:
        spec["template"] = template.strip("\n") + "\n"


def _model(model: Any, config: Any, notes: list[str]) -> dict[str, Any]:
    text = str(model or "openai/gpt-4o-mini")
    provider, _, name = text.partition("/")
    if not name:
        provider, name = "openai", text
    if provider not in ("openai", "anthropic"):
        notes.append(f"model {text!r}: provider {provider!r} imported as openai (an "
                     "OpenAI-compatible endpoint; set base_url in promptctl.yaml)")
        provider = "openai"
    params = dict(config) if isinstance(config, dict) else {}
    if "maxOutputTokens" in params:
        params["max_tokens"] = params.pop("maxOutputTokens")
    if "topP" in params:
        params["top_p"] = params.pop("topP")
    return {"provider": provider, "name": name, "params": params}


def _tools(tools: Any, notes: list[str]) -> dict[str, Any]:
    """Tool definitions carried over; a bare name (a tool registered in code) is listed."""
    out = []
    for tool in tools or []:
        if isinstance(tool, dict) and tool.get("name"):
            params = tool.get("parameters") or tool.get("inputSchema") or {"type": "object",
                                                                          "properties": {}}
            if params.get("type") != "object":
                params = picoschema(params, notes, f"tools.{tool['name']}")
            out.append({"name": str(tool["name"]), "description": str(tool.get("description", "")),
                        "parameters": params})
        else:
            notes.append(f"tool {tool!r} is only a name (defined in code): add its "
                         "parameters under tools:")
    return {"tools": out} if out else {}
