"""The canary controller's core: policy, per-metric verdicts and the decision (pure).

Vocabulary follows Argo Rollouts / Flagger: a canary takes `steps` of traffic weight;
at each step the analysis advances it, promotes it, holds it, or rolls it back.
Metric data comes in as `Observations` (see `sqlite_source`, `jsonl_source` and
`prometheus_source` for the call log and Prometheus readers); nothing here touches disk, network or the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping, Sequence

from .policy import (
    DEFAULT_METRICS,
    Direction,
    MetricKind,
    MetricPolicy,
    Policy,
    parse_duration,
    parse_policy,
)
from .srm import RoutingCheck, SrmAction, SrmResult, check_srm
from .stats import Interval, Moments, diff_interval, mean_interval

__all__ = ["Action", "DEFAULT_METRICS", "Decision", "Direction", "MetricKind", "MetricPolicy",
           "MetricResult", "Observations", "Policy", "VariantData", "Verdict", "decide",
           "evaluate_metric", "parse_duration", "parse_policy"]


class Verdict(str, Enum):
    NO_DATA = "no_data"
    PASS = "pass"               # non-inferior: worse by less than the tolerance, proven
    FAIL = "fail"               # regression beyond the tolerance (or a bound), proven
    INCONCLUSIVE = "inconclusive"


class Action(str, Enum):
    ADVANCE = "advance"
    PROMOTE = "promote"
    HOLD = "hold"
    ROLLBACK = "rollback"


# --- observations and verdicts -------------------------------------------------------------


@dataclass(frozen=True)
class VariantData:
    """What a metric source saw for one variant since the step started."""

    version: str
    calls: int = 0
    errors: int = 0
    keys: int = 0
    metrics: Mapping[str, Moments] = field(default_factory=dict)   # per-key moments by metric


@dataclass(frozen=True)
class Observations:
    stable: VariantData
    canary: VariantData
    source: str = ""
    routing: RoutingCheck | None = None   # logged buckets re-checked (call log only)


@dataclass(frozen=True)
class MetricResult:
    name: str
    verdict: Verdict
    stable: float | None          # display units: rate, milliseconds (geometric mean), score
    canary: float | None
    difference: Interval | None   # canary - stable, display units (latency: relative change)
    threshold: float              # the tolerance, display units
    critical: bool
    reason: str
    observe: bool = False         # reported only: never gates (mode observe, undeclared score)


def _display(metric: MetricPolicy, value: float) -> float:
    return math.exp(value) if metric.kind is MetricKind.LATENCY else value


def _display_diff(metric: MetricPolicy, iv: Interval) -> Interval:
    if metric.kind is MetricKind.LATENCY:   # log-ratio → relative change
        return Interval(*(math.expm1(x) if math.isfinite(x) else x
                          for x in (iv.estimate, iv.low, iv.high)))
    return iv


def evaluate_metric(metric: MetricPolicy, obs: Observations, policy: Policy,
                    earlier: Sequence[Observations] = ()) -> MetricResult:
    """Compare canary with stable on one metric: no data / pass / fail / inconclusive.

    `earlier` are the observations of earlier looks in this step: the verdict is taken on
    the running intersection of their confidence sequences and this one (still valid at
    the same level), so a verdict does not flip back without new evidence."""
    s = obs.stable.metrics.get(metric.name, Moments())
    c = obs.canary.metrics.get(metric.name, Moments())
    stable_v = _display(metric, s.mean) if s.n else None
    canary_v = _display(metric, c.mean) if c.n else None

    def result(verdict: Verdict, shown: Interval | None, reason: str) -> MetricResult:
        return MetricResult(metric.name, verdict, stable_v, canary_v, shown, metric.tolerance,
                            metric.critical, reason, not metric.gating)

    if s.n < policy.min_keys or c.n < policy.min_keys:
        return result(Verdict.NO_DATA, None, _no_data_reason(metric, obs, s, c, policy))
    bern = metric.kind is MetricKind.ERROR_RATE
    alpha = policy.metric_alpha(metric)
    iv, note = _running_interval(metric, obs, earlier, policy, alpha, bern)
    tol = math.log1p(metric.tolerance) if metric.kind is MetricKind.LATENCY else metric.tolerance
    # harm > 0 means the canary is worse, whichever way the metric points
    if metric.direction is Direction.LOWER:
        harm_low, harm_high = iv.low, iv.high
    else:
        harm_low, harm_high = -iv.high, -iv.low
    shown = _display_diff(metric, iv)
    if harm_low > tol:
        return result(Verdict.FAIL, shown, "regression beyond tolerance proven" + note)
    bound = _bound_verdict(metric, c, policy, alpha, bern)
    if bound is not None and bound[0] is Verdict.FAIL:
        return result(Verdict.FAIL, shown, bound[1] + note)
    if harm_high < tol and bound is None:
        return result(Verdict.PASS, shown, "within tolerance (non-inferior)" + note)
    reason = bound[1] if bound is not None and harm_high < tol else "interval still spans the tolerance"
    return result(Verdict.INCONCLUSIVE, shown, reason + note)


def _no_data_reason(metric: MetricPolicy, obs: Observations, s: Moments, c: Moments,
                    policy: Policy) -> str:
    parts = []
    for variant, m, data in (("stable", s, obs.stable), ("canary", c, obs.canary)):
        if m.n >= policy.min_keys:
            continue
        if data.calls == 0:
            parts.append(f"no {variant} calls in this step")
        elif m.n == 0 and metric.kind is MetricKind.SCORE:
            parts.append(f"no {variant} call recorded {metric.name}")
        else:
            parts.append(f"{variant} has {m.n} of the {policy.min_keys} keys needed (min_keys)")
    return "; ".join(parts)


def _running_interval(metric: MetricPolicy, obs: Observations, earlier: Sequence[Observations],
                      policy: Policy, alpha: float, bern: bool) -> tuple[Interval, str]:
    def at(o: Observations) -> Interval | None:
        s = o.stable.metrics.get(metric.name, Moments())
        c = o.canary.metrics.get(metric.name, Moments())
        if s.n < max(policy.min_keys, 2) or c.n < max(policy.min_keys, 2):
            return None
        return diff_interval(c, s, alpha, policy.tuning, bernoulli=bern)

    latest = at(obs)
    assert latest is not None
    low, high = latest.low, latest.high
    for o in earlier:
        iv = at(o)
        if iv is not None:
            low, high = max(low, iv.low), min(high, iv.high)
    if low > high:
        # Only a changed traffic mix (or a broken log) makes valid sequences disagree.
        return latest, " (earlier looks disagree with this one: judged on this look alone)"
    return Interval(latest.estimate, low, high), ""


def _bound_verdict(metric: MetricPolicy, c: Moments, policy: Policy, alpha: float,
                   bern: bool) -> tuple[Verdict, str] | None:
    """FAIL when the canary is proven outside an absolute bound, INCONCLUSIVE when not yet
    proven inside, None when inside (or no bounds)."""
    if metric.min is None and metric.max is None:
        return None
    iv = mean_interval(c, alpha, policy.tuning, bernoulli=bern)
    low, high = _display(metric, iv.low), _display(metric, iv.high)
    if metric.max is not None and low > metric.max:
        return Verdict.FAIL, f"above the absolute bound {metric.max:g}"
    if metric.min is not None and high < metric.min:
        return Verdict.FAIL, f"below the absolute bound {metric.min:g}"
    if (metric.max is not None and high > metric.max) or (metric.min is not None and low < metric.min):
        return Verdict.INCONCLUSIVE, "not yet proven within the absolute bounds"
    return None


def format_duration(seconds: float) -> str:
    """`4m 59s`, `2h 5m`: truncated, never rounded up, so 29.6s of 30s does not read as
    "30s of 30s"."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return " ".join(shown[:2]) or "0s"


