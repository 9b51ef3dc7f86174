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


# Hover help in editors, per (definition or "" for the top level, property). The manifest's
# models carry their own descriptions; these models keep theirs here to stay compact.
_HELP: dict[str, dict[tuple[str, str], str]] = {
    "prompt": {
        ("", "name"): "The prompt's name: its folder under prompts/ (lowercase, digits, - _ and /).",
        ("", "model"): "Provider, pinned model snapshot and call params.",
        ("", "inputs"): "The input contract: each variable's type, whether required, a default.",
        ("", "template"): "A text prompt, inline (Jinja).",
        ("", "template_file"): "A text prompt in a sibling .j2 file.",
        ("", "messages"): "A chat prompt: a list of {role, content | content_file} and "
                          "{placeholder: INPUT} entries (a `messages` input inserted there).",
        ("", "output"): "The answer's format: text, or json with a JSON Schema (sent to the "
                        "provider as its structured-output request).",
        ("", "tools"): "Functions the model may call: {name, description, parameters}.",
        ("", "tool_choice"): "auto, none, required, or the name of a declared tool.",
        ("", "config"): "Free-form data for the app, returned by the runtime; never sent to a model.",
        ("", "metadata"): "Free-form data about the prompt, returned by the runtime.",
        ("ModelSpec", "provider"): "openai, anthropic, echo or python:module:function.",
        ("ModelSpec", "name"): "A pinned snapshot, e.g. gpt-4o-2024-08-06.",
        ("ModelSpec", "params"): "Passed to the provider, e.g. {temperature: 0.2, max_tokens: 300}.",
        ("MessageSpec", "content_file"): "A sibling .j2 file holding the message's template.",
        ("MessageSpec", "content"): "Text (Jinja), or a list of parts: {type: text, text} and "
                                    "{type: image_url, image_url: URL}.",
        ("MessageSpec", "tool_call_id"): "With role: tool, the id of the call it answers.",
        ("MessageSpec", "placeholder"): "The name of a `messages` input inserted here.",
        ("OutputSpec", "schema"): "JSON Schema the answer must match (with format: json).",
        ("OutputSpec", "strict"): "Ask the provider to hold the answer to the schema exactly.",
        ("ToolSpec", "name"): "The function's name: letters, digits, _ and - (at most 64).",
        ("ToolSpec", "description"): "What the tool does (Jinja: may use inputs).",
        ("ToolSpec", "parameters"): "JSON Schema (type: object) of the arguments.",
    },
    "suite": {
        ("", "dataset"): "Golden dataset file(s) beside the suite: JSONL, CSV or YAML.",
        ("", "provider"): "Default: the prompt's model.provider.",
        ("", "model"): "Default: the prompt's model.name.",
        ("", "metrics"): "Scorers applied to every case; extra keys are the scorer's params.",
        ("", "gates"): "`METRIC OP NUMBER` on a metric's mean, e.g. accuracy >= 0.9.",
        ("", "repeat"): "Run each case N times (non-deterministic models).",
        ("", "max_errors"): "Provider errors tolerated before the run fails.",
        ("", "baseline"): "When a drop against --baseline counts as a regression.",
        ("MetricSpec", "threshold"): "The score at which a case passes this metric.",
        ("MetricSpec", "weight"): "Weight in the overall score.",
        ("BaselinePolicy", "tolerance"): "Drops at or below this never count.",
        ("BaselinePolicy", "alpha"): "Significance level of the paired test.",
    },
    "config": {
        ("", "tag_format"): "Release tag names; must contain {name} and {version}.",
        ("", "state_dir"): "Local, git-ignored state: caches, eval history, call log.",
        ("", "providers"): "Per provider: base_url, api_key_env, rpm, concurrency, timeout, retries.",
        ("", "prices"): "USD per million tokens per model: {input: .., output: ..}.",
        ("", "eval"): "Eval settings, e.g. {require_eval: true}.",
        ("", "canary"): "Canary policy defaults: steps, min_calls, min_duration, metrics, source.",
        ("", "call_log"): "Where the canary controller reads calls: {path: ...}.",
    },
}


def _described(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    for (definition, prop), text in _HELP.get(kind, {}).items():
        node = schema["$defs"][definition] if definition else schema
        node["properties"][prop]["description"] = text
    return schema


def _prompt() -> dict[str, Any]:
    from .model import INPUT_TYPES, NAME_PATTERN, PromptSpec
    schema = PromptSpec.model_json_schema()
    defs = schema["$defs"]
    # `question: string` is shorthand for `question: {type: string}`.
    defs["InputSpec"] = {"anyOf": [
        {"type": "string", "enum": list(INPUT_TYPES), "description": "shorthand for {type: ...}"},
        defs["InputSpec"]]}
    message = defs["MessageSpec"]
    message["oneOf"] = [{"required": [key]} for key in ("content", "content_file", "placeholder")]
    message["anyOf"] = [{"required": ["role"]}, {"required": ["placeholder"]}]
    message["if"] = {"properties": {"role": {"const": "tool"}}, "required": ["role"]}
    message["then"] = {"required": ["tool_call_id"]}
    part = defs["ContentPart"]
    # `image_url: {url, detail}` (the OpenAI wire form) is folded into `image_url` + `detail`.
    part["properties"]["image_url"] = {"anyOf": [
        {"type": "string"},
        {"type": "object", "required": ["url"], "additionalProperties": False,
         "properties": {"url": {"type": "string"},
                        "detail": {"enum": ["auto", "low", "high"]}}},
        {"type": "null"}], "default": None}
    part["oneOf"] = [{"properties": {"type": {"const": "text"}}, "required": ["text"]},
                     {"properties": {"type": {"const": "image_url"}}, "required": ["image_url"]}]
    schema["properties"]["name"]["pattern"] = f"^{NAME_PATTERN}$"
    schema["properties"]["inputs"]["propertyNames"] = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
    schema["oneOf"] = [{"required": [body]} for body in ("template", "template_file", "messages")]
    return _headed(_described("prompt", schema), "promptctl prompt (prompts/<name>/prompt.yaml)")


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
    return _headed(_described("suite", schema), "promptctl eval suite (evals/<name>/suite.yaml)")


def _manifest() -> dict[str, Any]:
    from .manifest import json_schema
    return _headed(json_schema(), "promptctl release manifest (release.yaml)")


def _config() -> dict[str, Any]:
    from .model import Config
    return _headed(_described("config", Config.model_json_schema()),
                   "promptctl settings (promptctl.yaml)")


_GENERATORS: dict[str, Callable[[], dict[str, Any]]] = {
    "prompt": _prompt, "suite": _suite, "manifest": _manifest, "config": _config}
