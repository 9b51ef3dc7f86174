"""The running canaries as release.yaml states them: every one (`running_canaries`), or
the one a command names (`find_canary`), each a `CanaryTarget`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, UsageError
from .project import Project

if TYPE_CHECKING:
    from ..manifest import Target


@dataclass(frozen=True)
class CanaryTarget:
    """A running canary as the manifest states it."""

    name: str
    env: str
    segment: str | None
    stable: str
    version: str
    weight: float
    started: float              # when the canary started (unix seconds)
    overrides: dict[str, Any]   # the entry's policy override, if the manifest carries one



def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return _timestamp(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"{value!r} is not a timestamp", field="canary.started") from None


def _read_manifest(project: Project) -> dict:
    """release.yaml's environments, through the one reader the deploy commands use (a broken
    manifest is a file:line: field error, exit 2)."""
    path = project.path(project.config.manifest)
    if not path.exists():
        raise NotFoundError(f"no {project.config.manifest}", file=str(path),
                            fix="promote a version first")
    from .working_manifest import read_manifest

    return read_manifest(project).environments


def _target(name: str, env: str, segment: str | None, entry: Target) -> CanaryTarget | None:
    canary = entry.canary
    if canary is None or canary.weight <= 0:
        return None
    return CanaryTarget(name=name, env=env, segment=segment, stable=entry.active,
                        version=canary.version, weight=float(canary.weight),
                        started=_timestamp(canary.started) or 0.0,
                        overrides=dict(entry.analysis or {}))


def running_canaries(project: Project, env: str | None = None) -> list[CanaryTarget]:
    """Every running canary in the manifest (of one env, or all), segments included."""
    out = []
    envs = _read_manifest(project)
    if env is not None:
        _check_env(project, envs, env)
    for env_name, prompts in envs.items():
        if env is not None and env_name != env:
            continue
        for name, entry in prompts.items():
            for segment, target in [(None, entry), *entry.segments.items()]:
                found = _target(name, env_name, segment, target)
                if found is not None:
                    out.append(found)
    return out


def _check_env(project: Project, envs: dict, env: str) -> None:
    if env not in envs:
        raise NotFoundError(f"no environment {env!r}", file=project.config.manifest, field="--env",
                            fix=f"environments: {', '.join(sorted(envs)) or 'none yet'}")


def find_canary(project: Project, name: str, env: str, segment: str | None = None) -> CanaryTarget:
    envs = _read_manifest(project)
    _check_env(project, envs, env)
    entry = envs[env].get(name)
    where = env + (f"/{segment}" if segment else "")
    if entry is None:
        raise NotFoundError(f"{name} is not deployed in {where}", fix="see `promptctl status`")
    if segment is not None:
        entry = entry.segments.get(segment)
        if entry is None:
            raise NotFoundError(f"{name} has no segment {segment} in {env}")
    target = _target(name, env, segment, entry)
    if target is None:
        raise UsageError(f"{name} has no running canary in {where}",
                         fix=f"start one with `promptctl canary {name} VERSION --env {env} --weight 5`")
    return target
