"""Always-valid confidence sequences for comparing a canary with its stable version.

The controller looks at the data every few minutes. A fixed-sample confidence
interval checked that often crosses any threshold by chance eventually; a confidence
sequence holds at every sample size at once, so looking often costs no false
rollbacks. We use the asymptotic confidence sequence of Waudby-Smith, Arbour,
Sinha, Kennedy and Ramdas ("Time-uniform central limit theory and asymptotic
confidence sequences", 2021), the one GrowthBook ships:

    mean ± sigma * sqrt( (t rho^2 + 1) / (t^2 rho^2) * log((t rho^2 + 1) / alpha^2) )

with rho tuned so the sequence is tightest near `n_star` observations. For a
difference of two means, t = n_a + n_b and sigma^2 = t * (var_a/n_a + var_b/n_b).

The unit of observation is a routing key: every metric is first averaged per key,
so a heavy user counts once and calls of the same user (correlated) do not pose as
independent evidence. Calls without a key are their own unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of per-key means: count of keys, sum and sum of squares."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    calls: int = 0          # calls behind the n keys (≥ n)

    @classmethod
    def of(cls, values: list[float] | tuple[float, ...]) -> "Moments":
        return cls(len(values), float(sum(values)), float(sum(v * v for v in values)),
                   len(values))

    def __add__(self, other: "Moments") -> "Moments":
        return Moments(self.n + other.n, self.total + other.total,
                       self.total_sq + other.total_sq, self.calls + other.calls)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance of the per-key values (n - 1 denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def rho_squared(alpha: float, n_star: float) -> float:
    """Tuning that makes the sequence tightest around `n_star` observations."""
    log_term = -2.0 * math.log(alpha)
    return (log_term + math.log(log_term + 1.0)) / n_star


def cs_radius(sigma2: float, t: float, alpha: float, n_star: float) -> float:
    """Half-width of the two-sided (1 - alpha) asymptotic confidence sequence at time t."""
    if t <= 0:
        return math.inf
    r2 = rho_squared(alpha, n_star)
    trho = t * r2 + 1.0
    return math.sqrt(sigma2 * trho / (t * t * r2) * math.log(trho / (alpha * alpha)))


def _variance(m: Moments, bernoulli: bool) -> float:
    var = m.var
    if bernoulli:
        # A variant with no errors yet has sample variance 0, which would make any
        # difference look certain; floor it with a smoothed rate, scaled to per-key means.
        p = (m.total + 0.5) / (m.n + 1.0)
        calls_per_key = max(1.0, m.calls / m.n) if m.n else 1.0
        var = max(0.0 if math.isnan(var) else var, p * (1.0 - p) / calls_per_key)
    return var


def mean_interval(m: Moments, alpha: float, n_star: float, *, bernoulli: bool = False) -> Interval:
    """Always-valid interval for one variant's mean (absolute bounds use it)."""
    if m.n < 2:
        return Interval(m.mean, -math.inf, math.inf)
    r = cs_radius(_variance(m, bernoulli), m.n, alpha, n_star)
    return Interval(m.mean, m.mean - r, m.mean + r)


def diff_interval(a: Moments, b: Moments, alpha: float, n_star: float, *,
                  bernoulli: bool = False) -> Interval:
    """Always-valid interval for mean(a) - mean(b)."""
    if a.n < 2 or b.n < 2:
        return Interval(a.mean - b.mean, -math.inf, math.inf)
    t = a.n + b.n
    sigma2 = t * (_variance(a, bernoulli) / a.n + _variance(b, bernoulli) / b.n)
    r = cs_radius(sigma2, t, alpha, n_star)
    d = a.mean - b.mean
    return Interval(d, d - r, d + r)


def fixed_diff_interval(a: Moments, b: Moments, z: float = 1.959964) -> Interval:
    """A classic fixed-sample interval: only to show in tests what repeated looks do to it."""
    se = math.sqrt(a.var / a.n + b.var / b.n)
    d = a.mean - b.mean
    return Interval(d, d - z * se, d + z * se)
