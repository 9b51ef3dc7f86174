"""The canary controller's core: policy, per-metric verdicts and the decision (pure).

Vocabulary follows Argo Rollouts / Flagger: a canary takes `steps` of traffic weight;
at each step the analysis advances it, promotes it, holds it, or rolls it back.
Metric data comes in as `Observations` (see canary_sources for the call log and
Prometheus readers); nothing here touches disk, network or the clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Mapping

from .canary_stats import Interval, Moments, diff_interval, mean_interval
from .errors import UsageError


class Direction(str, Enum):
    LOWER = "lower"     # lower is better: errors, latency
    HIGHER = "higher"   # higher is better: thumbs up, task success


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


class MetricKind(str, Enum):
    ERROR_RATE = "error_rate"   # tolerance: absolute increase (0.01 = one point)
    LATENCY = "latency"         # tolerance: relative (0.10 = 10% slower), compared as log-ratio
    SCORE = "score"             # any recorded score; tolerance in the score's own units


@dataclass(frozen=True)
class MetricPolicy:
    name: str
    kind: MetricKind
    direction: Direction = Direction.LOWER
    tolerance: float = 0.0
    min: float | None = None        # absolute bounds on the canary's own value
    max: float | None = None
    critical: bool = False          # a proven failure rolls back at once, before any gate
    required: bool = True           # no data / inconclusive blocks advancing
    query: Mapping[str, str] | None = None   # PromQL templates for the Prometheus source


DEFAULT_METRICS: dict[str, dict[str, Any]] = {
    "error_rate": {"tolerance": 0.01, "critical": True},
    "latency": {"tolerance": 0.10},
}


@dataclass(frozen=True)
class Policy:
    steps: tuple[float, ...] = (5.0, 50.0, 100.0)
    min_calls: int = 200            # per variant, per step
    min_duration: float = 300.0     # seconds per step
    deadline: float | None = 86_400.0   # seconds since the step started; then roll back
    metrics: tuple[MetricPolicy, ...] = ()
    alpha: float = 0.05
    min_keys: int = 20              # below this many keys per variant a metric has no data
    max_errors: int = 3             # failed reads of the metric source tolerated in a row
    n_star: int | None = None       # keys at which the sequence is tightest (default 2×min_calls)

    @property
    def tuning(self) -> float:
        return float(self.n_star or max(2 * self.min_calls, 400))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, None: 1}


def parse_duration(value: Any, field_name: str = "duration") -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"24h"`, `"2d"`."""
    if isinstance(value, bool):
        raise UsageError(f"{value!r} is not a duration", field=field_name, fix="write e.g. 5m or 24h")
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise UsageError(f"{value!r} is not a duration", field=field_name, fix="write e.g. 5m or 24h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _number(raw: Mapping[str, Any], key: str, where: str, cast=float, minimum=None) -> Any:
    value = raw[key]
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise UsageError(f"{value!r} is not a number", field=f"{where}.{key}") from None
    if minimum is not None and number < minimum:
        raise UsageError(f"must be at least {minimum}", field=f"{where}.{key}")
    return number


_POLICY_KEYS = {"steps", "min_calls", "min_duration", "deadline", "metrics", "alpha",
                "min_keys", "max_errors", "n_star", "source", "webhook", "interval"}
_METRIC_KEYS = {"kind", "direction", "tolerance", "min", "max", "critical", "required", "query"}


def parse_policy(*layers: Mapping[str, Any] | None) -> Policy:
    """A Policy from the `canary:` dicts, later layers overriding earlier ones
    (promptctl.yaml first, then the manifest entry's override). `metrics.X: null` drops X."""
    raw: dict[str, Any] = {"metrics": DEFAULT_METRICS}
    for layer in layers:
        if layer:
            raw = _merge(raw, layer)
    unknown = sorted(set(raw) - _POLICY_KEYS)
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r}", field="canary",
                         fix=f"use one of {', '.join(sorted(_POLICY_KEYS))}")
    kw: dict[str, Any] = {}
    if "steps" in raw:
        try:
            steps = tuple(float(s) for s in raw["steps"])
        except (TypeError, ValueError):
            raise UsageError("must be a list of percentages", field="canary.steps") from None
        if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
            raise UsageError("must be increasing percentages in (0, 100]", field="canary.steps")
        kw["steps"] = steps
    for key in ("min_calls", "min_keys", "max_errors", "n_star"):
        if raw.get(key) is not None:
            kw[key] = _number(raw, key, "canary", int, 0)
    if "alpha" in raw:
        kw["alpha"] = _number(raw, "alpha", "canary")
        if not 0 < kw["alpha"] < 1:
            raise UsageError("must be between 0 and 1", field="canary.alpha")
    if "min_duration" in raw:
        kw["min_duration"] = parse_duration(raw["min_duration"], "canary.min_duration")
    if "deadline" in raw:
        kw["deadline"] = (None if raw["deadline"] in (None, False)
                          else parse_duration(raw["deadline"], "canary.deadline"))
    metrics = raw.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise UsageError("must be a mapping of metric name to settings", field="canary.metrics")
    kw["metrics"] = tuple(_parse_metric(name, spec) for name, spec in metrics.items()
                          if spec not in (None, False))
    return Policy(**kw)


