"""Moving prompts in and back: `new --from-text` (a hardcoded prompt becomes a Jinja
template with declared inputs) and `restore` (a release's files back in the working tree)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UsageError
from ..prompt_files import PROMPT_FILE, check_name
from .project import Project

# `{name}`, `{name!r}`, `{name:>10}`, `{user.name}`, `{row[0]}` of str.format and f-strings;
# `{{` and `}}` are literal braces there.
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]{}]*\])*)"
                    r"(![rsa])?(:[^{}]*)?\}")


@dataclass
class Converted:
    template: str
    inputs: dict[str, str]                     # name -> input type
    notes: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)   # user.name → user: [name]


def convert_format_string(text: str) -> Converted:
    """`Hello {name}` → `Hello {{ name }}`, with the names as inputs."""
    inputs: dict[str, str] = {}
    notes: list[str] = []
    attributes: dict[str, list[str]] = {}

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name, rest, conversion, spec = match.groups()
        inputs.setdefault(name, _input_type(rest, spec))
        if rest.startswith("."):
            attributes.setdefault(name, []).append(rest[1:].split(".")[0].split("[")[0])
        if conversion or spec:
            notes.append(f"{token}: the {'conversion' if conversion else 'format spec'} "
                         f"{(conversion or spec)!r} was dropped (use a Jinja filter)")
        return "{{ " + name + rest + " }}"

    template = _FIELD.sub(replace, text)
    for leftover in ("{%", "{#"):
        if leftover in template:
            notes.append(f"the text contains {leftover!r}, which Jinja reads as a tag: "
                         "wrap that part in {% raw %}…{% endraw %}")
    return Converted(template=template, inputs=inputs, notes=notes, attributes=attributes)


def _input_type(rest: str, spec: str | None) -> str:
    if rest:
        return "object" if rest.startswith(".") else "any"
    if spec and spec[-1:] in "dnbox" and spec != ":":
        return "integer"
    if spec and spec[-1:] in "feEgG%":
        return "number"
    return "string"


def new_from_text(project: Project, name: str, source: Path, as_json: bool = False
                  ) -> tuple[list[str], list[str]]:
    """Scaffold prompts/<name>/ from a hardcoded prompt's text; returns (files, notes)."""
    from .scaffold import write_new

    check_name(name)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source} is not UTF-8 text", field="--from-text") from exc
    converted = convert_format_string(text)
    if not converted.template.strip():
        raise UsageError(f"{source} is empty", field="--from-text", fix="give the prompt's text")
    files = {PROMPT_FILE: _prompt_yaml(name, converted, as_json),
             "template.j2": converted.template if converted.template.endswith("\n")
             else converted.template + "\n",
             "@evals/suite.yaml": _suite_yaml(as_json),
             "@evals/cases.jsonl": _example_case(converted)}
    return write_new(project, name, files), converted.notes


def _prompt_yaml(name: str, converted: Converted, as_json: bool) -> str:
    spec: dict = {
        "name": name,
        "description": "TODO describe what this prompt does.",
        "model": {"provider": "openai", "name": "gpt-4o-mini-2024-07-18",
                  "params": {"temperature": 0}},
        "inputs": {k: {"type": t} for k, t in converted.inputs.items()},
        "template_file": "template.j2",
    }
    if as_json:
        # a stub to edit: the json_schema scorer checks every answer against it
        spec["output"] = {"format": "json", "schema": {
            "type": "object", "required": ["answer"],
            "properties": {"answer": {"type": "string"}}}}
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def _suite_yaml(as_json: bool) -> str:
    if as_json:
        return ("dataset: cases.jsonl\nmetrics:\n  - {name: valid_json, type: json_schema}\n"
                "gates:\n  - valid_json >= 1.0\n")
    return ("dataset: cases.jsonl\nmetrics:\n  - {name: answered, type: length, min: 1}\n"
            "gates:\n  - answered >= 1.0\n")


def _example_case(converted: Converted) -> str:
    import json
    examples = {"string": "TODO", "integer": 1, "number": 1.0, "any": "TODO"}
    inputs = {k: examples.get(t) if t in examples else
              {a: "TODO" for a in converted.attributes.get(k, [])}
              for k, t in converted.inputs.items()}
    return json.dumps({"id": "example", "inputs": inputs}) + "\n"


# ---------------------------------------------------------------- restore

@dataclass
class Restored:
    name: str
    version: str
    written: list[str]
    removed: list[str]
    shared: list[str]          # partials outside the prompt's folder (other prompts may use them)


def restore(project: Project, name: str, version: str, force: bool = False) -> Restored:
    """Write a release's files into the working tree, as they were released (digest-checked)."""
    from .project import load_version

    content = load_version(project, name, version)
    prompts = project.config.prompts_dir
    folder = project.prompt_path(name)
    targets = {f"{prompts}/{path}": text for path, text in content.files.items()}
    on_disk = sorted(p.relative_to(project.root).as_posix()
                     for p in (project.root / folder).glob("*") if p.is_file())
    extra = [p for p in on_disk if p not in targets]
    dirty = project.store.dirty_paths([*targets, *extra])
    if dirty and not force:
        raise UsageError(f"{dirty[0]} has uncommitted changes", field="restore",
                         fix="commit or stash them first, or pass --force to overwrite")
    for rel, text in targets.items():
        path = project.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for rel in extra:
        (project.root / rel).unlink()
    shared = sorted(rel for rel in targets if not rel.startswith(folder + "/"))
    return Restored(name, version.removeprefix("v"), sorted(targets),
                    extra, shared)


# ---------------------------------------------------------------- import

@dataclass
class ImportResult:
    source: str
    name: str
    written: list[str]
    unconverted: list[str]


def import_files(project: Project, paths: list[Path]) -> list[ImportResult]:
    """Each dotprompt `.prompt` / Prompty `.prompty` file as prompts/<name>/prompt.yaml.
    Every file is converted and validated before anything is written."""
    from ..errors import ValidationError
    from ..yamlfile import parse_model
    from ..importing import from_dotprompt, from_prompty
    from ..model import PromptSpec

    converted: list = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix not in (".prompt", ".prompty"):
            raise UsageError(f"{path}: not a .prompt (dotprompt) or .prompty (Prompty) file",
                             field="FILE")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text", field="FILE") from exc
        make = from_dotprompt if suffix == ".prompt" else from_prompty
        item = make(text, str(path), path.stem)
        body = _dump(item.spec)
        target = f"{project.prompt_path(item.name)}/{PROMPT_FILE}"
        try:
            parse_model(PromptSpec, body, target)
        except ValidationError as exc:
            raise ValidationError(f"{path}: the converted prompt is not valid: {exc.message}",
                                  problems=exc.problems) from exc
        if (project.root / project.prompt_path(item.name)).exists() or \
                any(c[1].name == item.name for c in converted):
            raise UsageError(f"{project.prompt_path(item.name)} already exists", field="FILE",
                             fix="rename the file, or remove the existing prompt")
        converted.append((path, item, target, body))
    results = []
    for path, item, target, body in converted:
        file = project.root / target
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"# Imported from {path.name} by `promptctl import`.\n{body}",
                        encoding="utf-8")
        results.append(ImportResult(str(path), item.name, [target], item.unconverted))
    return results


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (templates) as `|` blocks, readable and diffable."""


def _block_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value and not value.startswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _block_str)


def _dump(data: dict) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
