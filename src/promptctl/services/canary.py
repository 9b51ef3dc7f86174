"""Services of the canary controller: analyze one canary, apply the decision, watch them all.

`analyze` reads release.yaml (the working tree's, which is the committed one: every
manifest write commits), the policy from promptctl.yaml (overridden by the entry's
`analysis:` mapping when the manifest has one) and the metrics (call log or
Prometheus), and returns a Decision; it never writes. `apply` carries a decision out
through the deploy services so every decision is a commit with its numbers in the
message, and posts the webhook.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator


from ..runtime.calllog import ENV_VAR, default_log_path
from ..canary.decide import (
    Action,
    Decision,
    Direction,
    MetricKind,
    MetricPolicy,
    Observations,
    Policy,
    decide,
    parse_policy,
)
from ..canary.prometheus_source import PrometheusSource
from ..canary.selection import Selection
from ..canary.sources import read_call_log
from ..errors import MetricSourceError, NotFoundError, PromptctlError, UsageError, WebhookError
from .project import Project, open_project

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


@dataclass(frozen=True)
class Analysis:
    target: CanaryTarget
    policy: Policy
    step_started: float
    observations: Observations | None
    decision: Decision
    error: str | None = None


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


def step_started(project: Project, target: CanaryTarget) -> float:
    """When the current weight was set: the last manifest commit that set this canary's
    weight (from the deploy commits' trailers), else the canary's `started`."""
    try:
        log = project.store.log(paths=(project.config.manifest,))
    except PromptctlError:      # no commits yet, or git missing: the manifest's own date
        return target.started
    want = {"Promptctl-Action": "canary", "Promptctl-Prompt": target.name,
            "Promptctl-Env": target.env, "Promptctl-Version": target.version}
    for entry in log:
        trailers = entry.trailers
        if all(trailers.get(k) == v for k, v in want.items()) and \
                trailers.get("Promptctl-Segment") == target.segment:
            return max(float(entry.committed), target.started)
    return target.started


def call_log_path(project: Project) -> Path:
    """$PROMPTCTL_CALL_LOG, else promptctl.yaml `call_log: {path}`, else the default."""
    from ..config import call_log_settings

    configured = os.environ.get(ENV_VAR) or call_log_settings(project.config).path
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else project.root / path
    return default_log_path(project.root)


# Earlier looks re-read at these fractions of the step so far: the running intersection
# of their confidence sequences is what a verdict stands on (see canary.evaluate_metric).
# Two keep the re-reading to one more pass over the step's calls.
EARLIER_LOOKS = (1 / 3, 2 / 3)


class _Reader:
    """Reads one canary's observations from its metric source, at any time in the step."""

    def __init__(self, project: Project, target: CanaryTarget, raw_policy: dict, since: float,
                 log: Path | None) -> None:
        self.target, self.since = target, since
        source = raw_policy.get("source") or {}
        self.prometheus = None
        if isinstance(source, dict) and source.get("type") == "prometheus":
            if not source.get("url"):
                raise UsageError("needs a url", field="canary.source.url")
            self.prometheus = PrometheusSource(source["url"])
        self.log = log or call_log_path(project)

    def selection(self, until: float) -> Selection:
        t = self.target
        return Selection(t.name, t.env, t.stable, t.version, since=self.since,
                         segment=t.segment, until=until, weight=t.weight)

    def observe(self, policy: Policy, until: float) -> Observations:
        if self.prometheus is not None:
            return self.prometheus.observations(self.selection(until), policy.metrics, until)
        return read_call_log(self.log, self.selection(until), policy.metrics)

    def with_recorded_scores(self, policy: Policy, until: float) -> Policy:
        """The policy plus an observe-only row for every score the calls recorded that it
        does not declare: reported, never gating (Prometheus has no such listing)."""
        if self.prometheus is not None:
            return policy
        from ..canary.sources import recorded_scores
        declared = {m.name for m in policy.metrics}
        extra = sorted(recorded_scores(self.log, self.selection(until)) - declared)
        return replace(policy, metrics=policy.metrics + tuple(
            MetricPolicy(name, MetricKind.SCORE, Direction.HIGHER, mode="observe")
            for name in extra))


def analyze(project: Project, name: str, env: str, segment: str | None = None, *,
            now: float | None = None, call_log: Path | None = None,
            source_errors: int = 0) -> Analysis:
    """The controller's verdict on one running canary; reads only, never writes."""
    target = find_canary(project, name, env, segment)
    return analyze_target(project, target, now if now is not None else time.time(), call_log,
                    source_errors)


def analyze_target(project: Project, target: CanaryTarget, now: float, log: Path | None,
             source_errors: int) -> Analysis:
    raw = {**(project.config.canary or {})}
    policy = _policy(project, target, raw)
    merged = {**raw, **target.overrides}
    since = step_started(project, target)
    reader = _Reader(project, target, merged, since, log)
    earlier: list[Observations] = []
    try:
        policy = reader.with_recorded_scores(policy, now)
        obs = reader.observe(policy, now)
        earlier = [reader.observe(policy, since + (now - since) * f) for f in EARLIER_LOOKS
                   if now > since]
        error = None
    except MetricSourceError as exc:
        obs, error = None, exc.one_line()
        source_errors += 1
    decision = decide(policy, obs, weight=target.weight, elapsed=now - since,
                      source_errors=source_errors, earlier=earlier)
    return Analysis(target, policy, since, obs, decision, error)


def _policy(project: Project, target: CanaryTarget, raw: dict) -> Policy:
    """The merged policy; a bad value is blamed on the file that holds it (promptctl.yaml's
    own canary: was checked when it was loaded)."""
    from ..config import canary_settings

    canary_settings(project.config)
    try:
        return parse_policy(raw, target.overrides)
    except UsageError as exc:
        entry = f"environments.{target.env}.{target.name}" + (
            f".segments.{target.segment}" if target.segment else "")
        field = f"{entry}.analysis" + (exc.field or "").removeprefix("canary")
        raise exc.reworded(file=exc.file or project.config.manifest, field=field) from exc


def webhook_url(project: Project, override: str | None = None) -> str | None:
    """The webhook to notify, checked before any decision is applied (a typo must not turn
    a committed rollback into an error)."""
    from ..canary.policy import check_webhook
    from ..config import canary_settings

    if override:
        return check_webhook(override, "--webhook")
    return canary_settings(project.config).webhook   # checked when promptctl.yaml was loaded


def event(analysis: Analysis) -> dict:
    """The JSON body posted to the webhook on advance, promote and rollback."""
    t, d = analysis.target, analysis.decision
    return {"event": d.action.value, "prompt": t.name, "env": t.env, "segment": t.segment,
            "stable": t.stable, "canary": t.version, "from_weight": d.current_weight,
            "to_weight": d.weight, "reasons": list(d.reasons), "summary": d.summary(),
            "metrics": [{"name": m.name, "verdict": m.verdict.value, "stable": m.stable,
                         "canary": m.canary, "reason": m.reason, "observe": m.observe,
                         "interval": None if m.difference is None else
                         [m.difference.low, m.difference.high]} for m in d.metrics],
            "srm": None if d.srm is None else d.srm.as_dict(),
            "time": time.time()}


def notify(url: str, body: dict, *, timeout: float = 10.0) -> None:
    """POST the event; a failing webhook is an external-service error (exit 3)."""
    import httpx
    try:
        httpx.post(url, json=body, timeout=timeout).raise_for_status()
    except httpx.HTTPError as exc:
        safe = redact_url(url)
        detail = redact_url(str(exc).replace(url, safe))
        raise WebhookError(f"webhook {safe} failed: {detail}") from None


_SECRET_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{16,}$")
_URL = re.compile(r"https?://[^\s'\"<>]+")


def redact_url(text: str) -> str:
    """Every URL in `text` without its credentials: user:password, query values, and path
    segments that look like tokens (Slack and Discord hooks carry the secret in the path)."""
    from urllib.parse import urlsplit, urlunsplit

    def one(match: re.Match) -> str:
        try:
            parts = urlsplit(match[0])
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return "<url redacted>"
        netloc = ("***@" if parts.username or parts.password else "") + host + port
        path = "/".join("***" if _SECRET_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
        query = "&".join(f"{kv.split('=', 1)[0]}=***" for kv in parts.query.split("&") if kv)
        return urlunsplit((parts.scheme, netloc, path, query, ""))
    return _URL.sub(one, text)


def apply(project: Project, analysis: Analysis, *, webhook: str | None = None) -> Any:
    """Carry out an advance/promote/rollback through the manifest commands (one commit each,
    the decision's numbers in its message); hold does nothing. Returns the deploy Change."""
    d, t = analysis.decision, analysis.target
    url = webhook_url(project, webhook)
    if d.action is Action.HOLD:
        return None
    from ..errors import PublishError
    from . import deploy
    why = f"canary analysis: {d.summary()}"
    published: PublishError | None = None
    try:
        if d.action is Action.ADVANCE:
            change = deploy.canary(project, t.name, t.version, t.env, d.weight,
                                   segment=t.segment, why=why)
        elif d.action is Action.PROMOTE:
            change = deploy.promote(project, t.name, t.version, t.env, segment=t.segment, why=why)
        else:
            change = deploy.rollback(project, t.name, t.env, segment=t.segment, why=why)
    except PublishError as exc:    # committed, not published: still notify, then report it
        published, change = exc, exc.change
    if url:
        try:
            notify(url, event(analysis))
        except WebhookError as exc:
            # The manifest change is committed already: say so, so nobody re-applies by hand.
            raise exc.reworded(change=change, fix=f"{change.summary()} was applied and "
                                                  f"committed; only the notification failed"
                               ) from exc
    if published is not None:
        raise published
    return change


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
