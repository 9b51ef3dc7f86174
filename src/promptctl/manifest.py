"""release.yaml: what runs where. The validated model, and its text (parse, dump, schema).

The pure edits (promote, canary, stop, rollback) are in `manifest_edits`; writing the file
safely is `manifest_io`'s; the service layer owns the lock, the write and the commit.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, field_validator, model_validator

from .model import ENV_NAME_RULE, NAME_RE, PROMPT_NAME_RULE, StrictModel

ENV_RE = r"^[a-z0-9][a-z0-9_.-]*$"
DIGEST_RE = r"sha256:[0-9a-f]{64}"
_PIN_HELP = ("the content digest this version had when promote/canary wrote it; the runtime, "
             "verify and bundle refuse a tag whose content differs")


def _check_version(value: Any) -> str:
    from .versions import version_field   # semver only once a manifest is read

    return version_field(value)


def check_weight(value: float) -> float:
    if not 0 <= value <= 100:
        raise ValueError("weight is a percentage between 0 and 100")
    if round(value, 2) != value:
        raise ValueError("weight allows at most two decimals (e.g. 2.5 or 0.25)")
    return value


def _check_key(what: str, pattern: re.Pattern[str], rule: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):   # fullmatch: `$` would let a trailing newline through
            raise ValueError(f"{what} {value!r} is not valid: use {rule}")
        return value
    return AfterValidator(check)


EnvName = Annotated[str, _check_key("environment name", re.compile(ENV_RE), ENV_NAME_RULE)]
SegmentName = Annotated[str, _check_key("segment name", re.compile(ENV_RE), ENV_NAME_RULE)]
PromptName = Annotated[str, _check_key("prompt name", NAME_RE, PROMPT_NAME_RULE)]


class Canary(StrictModel):
    """A version taking `weight` percent of traffic; weight 0 is a stopped canary, kept as a record."""

    version: str
    digest: str | None = Field(default=None, pattern=DIGEST_RE, description=_PIN_HELP)
    weight: float = Field(ge=0, le=100, description="percent of traffic, two decimals at most")
    salt: str | None = Field(default=None, description="routing salt; default name:env:segment:version")
    started: datetime | None = None
    stopped: datetime | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: str) -> str:
        return _check_version(value)

    @field_validator("weight")
    @classmethod
    def _weight(cls, value: float) -> float:
        return check_weight(value)

    @property
    def running(self) -> bool:
        return self.weight > 0


class Target(StrictModel):
    """What serves one prompt in one env (or one segment of it)."""

    active: str = Field(description="the stable version serving traffic")
    digest: str | None = Field(default=None, pattern=DIGEST_RE, description=_PIN_HELP)
    canary: Canary | None = None
    model: str | None = Field(default=None, description="model name pin; overrides prompt.yaml")
    analysis: dict[str, Any] | None = Field(
        default=None, description="canary policy overrides for this entry (see promptctl.yaml canary:)")

    @field_validator("active", mode="before")
    @classmethod
    def _active(cls, value: str) -> str:
        return _check_version(value)

    @model_validator(mode="after")
    def _canary_differs(self) -> "Target":
        if self.canary and self.canary.running and self.canary.version == self.active:
            raise ValueError(f"canary version {self.canary.version} is already the active version")
        return self


class Entry(Target):
    """A prompt's entry in an environment: the default target plus optional segments."""

    segments: dict[SegmentName, Target] = Field(default_factory=dict)



class Manifest(StrictModel):
    """The whole of release.yaml."""

    environments: dict[EnvName, dict[PromptName, Entry]] = Field(default_factory=dict)

    def entry(self, env: str, name: str) -> Entry | None:
        return self.environments.get(env, {}).get(name)

    def exact(self, env: str, name: str, segment: str | None = None) -> Target | None:
        """The target for exactly this segment (None: the default entry); no fallback."""
        entry = self.entry(env, name)
        if entry is None or segment is None:
            return entry
        return entry.segments.get(segment)

    def target(self, env: str, name: str, segment: str | None = None) -> Target | None:
        """The target for a segment, falling back to the env's default entry."""
        entry = self.entry(env, name)
        if entry is None:
            return None
        if segment is not None and segment in entry.segments:
            return entry.segments[segment]
        return entry


# ---------------------------------------------------------------- parse and dump

def parse_manifest(text: str, file: str = "release.yaml") -> Manifest:
    """Validate release.yaml text; raises ValidationError with `file:line: field: message`."""
    return _parse_manifest(text, file)


@lru_cache(maxsize=8)
def _parse_manifest(text: str, file: str) -> Manifest:
    # status reads the working file, HEAD's and the history: mostly the same text, and a
    # manifest of thousands of entries is worth parsing once (edits build new models)
    from .yamlfile import parse_model

    return parse_model(Manifest, text, file)


def dump_manifest(manifest: Manifest) -> str:
    """YAML in a readable, stable key order (the model's field order, entries as written)."""
    data = manifest.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    for prompts in data["environments"].values():
        for entry in prompts.values():
            _tidy(entry)
            for seg in entry.get("segments", {}).values():
                _tidy(seg)
            if not entry.get("segments"):
                entry.pop("segments", None)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _tidy(target: dict[str, Any]) -> None:
    canary = target.get("canary")
    if canary and float(canary["weight"]).is_integer():
        canary["weight"] = int(canary["weight"])


def json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "promptctl release manifest (release.yaml)"
    return schema
