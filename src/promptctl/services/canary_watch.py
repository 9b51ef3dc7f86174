"""`promptctl canary watch`: analyze every running canary each interval, apply the
decisions, retry publishes that failed after their commit."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import PromptctlError
from .canary import Analysis, analyze_target, apply
from .canary_notify import webhook_url
from .canary_targets import running_canaries
from .project import Project, open_project


@dataclass(frozen=True)
class WatchEvent:
    """One thing the controller did: `look` (a pass starts; `count` canaries running),
    `analysis`, `applied` (a decision committed), `publish` (a retried publish), `idle`."""

    kind: str
    time: float
    analysis: Analysis | None = None
    change: Any = None
    count: int = 0
    env: str | None = None
    error: str | None = None


def watch_events(project: Project, *, env: str | None = None, interval: float = 60.0,
                 apply_decisions: bool = True, webhook: str | None = None,
                 call_log: Path | None = None, iterations: int | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[WatchEvent]:
    """Analyze every running canary each `interval` seconds (forever unless `iterations`),
    applying decisions; consecutive metric-source failures per canary count towards the
    policy's `max_errors`; a publish that failed after its commit is retried each pass."""
    from ..errors import PublishError
    from .publish import publish

    root = project.root
    webhook_url(project, webhook)   # a bad URL stops the loop before it starts
    failures: dict[tuple, int] = {}
    unpublished: dict[str, str] = {}           # env -> the last publish error
    done = 0
    while iterations is None or done < iterations:
        project = open_project(root)   # each pass sees the manifest and settings as they are now
        for stale in sorted(unpublished):
            try:
                publish(project, stale)
                del unpublished[stale]
                yield WatchEvent("publish", time.time(), env=stale)
            except PromptctlError as exc:
                unpublished[stale] = exc.one_line()
                yield WatchEvent("publish", time.time(), env=stale, error=exc.one_line())
        running = running_canaries(project, env)
        yield WatchEvent("look" if running else "idle", time.time(), count=len(running))
        for target in running:
            key = (target.name, target.env, target.segment, target.version)
            analysis = analyze_target(project, target, time.time(), call_log, failures.get(key, 0))
            failures[key] = failures.get(key, 0) + 1 if analysis.error else 0
            change = None
            if apply_decisions:
                try:
                    change = apply(project, analysis, webhook=webhook)
                except PromptctlError as exc:   # a sidecar keeps watching; report and go on
                    change = getattr(exc, "change", None)
                    if isinstance(exc, PublishError):
                        unpublished[target.env] = exc.one_line()
                    analysis = replace(analysis, error=exc.one_line())
            yield WatchEvent("analysis", time.time(), analysis=analysis)
            if change is not None:
                yield WatchEvent("applied", time.time(), analysis=analysis, change=change,
                                 env=target.env)
        done += 1
        if iterations is None or done < iterations:
            sleep(interval)
    if unpublished:
        first = sorted(unpublished)[0]
        raise PublishError(f"{first} is still not published: {unpublished[first]}",
                           fix=f"fix the target, then `promptctl publish --env {first}`")


def watch(project: Project, **options: Any) -> Iterator[Analysis]:
    """The analyses of `watch_events` alone."""
    for event in watch_events(project, **options):
        if event.analysis is not None and event.kind == "analysis":
            yield event.analysis
