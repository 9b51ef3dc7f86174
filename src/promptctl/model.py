"""Typed structures for everything promptctl reads from files.

pydantic models validate at the boundary (`yamlfile.py` turns their errors into
`file:line: field: message`); everything past that boundary trusts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator,
                      model_validator)

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*"
NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
# How every message states the naming rules (prompt names are paths; env names are not).
PROMPT_NAME_RULE = "lowercase letters, digits, '-', '_' and '/' between folders"
ENV_NAME_RULE = "lowercase letters, digits, '-', '_', '.'"
INPUT_TYPES = ("string", "integer", "number", "boolean", "list", "object", "any", "messages")
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOOL_CHOICES = ("auto", "none", "required")
DEFAULT_TAG_FORMAT = "{name}/v{version}"


class StrictModel(BaseModel):
    """Every file-format model: unknown keys are errors, a loaded value never changes, and
    an aliased field (`schema`) can be given by either name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputSpec(StrictModel):
    type: Literal["string", "integer", "number", "boolean", "list", "object", "any",
                  "messages"] = "string"
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
    "list": (list,), "object": (dict,), "messages": (list,),
}


class ModelSpec(StrictModel):
    provider: str = "openai"
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ContentPart(StrictModel):
    """One part of a list-form message: text, or an image by URL (either may use inputs)."""

    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _url_object(cls, value: Any) -> Any:
        # The OpenAI wire form `image_url: {url, detail}` is accepted as written.
        if isinstance(value, dict) and isinstance(value.get("image_url"), dict):
            inner = value["image_url"]
            return {**value, "image_url": inner.get("url"),
                    **({"detail": inner["detail"]} if "detail" in inner else {})}
        return value

    @model_validator(mode="after")
    def _filled(self) -> "ContentPart":
        if self.type == "text" and (self.text is None or self.image_url is not None):
            raise ValueError("a text part gives `text` (and no image_url)")
        if self.type == "image_url" and (self.image_url is None or self.text is not None):
            raise ValueError("an image part gives `image_url: URL` (and no text)")
        return self


class MessageSpec(StrictModel):
    """A chat message, or `{placeholder: NAME}`: the messages of a `messages` input."""

    role: Literal["system", "developer", "user", "assistant", "tool"] | None = None
    content: str | list[ContentPart] | None = None
    content_file: str | None = None
    tool_call_id: str | None = None
    name: str | None = None
    placeholder: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "MessageSpec":
        if self.placeholder is not None:
            extra = [k for k in ("role", "content", "content_file", "tool_call_id", "name")
                     if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"a placeholder entry has only `placeholder` (drop `{extra[0]}`)")
            return self
        if self.role is None:
            raise ValueError(f"give `role` ({', '.join(CHAT_ROLES)}) or `placeholder: INPUT`")
        if (self.content is None) == (self.content_file is None):
            raise ValueError("give exactly one of `content` or `content_file`")
        if isinstance(self.content, list) and not self.content:
            raise ValueError("list-form `content` needs at least one part")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs `tool_call_id` (the id of the call it answers)")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError("only a `role: tool` message takes `tool_call_id`")
        return self


class ToolSpec(StrictModel):
    """A function the model may call; `parameters` is the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    @field_validator("name")
    @classmethod
    def _valid_tool_name(cls, value: str) -> str:
        if not TOOL_NAME_RE.match(value):
            raise ValueError("use letters, digits, '_' and '-' (at most 64)")
        return value

    @field_validator("parameters")
    @classmethod
    def _valid_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        from .schemacheck import schema_problem

        if value.get("type") != "object":
            raise ValueError("the arguments' schema must have `type: object`")
        problem = schema_problem(value)
        if problem:
            raise ValueError(f"not a valid JSON Schema: {problem}")
        return value


class OutputSpec(StrictModel):
    format: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool = False

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from .schemacheck import schema_problem

        problem = schema_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"not a valid JSON Schema: {problem}")
        return value

    @model_validator(mode="after")
    def _schema_needs_json(self) -> "OutputSpec":
        if self.strict and self.json_schema is None:
            raise ValueError("`strict: true` needs a `schema` to hold the answer to")
        return self


class PromptSpec(StrictModel):
    """The contents of `prompts/<name>/prompt.yaml`."""

    name: str
    description: str = ""
    model: ModelSpec
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    template: str | None = None
    template_file: str | None = None
    messages: list[MessageSpec] | None = None
    output: OutputSpec = Field(default_factory=OutputSpec)
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"use {PROMPT_NAME_RULE}")
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

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[ToolSpec]) -> list[ToolSpec]:
        names = [tool.name for tool in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"tool {twice[0]!r} is declared twice (tool names are unique)")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _known_choice(cls, value: str | None, info: ValidationInfo) -> str | None:
        names = [tool.name for tool in info.data.get("tools") or []]
        if value is None or value == "none":
            return value
        if not names:
            raise ValueError("no tools are declared (add `tools:` or drop tool_choice)")
        if value not in TOOL_CHOICES and value not in names:
            raise ValueError(f"{value!r} is not {', '.join(TOOL_CHOICES)} or a declared tool "
                             f"({', '.join(names)})")
        return value

    @property
    def kind(self) -> Literal["text", "chat"]:
        return "chat" if self.messages is not None else "text"


class PublishTarget(StrictModel):
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


class Config(StrictModel):
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
    environments: list[str] = Field(
        default_factory=list, description="the environments promote may write to (others need --create-env)")
    # (typed sections, problems by section), filled by promptctl.config when it loads the file
    _sections: Any = PrivateAttr(default=None)

    @field_validator("prompts_dir", "evals_dir", "manifest", "state_dir")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        # every read and write of promptctl stays in the repo; '..' or '/x' would leave it
        parts = value.replace("\\", "/").split("/")
        if not value.strip() or value.startswith(("/", "\\", "~")) or ".." in parts or ":" in parts[0]:
            raise ValueError(f"{value!r} leaves the repo (use a path relative to promptctl.yaml, "
                             "without '..')")
        return value.rstrip("/")

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: list[str]) -> list[str]:
        from .manifest import ENV_RE

        for name in value:
            if not re.fullmatch(ENV_RE, name):
                raise ValueError(f"environment name {name!r} is not valid: use {ENV_NAME_RULE}")
        return value

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
        from .tags import BAD_REF

        if not value.startswith("refs/notes/") or BAD_REF.search(value.removeprefix("refs/")):
            raise ValueError("must be a git notes ref such as refs/notes/promptctl")
        return value


@dataclass(frozen=True)
class Body:
    """One part of a prompt as compiled: the text template, a chat message, or a placeholder.

    Template fields hold loader names (keys of `PromptContent.templates`).
    """

    role: str                                  # "text", a chat role, or "placeholder"
    template: str | None = None                # string content (inline or content_file)
    parts: tuple[tuple[str, str, str | None], ...] = ()   # (text | image_url, loader, detail)
    tool_call_id: str | None = None
    name: str | None = None                    # the message's `name`; a placeholder's input


@dataclass(frozen=True)
class PromptContent:
    """A prompt as released or as in the working tree: its spec and every file it uses.

    `files` maps repo-relative paths to text: the prompt's own files and the
    partials its templates include. The digest is computed over exactly these.
    """

    spec: PromptSpec
    files: dict[str, str]
    templates: dict[str, str]   # loader name -> source, including partials
    bodies: tuple[Body, ...]             # in order; see Body
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
