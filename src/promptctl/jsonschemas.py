"""JSON Schemas of the files promptctl reads, generated from their pydantic models.

The generated schemas ship in `schemas/*.schema.json` (a test keeps each equal to its
model) so editors and CI validators can check files without importing promptctl.
Where a model accepts more than its fields say (a `before` validator folding shorthand),
the schema is widened here so it never rejects a file promptctl itself accepts.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("prompt", "suite", "manifest", "config")
# Where `init` writes the schemas in a prompt repo: committed, so every clone's editor finds them.
SCHEMA_DIR = ".schemas"
MODELINE = "# yaml-language-server: $schema="
# The file each schema describes, for titles and for the `$schema` comment of new files.
DESCRIBES = {"prompt": "prompt.yaml", "suite": "suite.yaml", "manifest": "release.yaml",
             "config": "promptctl.yaml"}


def file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def kind_of(path: str) -> str | None:
    """Which schema describes a repo file, by its name (prompts/x/prompt.yaml → prompt)."""
    base = path.rsplit("/", 1)[-1]
    return next((k for k, name in DESCRIBES.items() if name == base), None)


def with_modeline(path: str, text: str) -> str:
    """`text` whose first line points the YAML language server at the repo's schema.

    The path is relative to the file (the language server resolves it so), so it holds
    in every clone; an existing modeline is replaced, e.g. when `new --from` copies.
    """
    kind = kind_of(path)
    if kind is None:
        return text
    depth = path.count("/")
    line = f"{MODELINE}{'../' * depth}{SCHEMA_DIR}/{file_name(kind)}\n"
    if text.startswith(MODELINE):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return line + text


def generate(kind: str) -> dict[str, Any]:
    """The schema of one kind of file, built from its model now."""
    return _GENERATORS[kind]()


def shipped_text(kind: str) -> str:
    """The schema as shipped in the package (what `promptctl schema KIND` prints)."""
    return files("promptctl").joinpath(f"schemas/{file_name(kind)}").read_text(encoding="utf-8")


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    """Write every shipped schema into `directory` (init's `.schemas/`, or a refresh)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        target = directory / file_name(kind)
        target.write_text(shipped_text(kind), encoding="utf-8")
        written.append(target)
    return written


def regenerate_shipped() -> None:
    """Rewrite the package's schema files from the models (run after changing a model)."""
    folder = Path(__file__).parent / "schemas"
    for kind in KINDS:
        (folder / file_name(kind)).write_text(render(generate(kind)), encoding="utf-8")


def _headed(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": DRAFT, "title": title, **{k: v for k, v in schema.items() if k != "title"}}


def _prompt() -> dict[str, Any]:
    from .model import INPUT_TYPES, NAME_PATTERN, PromptSpec
    schema = PromptSpec.model_json_schema()
    defs = schema["$defs"]
    # `question: string` is shorthand for `question: {type: string}`.
    defs["InputSpec"] = {"anyOf": [
        {"type": "string", "enum": list(INPUT_TYPES), "description": "shorthand for {type: ...}"},
        defs["InputSpec"]]}
    defs["MessageSpec"]["oneOf"] = [{"required": ["content"]}, {"required": ["content_file"]}]
    schema["properties"]["name"]["pattern"] = f"^{NAME_PATTERN}$"
    schema["properties"]["inputs"]["propertyNames"] = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
    schema["oneOf"] = [{"required": [body]} for body in ("template", "template_file", "messages")]
    return _headed(schema, "promptctl prompt (prompts/<name>/prompt.yaml)")


def _suite() -> dict[str, Any]:
    from .evals.scorers import SCORERS
    from .evals.suite import GATE_RE, Suite
    schema = Suite.model_json_schema()
    metric = schema["$defs"]["MetricSpec"]
    # Keys beside the fixed ones are the scorer's params (`{type: contains, value: x}`).
    metric["additionalProperties"] = True
    metric["properties"]["type"]["enum"] = sorted(SCORERS)
    metric["properties"]["name"]["description"] = "defaults to the scorer type"
    schema["properties"]["gates"]["items"]["pattern"] = GATE_RE.pattern
    return _headed(schema, "promptctl eval suite (evals/<name>/suite.yaml)")


def _manifest() -> dict[str, Any]:
    from .manifest import json_schema
    return _headed(json_schema(), "promptctl release manifest (release.yaml)")


def _config() -> dict[str, Any]:
    from .model import Config
    return _headed(Config.model_json_schema(), "promptctl settings (promptctl.yaml)")


_GENERATORS: dict[str, Callable[[], dict[str, Any]]] = {
    "prompt": _prompt, "suite": _suite, "manifest": _manifest, "config": _config}
