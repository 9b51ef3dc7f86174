"""Intervals and paired tests in pure Python, seeded so every report is reproducible."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Z95 = 1.959963984540054
SEED = 20261125


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int


def is_binary(values: list[float]) -> bool:
    return all(v == 0.0 or v == 1.0 for v in values)


def wilson(successes: float, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # Rounding must not hide that an all-pass run's interval reaches 1 (and all-fail's 0).
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)


def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile (Cornish-Fisher expansion; exact enough for df >= 2)."""
    if df <= 0:
        return float("inf")
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}
    if df in table:
        return table[df]
    z = Z95
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


def estimate(values: list[float]) -> Estimate:
    """Mean with a 95% interval: Wilson for pass/fail scores, Student t otherwise."""
    n = len(values)
    if n == 0:
        return Estimate(0.0, 0.0, 0.0, 0)
    mean = math.fsum(values) / n
    if is_binary(values):
        low, high = wilson(sum(values), n)
        return Estimate(mean, low, high, n)
    if n == 1:
        return Estimate(mean, mean, mean, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(n - 1) * math.sqrt(var / n)
    return Estimate(mean, max(0.0, mean - half), min(1.0, mean + half), n)


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p for k successes of n at p = 0.5 (McNemar's exact test)."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def mcnemar(base: list[float], cand: list[float]) -> tuple[float, int, int]:
    """p-value and discordant counts (pass→fail, fail→pass) for paired pass/fail data."""
    broke = sum(1 for b, c in zip(base, cand, strict=False) if b and not c)
    fixed = sum(1 for b, c in zip(base, cand, strict=False) if c and not b)
    return binom_two_sided(broke, broke + fixed), broke, fixed


def paired_bootstrap(base: list[float], cand: list[float], resamples: int = 2000,
                     seed: int = SEED) -> tuple[float, float, float, float]:
    """Mean difference (cand - base), its 95% percentile interval, and a two-sided p."""
    diffs = [c - b for b, c in zip(base, cand, strict=False)]
    n = len(diffs)
    if n == 0:
        return 0.0, 0.0, 0.0, 1.0
    mean = math.fsum(diffs) / n
    if all(d == diffs[0] for d in diffs):
        return mean, mean, mean, (1.0 if mean == 0 else 0.0)
    rng = random.Random(seed)
    choices = rng.choices
    means = sorted(math.fsum(choices(diffs, k=n)) / n for _ in range(resamples))
    low = means[int(0.025 * resamples)]
    high = means[min(resamples - 1, int(0.975 * resamples))]
    below = sum(1 for m in means if m <= 0) / resamples
    above = sum(1 for m in means if m >= 0) / resamples
    return mean, low, high, min(1.0, 2 * min(below, above))


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values. Rejecting every hypothesis whose adjusted p is
    below alpha keeps the chance of any false rejection in the family at most alpha."""
    order = sorted(pvalues, key=lambda name: (pvalues[name], name))
    m = len(order)
    adjusted: dict[str, float] = {}
    running = 0.0
    for rank, name in enumerate(order):
        # max() keeps the adjusted values in the order of the raw ones (step-down)
        running = max(running, min(1.0, (m - rank) * pvalues[name]))
        adjusted[name] = running
    return adjusted


# --- power -------------------------------------------------------------------------------
#
# A drop of d on a pass/fail metric is modelled at its most detectable: d of the cases
# break and none is fixed. McNemar's exact test can then flag it only once at least
# `min_broken(level)` cases broke, whatever the suite's size: the figures below say what
# a suite can detect at best, so "not detectable" is never an overstatement.

POWER = 0.8


def normal_quantile(p: float) -> float:
    from statistics import NormalDist
    return NormalDist().inv_cdf(p)


def min_broken(level: float) -> int:
    """Fewest broken cases (none fixed) that McNemar's exact test finds significant."""
    k = 1
    while binom_two_sided(0, k) >= level:   # all k discordant pairs one way: p = 2 / 2**k
        k += 1
    return k


def binary_power(n: int, drop: float, level: float) -> float:
    """P(at least min_broken cases break) when each of n cases breaks with chance `drop`."""
    k = min_broken(level)
    if n < k or drop <= 0:
        return 0.0
    drop = min(drop, 1.0)
    below = math.fsum(math.comb(n, i) * drop ** i * (1 - drop) ** (n - i) for i in range(k))
    return max(0.0, 1.0 - below)


def min_detectable_drop(n: int, level: float, sd: float | None = None,
                        power: float = POWER) -> float | None:
    """The smallest drop found with `power` at significance `level` on n paired cases:
    the pass/fail model without `sd`, a normal approximation with the paired differences'
    sd. None when no drop (not even from 1 to 0) is detectable with n cases."""
    if n <= 0:
        return None
    if sd:
        drop = (normal_quantile(1 - level / 2) + normal_quantile(power)) * sd / math.sqrt(n)
        return drop if drop <= 1 else None
    if binary_power(n, 1.0, level) < power:
        return None
    low, high = 0.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (low, mid) if binary_power(n, mid, level) >= power else (mid, high)
    return high


def cases_needed(drop: float, level: float, power: float = POWER) -> int:
    """The fewest paired cases that find a pass/fail drop of `drop` with `power`."""
    if not 0 < drop <= 1:
        raise ValueError("drop must be in (0, 1]")
    high = min_broken(level)
    while binary_power(high, drop, level) < power:
        high *= 2
    low = high // 2
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (low, mid) if binary_power(mid, drop, level) >= power else (mid, high)
    return high
