"""release.yaml: what runs where. A validated model, pure edits, and an atomic locked write.

The edit functions never touch disk: they take a Manifest and return a new one plus a
`Change` describing it, so they are tested in memory and the service layer owns the
lock, the write and the commit.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterator

import yaml
from pydantic import AfterValidator, Field, field_validator, model_validator

from .errors import ManifestError
from .locking import fsync_dir
from .model import ENV_NAME_RULE, NAME_RE, PROMPT_NAME_RULE, StrictModel

ENV_RE = r"^[a-z0-9][a-z0-9_.-]*$"
DIGEST_RE = r"sha256:[0-9a-f]{64}"
_PIN_HELP = ("the content digest this version had when promote/canary wrote it; the runtime, "
             "verify and bundle refuse a tag whose content differs")


def _check_version(value: Any) -> str:
    from .versions import version_field   # semver only once a manifest is read

    return version_field(value)


def _check_weight(value: float) -> float:
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
        return _check_weight(value)

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
    from .files import parse_model

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


# ---------------------------------------------------------------- pure edits

@dataclass(frozen=True)
class Change:
    """What an edit did, for the commit message and the CLI."""

    action: str            # promote | canary | stop | rollback
    name: str
    env: str
    segment: str | None
    version: str
    weight: float | None = None
    previous: str | None = None
    noop: bool = False          # nothing to write: the entry is already as asked
    restart: bool = False       # a canary's measurement window started again

    @property
    def where(self) -> str:
        return f"{self.env}/{self.segment}" if self.segment else self.env

    def summary(self) -> str:
        if self.noop:
            return f"{self.name} {self.version} is already at {_pct(self.weight)}% in {self.where}"
        if self.restart:
            return f"restart canary {self.name} {self.version} at {_pct(self.weight)}% in {self.where}"
        if self.action == "canary":
            return f"canary {self.name} {self.version} at {_pct(self.weight)}% in {self.where}"
        if self.action == "stop":
            return f"stop canary {self.name} {self.version} in {self.where}"
        if self.action == "rollback":
            return f"rollback {self.name} to {self.version} in {self.where}"
        return f"promote {self.name} {self.version} to {self.where}"

    def trailers(self) -> str:
        rows = [("Promptctl-Action", self.action), ("Promptctl-Prompt", self.name),
                ("Promptctl-Env", self.env), ("Promptctl-Segment", self.segment),
                ("Promptctl-Version", self.version),
                ("Promptctl-Weight", None if self.weight is None else _pct(self.weight)),
                ("Promptctl-Previous", self.previous),
                ("Promptctl-Restart", "yes" if self.restart else None)]
        return "\n".join(f"{k}: {v}" for k, v in rows if v is not None)


def _pct(weight: float | None) -> str:
    return f"{weight:g}"


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _replace(manifest: Manifest, env: str, name: str, segment: str | None,
             target: Target | None) -> Manifest:
    """A new manifest where (env, name, segment) is `target` (None removes a segment)."""
    envs = {k: dict(v) for k, v in manifest.environments.items()}
    prompts = envs.setdefault(env, {})
    if segment is None:
        entry = prompts.get(name)
        segments = entry.segments if entry else {}
        prompts[name] = Entry(**_fields(target), segments=segments)
    else:
        entry = prompts[name]
        segments = dict(entry.segments)
        segments[segment] = Target(**_fields(target))
        prompts[name] = entry.model_copy(update={"segments": segments})
    return Manifest(environments=envs)


def _fields(target: Target) -> dict[str, Any]:
    # every Target field: an edit must never drop a pin or a per-entry canary policy
    return {"active": target.active, "digest": target.digest, "canary": target.canary,
            "model": target.model, "analysis": target.analysis}


def promote(manifest: Manifest, env: str, name: str, version: str,
            segment: str | None = None, digest: str | None = None) -> tuple[Manifest, Change]:
    """Make `version` active; a canary of that same version is done and is cleared."""
    _check_names(env, name, version, segment)
    if segment is not None and manifest.entry(env, name) is None:
        raise ManifestError(f"{name} has no default version in {env}", field=f"{env}.{name}",
                            fix=f"promote a version to {env} without --segment first")
    current = manifest.exact(env, name, segment)
    if current is not None and current.active == version and not (
            current.canary and current.canary.version == version):
        raise ManifestError(f"{name} {version} is already active in "
                            f"{env + ('/' + segment if segment else '')}", fix="nothing to do")
    canary = current.canary if current else None
    if canary is not None and canary.version == version:
        canary = None
    model = current.model if current else None
    analysis = current.analysis if current else None
    if digest is None and current is not None and current.canary and current.canary.version == version:
        digest = current.canary.digest      # a promoted canary keeps the pin it was tried with
    new = Target(active=version, digest=digest, canary=canary, model=model, analysis=analysis)
    change = Change("promote", name, env, segment, version,
                    previous=current.active if current else None)
    return _replace(manifest, env, name, segment, new), change


def canary(manifest: Manifest, env: str, name: str, version: str, weight: float,
           segment: str | None = None, *, now: datetime | None = None,
           salt: str | None = None, digest: str | None = None,
           restart: bool = False) -> tuple[Manifest, Change]:
    """Start or re-weight a canary; weight 0 stops it and keeps the record."""
    _check_names(env, name, version, segment)
    try:
        weight = _check_weight(float(weight))
    except ValueError as exc:
        raise ManifestError(str(exc), field="--weight", fix="give 0 < PCT <= 100") from exc
    current = manifest.exact(env, name, segment)
    where = env + (f"/{segment}" if segment else "")
    if current is None:
        raise ManifestError(f"{name} has no active version in {where}",
                            fix=f"run `promptctl promote {name} VERSION --env {env}"
                                f"{f' --segment {segment}' if segment else ''}` first")
    if weight == 0:
        running = current.canary
        if running is not None and running.running and running.version != version:
            raise ManifestError(f"the canary running in {where} is {running.version}, not {version}",
                                fix=f"stop it with `--weight 0` on {running.version} or `promptctl rollback`")
        return stop(manifest, env, name, segment, now=now)
    if current.active == version:
        raise ManifestError(f"{name} {version} is already active in {where}",
                            fix="a canary needs a different version")
    old = current.canary
    now = now or now_utc()
    same = old is not None and old.version == version and old.running
    if same and not restart and weight == old.weight and (salt or old.salt) == old.salt:
        return manifest, Change("canary", name, env, segment, version, weight=weight, noop=True)
    if same and not restart:
        new_canary = old.model_copy(update={"weight": weight, "salt": salt or old.salt,
                                            "digest": digest or old.digest})
    else:   # a new canary, or --restart: a new measurement window (same salt: same users)
        new_canary = Canary(version=version, digest=digest or (old.digest if same else None),
                            weight=weight, salt=salt or (old.salt if same else None), started=now)
    new = current.model_copy(update={"canary": new_canary})
    change = Change("canary", name, env, segment, version, weight=weight, restart=same and restart,
                    previous=f"{old.version}@{_pct(old.weight)}%" if old and old.running else None)
    return _replace(manifest, env, name, segment, _as_target(new)), change


def stop(manifest: Manifest, env: str, name: str, segment: str | None = None, *,
         now: datetime | None = None) -> tuple[Manifest, Change]:
    """Set a running canary's weight to 0, keeping its record (version, salt, started)."""
    current = manifest.exact(env, name, segment)
    if current is None or current.canary is None or not current.canary.running:
        raise ManifestError(f"{name} has no running canary in {env}" + (f"/{segment}" if segment else ""),
                            fix="see `promptctl status`")
    stopped = current.canary.model_copy(update={"weight": 0.0, "stopped": now or now_utc()})
    new = current.model_copy(update={"canary": stopped})
    change = Change("stop", name, env, segment, current.canary.version, weight=0,
                    previous=f"{current.canary.version}@{_pct(current.canary.weight)}%")
    return _replace(manifest, env, name, segment, _as_target(new)), change


