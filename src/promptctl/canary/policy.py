"""The canary policy: metrics, steps and limits, parsed from `canary:` mappings (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from .srm import SrmPolicy, parse_srm
from ..errors import UsageError


class Direction(str, Enum):
    LOWER = "lower"     # lower is better: errors, latency
    HIGHER = "higher"   # higher is better: thumbs up, task success


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
    mode: str = "gate"              # "observe": reported, never gating (a dry run)

    @property
    def gating(self) -> bool:
        return self.mode != "observe"

    @property
    def tests(self) -> int:
        """Chances this metric has to roll back: the comparison, and the absolute bounds."""
        if not self.gating:
            return 0
        return 1 + (self.min is not None or self.max is not None)


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
    srm: SrmPolicy = field(default_factory=SrmPolicy)

    @property
    def tuning(self) -> float:
        return float(self.n_star or max(2 * self.min_calls, 400))

    def metric_alpha(self, metric: "MetricPolicy") -> float:
        """`alpha` split evenly (Bonferroni) over every test that can roll the canary back,
        so the chance of any false rollback stays at most `alpha`; observe-only metrics
        never roll back and keep the whole `alpha` for their own report."""
        tests = sum(m.tests for m in self.metrics)
        return self.alpha / tests if metric.gating and tests else self.alpha


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
                "min_keys", "max_errors", "n_star", "source", "webhook", "interval", "srm"}
_METRIC_KEYS = {"kind", "direction", "tolerance", "min", "max", "critical", "required", "query",
                "mode"}


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
    if "srm" in raw:
        kw["srm"] = parse_srm(raw["srm"])
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
    if spec.get("mode") is not None:
        if spec["mode"] not in ("gate", "observe"):
            raise UsageError(f"{spec['mode']!r} is not a mode", field=f"{where}.mode",
                             fix="use gate or observe")
        kw["mode"] = spec["mode"]
    if spec.get("query") is not None:
        if not isinstance(spec["query"], Mapping):
            raise UsageError("must map count/sum/sum_sq to PromQL", field=f"{where}.query")
        kw["query"] = dict(spec["query"])
    return MetricPolicy(name=name, kind=kind, direction=direction, **kw)


def check_webhook(url: Any, field_name: str = "canary.webhook") -> str | None:
    """The webhook URL to notify, None when unset; UsageError unless it is http(s)."""
    if url is None:
        return None
    from urllib.parse import urlsplit
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not an http(s) URL", field=field_name,
                         fix="for example https://hooks.example.com/promptctl")
    return url