def _parse_metric(name: str, spec: Any) -> MetricPolicy:
    where = f"canary.metrics.{name}"
    spec = {} if spec is True else spec
    if not isinstance(spec, Mapping):
        raise UsageError("must be a mapping", field=where)
    unknown = sorted(set(spec) - _METRIC_KEYS)
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r}", field=where,
                         fix=f"use one of {', '.join(sorted(_METRIC_KEYS))}")
    try:
        kind = MetricKind(spec.get("kind") or (name if name in ("error_rate", "latency") else "score"))
        direction = Direction(spec.get("direction") or
                              ("higher" if kind is MetricKind.SCORE else "lower"))
    except ValueError as exc:
        raise UsageError(str(exc), field=where) from None
    kw: dict[str, Any] = {}
    for key in ("tolerance", "min", "max"):
        if spec.get(key) is not None:
            kw[key] = _number(spec, key, where, float, 0.0 if key == "tolerance" else None)
    for key in ("critical", "required"):
        if key in spec:
            kw[key] = bool(spec[key])
    if spec.get("query") is not None:
        if not isinstance(spec["query"], Mapping):
            raise UsageError("must map count/sum/sum_sq to PromQL", field=f"{where}.query")
        kw["query"] = dict(spec["query"])
    return MetricPolicy(name=name, kind=kind, direction=direction, **kw)


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


def _display(metric: MetricPolicy, value: float) -> float:
    return math.exp(value) if metric.kind is MetricKind.LATENCY else value


def _display_diff(metric: MetricPolicy, iv: Interval) -> Interval:
    if metric.kind is MetricKind.LATENCY:   # log-ratio → relative change
        return Interval(*(math.expm1(x) if math.isfinite(x) else x
                          for x in (iv.estimate, iv.low, iv.high)))
    return iv


def evaluate_metric(metric: MetricPolicy, obs: Observations, policy: Policy) -> MetricResult:
    """Compare canary with stable on one metric: no data / pass / fail / inconclusive."""
    s = obs.stable.metrics.get(metric.name, Moments())
    c = obs.canary.metrics.get(metric.name, Moments())
    stable_v = _display(metric, s.mean) if s.n else None
    canary_v = _display(metric, c.mean) if c.n else None
    if s.n < policy.min_keys or c.n < policy.min_keys:
        return MetricResult(metric.name, Verdict.NO_DATA, stable_v, canary_v, None,
                            metric.tolerance, metric.critical,
                            f"{min(s.n, c.n)} of {policy.min_keys} keys needed per variant")
    bern = metric.kind is MetricKind.ERROR_RATE
    iv = diff_interval(c, s, policy.alpha, policy.tuning, bernoulli=bern)
    tol = math.log1p(metric.tolerance) if metric.kind is MetricKind.LATENCY else metric.tolerance
    # harm > 0 means the canary is worse, whichever way the metric points
    if metric.direction is Direction.LOWER:
        harm_low, harm_high = iv.low, iv.high
    else:
        harm_low, harm_high = -iv.high, -iv.low
    shown = _display_diff(metric, iv)
    if harm_low > tol:
        return MetricResult(metric.name, Verdict.FAIL, stable_v, canary_v, shown, metric.tolerance,
                            metric.critical, "regression beyond tolerance proven")
    bound = _bound_verdict(metric, c, policy, bern)
    if bound is not None and bound[0] is Verdict.FAIL:
        return MetricResult(metric.name, Verdict.FAIL, stable_v, canary_v, shown, metric.tolerance,
                            metric.critical, bound[1])
    if harm_high < tol and bound is None:
        return MetricResult(metric.name, Verdict.PASS, stable_v, canary_v, shown, metric.tolerance,
                            metric.critical, "within tolerance (non-inferior)")
    reason = bound[1] if bound is not None and harm_high < tol else "interval still spans the tolerance"
    return MetricResult(metric.name, Verdict.INCONCLUSIVE, stable_v, canary_v, shown,
                        metric.tolerance, metric.critical, reason)