def rollback(manifest: Manifest, env: str, name: str, segment: str | None = None, *,
             to: str | None = None, now: datetime | None = None,
             digest: str | None = None) -> tuple[Manifest, Change]:
    """Stop a running canary; else make `to` (the previous or a chosen version) active."""
    current = manifest.exact(env, name, segment)
    where = env + (f"/{segment}" if segment else "")
    if current is None:
        raise ManifestError(f"{name} has nothing deployed in {where}", fix="see `promptctl status`")
    if current.canary is not None and current.canary.running and to is None:
        return stop(manifest, env, name, segment, now=now)
    if to is None:
        raise ManifestError(f"no earlier active version of {name} in {where}",
                            fix="name one with --to VERSION")
    if to == current.active:
        raise ManifestError(f"{name} {to} is already active in {where}", fix="nothing to do")
    canary_ = current.canary
    if canary_ is not None and canary_.running:
        canary_ = canary_.model_copy(update={"weight": 0.0, "stopped": now or now_utc()})
    if canary_ is not None and canary_.version == to:
        canary_ = None
    new = Target(active=to, digest=digest, canary=canary_, model=current.model,
                 analysis=current.analysis)
    change = Change("rollback", name, env, segment, to, previous=current.active)
    return _replace(manifest, env, name, segment, new), change


def _as_target(value: Target) -> Target:
    return Target(**_fields(value))


def _check_names(env: str, name: str, version: str, segment: str | None) -> None:
    if not re.fullmatch(ENV_RE, env):
        raise ManifestError(f"environment name {env!r} is not valid", field="--env",
                            fix=f"use {ENV_NAME_RULE}")
    if segment is not None and not re.fullmatch(ENV_RE, segment):
        raise ManifestError(f"segment name {segment!r} is not valid", field="--segment",
                            fix=f"use {ENV_NAME_RULE}")
    if not NAME_RE.fullmatch(name):
        raise ManifestError(f"prompt name {name!r} is not valid", field="NAME",
                            fix=f"use {PROMPT_NAME_RULE}")
    try:
        _check_version(version)
    except ValueError as exc:
        raise ManifestError(str(exc), field="VERSION") from exc


# ---------------------------------------------------------------- disk

@contextmanager
def locked(state_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Serialise read-edit-write-commit of the manifest across processes."""
    from .locking import write_lock

    with write_lock(state_dir, timeout):
        yield


def write_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see old or new, never half."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(folder)
