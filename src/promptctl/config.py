"""promptctl.yaml: its sections as typed models, read and validated once, here.

The loader checks the whole file when it reads it. A broken top-level setting stops every
command (nothing can find the prompts); a broken section that only some commands read
(`eval`, `providers`, `call_log`, `canary`) is kept as problems beside the config: `check`
reports them all, and the command that reads the section raises them, so `list` still
works while a typo sits in `canary:`. Every problem names the file, the line and the field.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, RootModel, field_validator
from pydantic import ValidationError as PydanticValidationError

from .canary.policy import CanarySettings, settings_error
from .errors import NotFoundError, Problem, RepoError, ValidationError
from .model import Config, StrictModel
from .wording import reword
from .yamlfile import key_lines, line_of, parse_model

CONFIG_FILE = "promptctl.yaml"


# ---------------------------------------------------------------- the sections

class EvalSettings(StrictModel):
    """`eval:`: where the eval history and response cache live, the promote/canary default."""

    history: str | None = Field(default=None, description="eval history file (SQLite)")
    cache: str | None = Field(default=None, description="response cache folder")
    require_eval: bool | None = Field(default=None, description="promote/canary need a passed eval")


AZURE_MISSING = ("required text is missing (e.g. endpoint: https://NAME.openai.azure.com, "
                 "deployment: gpt-4o, api_version: 2024-10-21)")


class AzureSettings(StrictModel):
    """`providers.openai.azure:`: an Azure OpenAI deployment instead of a base_url."""

    endpoint: str
    deployment: str
    api_version: str

    @field_validator("api_version", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted api_version 2024-10-21 as a date
        return value.isoformat() if isinstance(value, date) else value

    @field_validator("endpoint", "deployment", "api_version")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(AZURE_MISSING)
        return value.strip()


class ProviderSettings(StrictModel):
    """`providers.<kind>:`: a provider's connection settings; a suite's own value wins.

    The bounds are the eval suite's: a concurrency of 0 would wait forever."""

    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(60.0, gt=0, description="seconds for a whole attempt")
    retries: int = Field(3, ge=0, le=10)
    rpm: float | None = Field(None, gt=0)
    concurrency: int = Field(8, ge=1, le=512)
    max_response_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    azure: AzureSettings | None = None


class Providers(RootModel[dict[str, ProviderSettings]]):
    """`providers:`: settings by provider kind (`openai`, `anthropic`, `python`, ...)."""


class CallLogSettings(StrictModel):
    """`call_log:`: where the apps log their calls and `canary analyze` reads them."""

    path: str | None = Field(default=None, description=".sqlite/.db or .jsonl file")


# section -> (model, the wording of an unknown key, when tests and users know another one);
# `canary:` is the canary policy's own model (canary.policy), worded there
SECTIONS: dict[str, type[BaseModel]] = {"eval": EvalSettings, "providers": Providers,
                                        "call_log": CallLogSettings, "canary": CanarySettings}
_UNKNOWN = {"eval": lambda key: f"unknown setting (known: {', '.join(EvalSettings.model_fields)})",
            "providers": lambda key: f"unknown provider setting {key!r} (known: "
                                     f"{', '.join(sorted(ProviderSettings.model_fields))})"}


# ---------------------------------------------------------------- the loader