# --- the decision --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    action: Action
    weight: float                   # the canary weight after carrying out the decision
    current_weight: float
    reasons: tuple[str, ...]
    metrics: tuple[MetricResult, ...] = ()
    stable_calls: int = 0
    canary_calls: int = 0
    elapsed: float = 0.0
    srm: SrmResult | None = None

    def summary(self) -> str:
        """One line with the numbers, for commit messages and webhooks."""
        parts = [f"{m.name} {m.verdict.value}" + (" (observe)" if m.observe else "")
                 for m in self.metrics]
        if self.srm is not None and self.srm.verdict != "no_data":
            parts.append(f"srm {self.srm.verdict}")
        return (f"{self.action.value} {self.current_weight:g}% -> {self.weight:g}%: "
                f"{'; '.join(self.reasons)} [{', '.join(parts)}; calls stable "
                f"{self.stable_calls} canary {self.canary_calls}]")


def next_step(steps: tuple[float, ...], weight: float) -> float | None:
    """The next weight after `weight`, or None when the canary is at the last step."""
    for step in steps:
        if step > weight + 1e-9:
            return step
    return None


def srm_of(policy: Policy, obs: Observations, weight: float) -> SrmResult:
    return check_srm(policy.srm, weight, obs.stable.keys, obs.canary.keys, obs.stable.calls,
                     obs.canary.calls, obs.routing)