def _bound_verdict(metric: MetricPolicy, c: Moments, policy: Policy,
                   bern: bool) -> tuple[Verdict, str] | None:
    """FAIL when the canary is proven outside an absolute bound, INCONCLUSIVE when not yet
    proven inside, None when inside (or no bounds)."""
    if metric.min is None and metric.max is None:
        return None
    iv = mean_interval(c, policy.alpha, policy.tuning, bernoulli=bern)
    low, high = _display(metric, iv.low), _display(metric, iv.high)
    if metric.max is not None and low > metric.max:
        return Verdict.FAIL, f"above the absolute bound {metric.max:g}"
    if metric.min is not None and high < metric.min:
        return Verdict.FAIL, f"below the absolute bound {metric.min:g}"
    if (metric.max is not None and high > metric.max) or (metric.min is not None and low < metric.min):
        return Verdict.INCONCLUSIVE, "not yet proven within the absolute bounds"
    return None


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

    def summary(self) -> str:
        """One line with the numbers, for commit messages and webhooks."""
        parts = [f"{m.name} {m.verdict.value}" for m in self.metrics]
        return (f"{self.action.value} {self.current_weight:g}% -> {self.weight:g}%: "
                f"{'; '.join(self.reasons)} [{', '.join(parts)}; calls stable "
                f"{self.stable_calls} canary {self.canary_calls}]")


def next_step(steps: tuple[float, ...], weight: float) -> float | None:
    """The next weight after `weight`, or None when the canary is at the last step."""
    for step in steps:
        if step > weight + 1e-9:
            return step
    return None


def decide(policy: Policy, obs: Observations | None, *, weight: float, elapsed: float,
           source_errors: int = 0) -> Decision:
    """Advance / promote / hold / rollback for a canary at `weight` percent, `elapsed`
    seconds into its current step. `obs` None means the metric source could not be read."""
    def done(action: Action, new_weight: float, *reasons: str,
             results: tuple[MetricResult, ...] = ()) -> Decision:
        return Decision(action, new_weight, weight, tuple(reasons), results,
                        obs.stable.calls if obs else 0, obs.canary.calls if obs else 0, elapsed)

    late = policy.deadline is not None and elapsed > policy.deadline
    if obs is None:
        if source_errors > policy.max_errors:
            return done(Action.ROLLBACK, 0, f"metric source failed {source_errors} times "
                        f"(max_errors {policy.max_errors})")
        if late:
            return done(Action.ROLLBACK, 0, "deadline passed without a decision")
        return done(Action.HOLD, weight, f"metric source failed ({source_errors} in a row)")

    results = tuple(evaluate_metric(m, obs, policy) for m in policy.metrics)
    by_name = {m.name: m for m in policy.metrics}
    failed = [r for r in results if r.verdict is Verdict.FAIL]
    critical = [r for r in failed if r.critical]
    if critical:
        return done(Action.ROLLBACK, 0, *(f"critical metric {r.name} failed: {r.reason}"
                                          for r in critical), results=results)
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
        gates.append(f"{elapsed:.0f}s of {policy.min_duration:.0f}s in this step")
    if gates:
        if late:
            return done(Action.ROLLBACK, 0, "deadline passed without a decision", *gates,
                        results=results)
        return done(Action.HOLD, weight, *gates, results=results)
    if failed:
        return done(Action.ROLLBACK, 0, *(f"metric {r.name} failed: {r.reason}" for r in failed),
                    results=results)
    blocking = [r for r in results if r.verdict is not Verdict.PASS and by_name[r.name].required
                and not soak]
    if not blocking:
        target = next_step(policy.steps, weight)
        if target is None or weight >= 100:
            return done(Action.PROMOTE, 100, "every metric passed at the last step",
                        results=results)
        return done(Action.ADVANCE, target, "every metric passed", results=results)
    if late:
        return done(Action.ROLLBACK, 0, "deadline passed without a decision",
                    *(f"{r.name}: {r.verdict.value}" for r in blocking), results=results)
    return done(Action.HOLD, weight, *(f"{r.name}: {r.verdict.value} ({r.reason})"
                                       for r in blocking), results=results)


def with_metrics(policy: Policy, *metrics: MetricPolicy) -> Policy:
    """A copy of `policy` with exactly these metrics (handy for tests and services)."""
    return replace(policy, metrics=tuple(metrics))
