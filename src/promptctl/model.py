"""Typed structures for everything promptctl reads from files.

pydantic models validate at the boundary (`files.py` turns their errors into
`file:line: field: message`); everything past that boundary trusts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*"
NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
INPUT_TYPES = ("string", "integer", "number", "boolean", "list", "object", "any")
DEFAULT_TAG_FORMAT = "{name}/v{version}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputSpec(_Strict):
    type: Literal["string", "integer", "number", "boolean", "list", "object", "any"] = "string"
    required: bool = True
    default: Any = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `question: string` is shorthand for `question: {type: string}`.
        if isinstance(value, str):
            return {"type": value}
        if isinstance(value, dict) and "default" in value and "required" not in value:
            return {**value, "required": False}
        return value

    @model_validator(mode="after")
    def _default_fits(self) -> "InputSpec":
        # the default is rendered when the caller omits the input: it must honour the contract
        if self.default is None:
            return self
        if self.required:
            raise ValueError("a required input takes no default (drop `default`, or set required: false)")
        kinds = _INPUT_TYPES.get(self.type)
        if kinds and (not isinstance(self.default, kinds) or
                      (isinstance(self.default, bool) and bool not in kinds)):
            raise ValueError(f"default {self.default!r} is not of type {self.type} "
                             f"(change the default or the type)")
        return self


_INPUT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "list": (list,), "object": (dict,),
}


class ModelSpec(_Strict):
    provider: str = "openai"
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class MessageSpec(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str | None = None
    content_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "MessageSpec":
        if (self.content is None) == (self.content_file is None):
            raise ValueError("give exactly one of `content` or `content_file`")
        return self


class OutputSpec(_Strict):
    format: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class PromptSpec(_Strict):
    """The contents of `prompts/<name>/prompt.yaml`."""

    name: str
    description: str = ""
    model: ModelSpec
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    template: str | None = None
    template_file: str | None = None
    messages: list[MessageSpec] | None = None
    output: OutputSpec = Field(default_factory=OutputSpec)
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError("use lowercase letters, digits, '-', '_' and '/' between folders")
        return value

    @field_validator("inputs")
    @classmethod
    def _valid_input_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for key in value:
            if not key.isidentifier():
                raise ValueError(f"input name {key!r} is not a valid identifier")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> "PromptSpec":
        bodies = [b for b in (self.template, self.template_file, self.messages) if b is not None]
        if len(bodies) != 1:
            raise ValueError("give exactly one of `template`, `template_file` or `messages`")
        if self.messages is not None and not self.messages:
            raise ValueError("`messages` needs at least one message")
        return self

    @property
    def kind(self) -> Literal["text", "chat"]:
        return "chat" if self.messages is not None else "text"


class PublishTarget(_Strict):
    """Where an environment's bundle goes after each deploy: a file or folder, or a command."""

    path: str | None = Field(default=None, description="file, or folder (ending in /) to write ENV.json into")
    command: list[str] | None = Field(default=None, description="argv run without a shell; "
                                      "{bundle} is the bundle's path, {env} the environment")
    timeout: float = Field(default=300.0, gt=0, description="seconds a command may take")

    @model_validator(mode="after")
    def _one_kind(self) -> "PublishTarget":
        if (self.path is None) == (self.command is None):
            raise ValueError("give exactly one of `path` or `command`")
        if self.command is not None and not self.command:
            raise ValueError("`command` needs at least the program to run")
        if self.path is not None and not self.path.strip():
            raise ValueError("`path` is empty")
        return self

    @property
    def label(self) -> str:
        return f"path {self.path}" if self.path is not None else f"command {' '.join(self.command or [])}"


class Config(_Strict):
    """`promptctl.yaml`: where things live and project-wide defaults."""

    prompts_dir: str = "prompts"
    evals_dir: str = "evals"
    manifest: str = "release.yaml"
    state_dir: str = ".promptctl"
    tag_format: str = DEFAULT_TAG_FORMAT
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    eval: dict[str, Any] = Field(default_factory=dict)
    canary: dict[str, Any] = Field(default_factory=dict)
    call_log: dict[str, Any] = Field(default_factory=dict)
    notes_ref: str = "refs/notes/promptctl"   # where eval attestations live (git notes)
    publish: dict[str, list[PublishTarget]] = Field(default_factory=dict)   # env -> targets

    @field_validator("prompts_dir", "evals_dir", "manifest", "state_dir")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        # every read and write of promptctl stays in the repo; '..' or '/x' would leave it
        parts = value.replace("\\", "/").split("/")
        if not value.strip() or value.startswith(("/", "\\", "~")) or ".." in parts or ":" in parts[0]:
            raise ValueError(f"{value!r} leaves the repo (use a path relative to promptctl.yaml, "
                             "without '..')")
        return value.rstrip("/")

    @field_validator("tag_format")
    @classmethod
    def _tag_format_fields(cls, value: str) -> str:
        from .tags import check_format

        problem = check_format(value)
        if problem:
            raise ValueError(f"{problem} (default: {DEFAULT_TAG_FORMAT})")
        return value

    @field_validator("notes_ref")
    @classmethod
    def _notes_ref(cls, value: str) -> str:
        from .tags import _BAD_REF

        if not value.startswith("refs/notes/") or _BAD_REF.search(value.removeprefix("refs/")):
            raise ValueError("must be a git notes ref such as refs/notes/promptctl")
        return value


@dataclass(frozen=True)
class PromptContent:
    """A prompt as released or as in the working tree: its spec and every file it uses.

    `files` maps repo-relative paths to text: the prompt's own files and the
    partials its templates include. The digest is computed over exactly these.
    """

    spec: PromptSpec
    files: dict[str, str]
    templates: dict[str, str]   # loader name -> source, including partials
    bodies: tuple[tuple[str, str], ...]  # (role or "text", loader name) in order
    digest: str

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Release:
    """One release tag of a prompt."""

    name: str
    version: str
    tag: str
    digest: str | None = None
    message: str = ""
    commit: str = ""
    tag_sha: str = ""
    date: str = ""
    author: str = ""
    annotated: bool = True


@dataclass
class CheckReport:
    problems: list = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