def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding promptctl.yaml."""
    try:
        start = start.resolve()
    except FileNotFoundError as exc:   # the shell's folder was deleted under it
        raise RepoError("the current folder no longer exists", fix="cd to the prompt repo, or pass -C DIR") from exc
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise RepoError(f"no {CONFIG_FILE} in {start} or any parent folder",
                    fix="run `promptctl init` or pass -C DIR")


def load_config(source: Any) -> Config:
    """promptctl.yaml from a FileSource, with every section validated (see the module doc)."""
    text = source.read(CONFIG_FILE)
    if text is None:
        raise NotFoundError(f"{CONFIG_FILE} not found", fix="run `promptctl init`")
    return parse_config(text)


def parse_config(text: str) -> Config:
    config = parse_model(Config, text, CONFIG_FILE)
    _validate_sections(config, text)
    return config


def section(config: Config, name: str) -> Any:
    """The typed section `name`; ValidationError with its problems when it is broken."""
    typed, problems = _sections(config)
    if problems.get(name):
        raise ValidationError(problems=problems[name])
    return typed.get(name)


def section_problems(config: Config) -> list[Problem]:
    """Every problem of every section, in file order (what `check` reports)."""
    _, problems = _sections(config)
    found = [p for name in problems for p in problems[name]]
    return sorted(found, key=lambda p: p.line or 0)


def eval_settings(config: Config) -> EvalSettings:
    return section(config, "eval")


def provider_settings(config: Config, kind: str) -> ProviderSettings | None:
    """`providers.<kind>` (the part before `:` of `python:mod:fn`), None when not set."""
    return section(config, "providers").root.get(kind.split(":", 1)[0])


def call_log_settings(config: Config) -> CallLogSettings:
    return section(config, "call_log")


def canary_settings(config: Config) -> CanarySettings:
    """promptctl.yaml's own `canary:` layer (a manifest entry may override it: see
    canary.policy.parse_policy)."""
    return section(config, "canary")


def _sections(config: Config) -> tuple[dict[str, Any], dict[str, list[Problem]]]:
    # a Config built in code (a bundle, a test) has no text: validated on first use, no lines
    if config._sections is None:
        _validate_sections(config, "")
    return config._sections


def _validate_sections(config: Config, text: str) -> None:
    lines = key_lines(text) if text else {}
    typed: dict[str, Any] = {}
    problems: dict[str, list[Problem]] = {}
    for name, model in SECTIONS.items():
        try:
            typed[name] = model.model_validate(getattr(config, name))
        except PydanticValidationError as exc:
            problems[name] = [_problem(name, err, model, lines) for err in exc.errors()]
    found = _cross_checks(config, lines)
    for name, problem in found:
        problems.setdefault(name, []).append(problem)
    config._sections = (typed, {k: v for k, v in problems.items() if v})


def _problem(name: str, err: Any, model: type[BaseModel], lines: dict) -> Problem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if name == "canary":
        return _canary_problem({**err, "loc": loc}, lines)
    if err["type"] == "extra_forbidden" and name in _UNKNOWN:
        key = str(loc[-1])
        if name == "providers":   # named on the provider, as `check` always has
            message, loc = _UNKNOWN[name](key), loc[:-1]
        else:
            message = _UNKNOWN[name](key)
    elif err["type"] == "missing" and "azure" in loc:
        message = AZURE_MISSING
    else:
        message = reword({**err, "loc": loc}, model)
    path = (name, *loc)
    return Problem(CONFIG_FILE, message, line=line_of(lines, path),
                   field=".".join(str(p) for p in path))


def _canary_problem(err: Any, lines: dict) -> Problem:
    # worded as a release.yaml override's error is (canary.policy), at the key's own line
    found = settings_error(err)
    message = f"{found.message} ({found.fix})" if found.fix else found.message
    return Problem(CONFIG_FILE, message, line=line_of(lines, ("canary", *err["loc"])),
                   field=found.field)


def _cross_checks(config: Config, lines: dict) -> list[tuple[str, Problem]]:
    """What one field's type cannot say: Azure only for openai, and not with a base_url
    (read from the raw section, so they show beside a type error of another provider)."""
    found = []
    for kind, settings in config.providers.items():
        if not isinstance(settings, dict) or settings.get("azure") is None:
            continue
        path = ("providers", kind, "azure")
        if kind != "openai":
            message = "azure settings apply to the openai provider only (move them under providers.openai)"
        elif settings.get("base_url"):
            message = "give azure or base_url, not both"
        else:
            continue
        found.append(("providers", Problem(CONFIG_FILE, message, line=line_of(lines, path),
                                           field=".".join(path))))
    return found
