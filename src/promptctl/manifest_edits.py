"""Edits of release.yaml that never touch disk.

Each takes a Manifest and returns a new one plus a `Change` describing it, so they are
tested in memory and the service layer owns the lock, the write and the commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import ManifestError
from .manifest import ENV_RE, Canary, Entry, Manifest, Target, check_weight
from .model import ENV_NAME_RULE, NAME_RE, PROMPT_NAME_RULE
from .versions import version_field


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
             target: Target) -> Manifest:
    """A new manifest where (env, name, segment) is `target`."""
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
        weight = check_weight(float(weight))
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
    # the running canary of this same version, which a new weight continues
    same = old if old is not None and old.version == version and old.running else None
    if same is not None and not restart and weight == same.weight and (salt or same.salt) == same.salt:
        return manifest, Change("canary", name, env, segment, version, weight=weight, noop=True)
    if same is not None and not restart:
        new_canary = same.model_copy(update={"weight": weight, "salt": salt or same.salt,
                                             "digest": digest or same.digest})
    else:   # a new canary, or --restart: a new measurement window (same salt: same users)
        new_canary = Canary(version=version,
                            digest=digest or (same.digest if same is not None else None),
                            weight=weight, salt=salt or (same.salt if same is not None else None),
                            started=now)
    new = current.model_copy(update={"canary": new_canary})
    change = Change("canary", name, env, segment, version, weight=weight,
                    restart=same is not None and restart,
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
        version_field(version)
    except ValueError as exc:
        raise ManifestError(str(exc), field="VERSION") from exc
