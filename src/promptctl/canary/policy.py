"""The canary policy: metrics, steps and limits (pure).

`CanarySettings` types a `canary:` mapping as written (promptctl.yaml's, or a release.yaml
entry's `analysis:` override); `parse_policy` merges the layers and builds the frozen
`Policy` the controller reads. An unset setting keeps the Policy default."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError

from .srm import Fraction, SrmPolicy, SrmSettings
from ..errors import UsageError
from ..model import StrictModel
from ..wording import did_you_mean, fields_at, reword


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
_DURATION_FIX = "write e.g. 5m or 24h"


def _seconds(value: Any) -> float | None:
    """Seconds from `90`, `"90s"`, `"5m"`, `"24h"`, `"2d"`; None when it is no duration."""
    if isinstance(value, bool):   # a bool is an int to Python, never a duration to a reader
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


def parse_duration(value: Any, field_name: str = "duration") -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"24h"`, `"2d"`; UsageError naming `field_name`."""
    seconds = _seconds(value)
    if seconds is None:
        raise UsageError(f"{value!r} is not a duration", field=field_name, fix=_DURATION_FIX)
    return seconds


def _duration(value: Any) -> float:
    seconds = _seconds(value)
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration ({_DURATION_FIX})")
    return seconds


def _increasing(steps: tuple[float, ...]) -> tuple[float, ...]:
    if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise ValueError("must be increasing percentages in (0, 100] (e.g. [5, 50, 100])")
    return steps


def _not_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"must be at least 0 (got {value!r})")
    return value


def _http_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:   # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        raise ValueError(f"{url!r} is not an http(s) URL (for example https://hooks.example.com/promptctl)")
    return url


Duration = Annotated[float, BeforeValidator(_duration)]
Steps = Annotated[tuple[float, ...], AfterValidator(_increasing)]
Count = Annotated[int, AfterValidator(_not_negative)]
WebhookUrl = Annotated[str, AfterValidator(_http_url)]


class MetricSettings(StrictModel):
    """`canary.metrics.<name>:`; an unset kind or direction follows from the name."""

    kind: MetricKind | None = None
    direction: Direction | None = None
    tolerance: Annotated[float, AfterValidator(_not_negative)] | None = None
    min: float | None = None
    max: float | None = None
    critical: bool = False
    required: bool = True
    query: dict[str, str] | None = Field(None, description="PromQL templates: count, sum, sum_sq")
    mode: Literal["gate", "observe"] | None = None

    def policy(self, name: str) -> MetricPolicy:
        kind = self.kind or (MetricKind(name) if name in ("error_rate", "latency") else MetricKind.SCORE)
        direction = self.direction or (Direction.HIGHER if kind is MetricKind.SCORE else Direction.LOWER)
        return MetricPolicy(name=name, kind=kind, direction=direction,
                            tolerance=self.tolerance or 0.0, min=self.min, max=self.max,
                            critical=self.critical, required=self.required,
                            query=None if self.query is None else dict(self.query),
                            mode=self.mode or "gate")


class CanarySettings(StrictModel):
    """`canary:` as written. `metrics.X: null` (or false) drops X, `true` keeps its defaults;
    `metrics: null` drops every metric; `srm: false` turns the check off (None here)."""

    steps: Steps = Policy.steps
    min_calls: Count = Policy.min_calls
    min_duration: Duration = Policy.min_duration
    deadline: Duration | None = Policy.deadline
    metrics: dict[str, MetricSettings | None] | None = None
    alpha: Fraction = Policy.alpha
    min_keys: Count = Policy.min_keys
    max_errors: Count = Policy.max_errors
    n_star: Count | None = Policy.n_star
    srm: SrmSettings | None = Field(default_factory=SrmSettings)
    webhook: WebhookUrl | None = None
    source: dict[str, Any] | None = Field(None, description="{type: prometheus, url: ...}; "
                                                            "default: the call log")
    interval: Any = None   # accepted as older files wrote it; `watch --interval` sets the pace

    @field_validator("min_calls", "min_keys", "max_errors", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        # an explicit null has always meant the default
        return cls.model_fields[info.field_name or ""].default if value is None else value

    @field_validator("deadline", mode="before")
    @classmethod
    def _no_deadline(cls, value: Any) -> Any:
        return None if value is False else value

    @field_validator("metrics", mode="before")
    @classmethod
    def _dropped_metrics(cls, value: Any) -> Any:
        if value is False:
            return None
        if not isinstance(value, Mapping):
            return value
        return {name: {} if spec is True else None if spec is False else spec
                for name, spec in value.items()}

    @field_validator("srm", mode="before")
    @classmethod
    def _srm_switch(cls, value: Any) -> Any:
        return None if value is False else {} if value is None or value is True else value

    def policy(self) -> Policy:
        metrics = self.metrics or {}
        return Policy(steps=self.steps, min_calls=self.min_calls, min_duration=self.min_duration,
                      deadline=self.deadline, alpha=self.alpha, min_keys=self.min_keys,
                      max_errors=self.max_errors, n_star=self.n_star,
                      metrics=tuple(spec.policy(name) for name, spec in metrics.items()
                                    if spec is not None),
                      srm=SrmPolicy(enabled=False) if self.srm is None else self.srm.policy())


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_policy(*layers: Mapping[str, Any] | None) -> Policy:
    """A Policy from the `canary:` dicts, later layers overriding earlier ones (promptctl.yaml
    first, then the manifest entry's override) over DEFAULT_METRICS. Each layer is checked on
    its own, so the first problem (a UsageError `canary.<field>`) is the layer's own."""
    raw: dict[str, Any] = {"metrics": DEFAULT_METRICS}
    for layer in layers:
        if layer:
            canary_settings(layer)
            raw = _merge(raw, layer)
    return canary_settings(raw).policy()


def canary_settings(raw: Any) -> CanarySettings:
    """One `canary:` layer, typed; UsageError with its first problem."""
    try:
        return CanarySettings.model_validate(raw)
    except PydanticValidationError as exc:
        raise settings_error(exc.errors()[0]) from exc


def settings_error(err: Any) -> UsageError:
    """One pydantic error of CanarySettings as the error it prints: `canary.<field>: what
    (fix)`. An unknown key, a metric's kind and its direction are named on the mapping
    that holds them, as they always have been."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        key, where = str(loc[-1]), loc[:-1]
        known = sorted(fields_at(CanarySettings, where))
        guess = did_you_mean(key, known)
        hint = f"did you mean {guess!r}? " if guess else ""
        return UsageError(f"unknown key {key!r}", field=_field(where),
                          fix=f"{hint}use one of {', '.join(known)}")
    message = reword(err, CanarySettings)
    if len(loc) == 3 and loc[0] == "metrics" and loc[2] in ("kind", "direction"):
        return UsageError(message, field=_field(loc[:2]))
    return UsageError(message, field=_field(loc))


def _field(loc: tuple) -> str:
    return ".".join(["canary", *(str(part) for part in loc)])


def check_webhook(url: str, field_name: str) -> str:
    """`url` when it is http(s), for a webhook given outside promptctl.yaml (a flag)."""
    try:
        return _http_url(url)
    except ValueError as exc:
        raise UsageError(str(exc), field=field_name) from exc
