"""Services of the canary controller: analyze one canary, apply the decision.

`analyze` reads release.yaml (the working tree's, which is the committed one: every
manifest write commits), the policy from promptctl.yaml (overridden by the entry's
`analysis:` mapping when the manifest has one) and the metrics (call log or
Prometheus), and returns a Decision; it never writes. `apply` carries a decision out
through the deploy services so every decision is a commit with its numbers in the
message, and posts the webhook (`canary_notify`). The running canaries are read by
`canary_targets`; `canary_watch` loops over them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


from ..runtime.log_target import log_path
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
from ..errors import MetricSourceError, PromptctlError, UsageError, WebhookError
from .canary_notify import event, notify, webhook_url
from .canary_targets import CanaryTarget, find_canary
from .project import Project


@dataclass(frozen=True)
class Analysis:
    target: CanaryTarget
    policy: Policy
    step_started: float
    observations: Observations | None
    decision: Decision
    error: str | None = None



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
    """The call log the app writes (`log_target.log_path`)."""
    from ..config import call_log_settings

    return log_path(project.root, call_log_settings(project.config).path)


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