def decide(policy: Policy, obs: Observations | None, *, weight: float, elapsed: float,  # noqa: C901 (the rules read top to bottom in the order they win)
           source_errors: int = 0, earlier: Sequence[Observations] = ()) -> Decision:
    """Advance / promote / hold / rollback for a canary at `weight` percent, `elapsed`
    seconds into its current step. `obs` None means the metric source could not be read;
    `earlier` are this step's earlier looks (for the running intersections)."""
    srm = srm_of(policy, obs, weight) if obs is not None else None

    def done(action: Action, new_weight: float, *reasons: str,
             results: tuple[MetricResult, ...] = ()) -> Decision:
        return Decision(action, new_weight, weight, tuple(reasons), results,
                        obs.stable.calls if obs else 0, obs.canary.calls if obs else 0, elapsed,
                        srm)

    late = policy.deadline is not None and elapsed > policy.deadline
    if obs is None:
        if source_errors > policy.max_errors:
            return done(Action.ROLLBACK, 0, f"metric source failed {source_errors} times "
                        f"(max_errors {policy.max_errors})")
        if late:
            return done(Action.ROLLBACK, 0, "deadline passed without a decision")
        return done(Action.HOLD, weight, f"metric source failed ({source_errors} in a row)")

    results = tuple(evaluate_metric(m, obs, policy, earlier) for m in policy.metrics)
    by_name = {m.name: m for m in policy.metrics}
    gating = [r for r in results if not r.observe]
    failed = [r for r in gating if r.verdict is Verdict.FAIL]
    critical = [r for r in failed if r.critical]
    if critical:
        return done(Action.ROLLBACK, 0, *(f"critical metric {r.name} failed: {r.reason}"
                                          for r in critical), results=results)
    if srm is not None and srm.mismatch:
        # The logged traffic is not the routed traffic: no comparison can be trusted.
        why = f"sample ratio mismatch: {srm.reason}"
        if policy.srm.action is SrmAction.ROLLBACK:
            return done(Action.ROLLBACK, 0, why, results=results)
        return done(Action.HOLD, weight, why + " (fix the logging or routing; srm.action: hold)",
                    results=results)
    # At 100% the canary takes all traffic and stable gets none: the last step is a soak
    # that only a proven regression or a breached absolute bound stops.
    soak = weight >= 100
    gates = []
    if soak and obs.canary.calls < policy.min_calls:
        gates.append(f"{obs.canary.calls} of {policy.min_calls} canary calls")
    elif not soak and min(obs.canary.calls, obs.stable.calls) < policy.min_calls:
        gates.append(f"{min(obs.canary.calls, obs.stable.calls)} of {policy.min_calls} calls "
                     "per variant")
    if elapsed < policy.min_duration:
        gates.append(f"{format_duration(elapsed)} of {format_duration(policy.min_duration)} "
                     "in this step")
    if gates:
        if late:
            return done(Action.ROLLBACK, 0, "deadline passed without a decision", *gates,
                        results=results)
        return done(Action.HOLD, weight, *gates, results=results)
    if failed:
        return done(Action.ROLLBACK, 0, *(f"metric {r.name} failed: {r.reason}" for r in failed),
                    results=results)
    if soak:
        return done(Action.PROMOTE, 100, _soak_reason(gating, obs, elapsed), results=results)
    blocking = [r for r in gating if r.verdict is not Verdict.PASS and by_name[r.name].required]
    if not blocking:
        target = next_step(policy.steps, weight)
        if target is None:
            return done(Action.PROMOTE, 100, "every metric passed at the last step",
                        results=results)
        return done(Action.ADVANCE, target, "every metric passed", results=results)
    if late:
        return done(Action.ROLLBACK, 0, "deadline passed without a decision",
                    *(f"{r.name}: {r.verdict.value}" for r in blocking), results=results)
    return done(Action.HOLD, weight, *(f"{r.name}: {r.verdict.value} ({r.reason})"
                                       for r in blocking), results=results)


def _soak_reason(results: Sequence[MetricResult], obs: Observations, elapsed: float) -> str:
    """Say what the 100% step checked: at full weight there is usually no stable traffic
    to compare with, so "every metric passed" would claim comparisons never made."""
    compared = [r.name for r in results if r.verdict is Verdict.PASS]
    text = (f"soak: {obs.canary.calls} canary calls over {format_duration(elapsed)}, "
            "bounds held")
    if compared:
        return text + f"; compared with {obs.stable.calls} stable calls: {', '.join(compared)} passed"
    return text + "; no comparison possible"
