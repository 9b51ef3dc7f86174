"""Simulated canaries: repeated looks must not inflate false rollbacks; real regressions
must be caught quickly. Streams are generated as sufficient statistics per block of
100 calls (exact in distribution), so 500 runs × 30 looks stay fast in pure Python."""

from __future__ import annotations

import math
import random

from promptctl.canary.decide import Action, Observations, VariantData, decide, parse_policy
from promptctl.canary.stats import Moments, fixed_diff_interval

RUNS = 500
BLOCK = 100            # a look every 100 calls per variant
LOOKS = 30             # up to 3,000 calls per variant
BASE = {"min_calls": 0, "min_duration": 0, "deadline": None}


def _errors(rng: random.Random, p: float) -> Moments:
    r = rng.random
    e = sum(1 for _ in range(BLOCK) if r() < p)
    return Moments(BLOCK, e, e, BLOCK)


def _log_latency(rng: random.Random, mu: float, sigma: float) -> Moments:
    # sum ~ N(n mu, n sigma^2); squared deviations ~ sigma^2 chi2(n - 1), independent
    s = rng.gauss(BLOCK * mu, sigma * math.sqrt(BLOCK))
    ss = sigma * sigma * rng.gammavariate((BLOCK - 1) / 2, 2.0)
    return Moments(BLOCK, s, ss + s * s / BLOCK, BLOCK)


def _streams(seed: int, p: tuple[float, float], mu: tuple[float, float], sigma: float = 1.0):
    """Yield cumulative (calls, stable metrics, canary metrics) after every block."""
    rng = random.Random(seed)
    acc = [{"error_rate": Moments(), "latency": Moments()} for _ in range(2)]
    for look in range(1, LOOKS + 1):
        for variant in (0, 1):
            acc[variant] = {"error_rate": acc[variant]["error_rate"] + _errors(rng, p[variant]),
                            "latency": acc[variant]["latency"] + _log_latency(rng, mu[variant], sigma)}
        yield look * BLOCK, acc[0], acc[1]


def _rolled_back_at(policy, seed, p=(0.02, 0.02), mu=(5.0, 5.0)) -> int | None:
    for calls, stable, canary in _streams(seed, p, mu):
        obs = Observations(VariantData("1.0.0", calls, keys=calls, metrics=stable),
                           VariantData("1.1.0", calls, keys=calls, metrics=canary))
        if decide(policy, obs, weight=50, elapsed=3600).action is Action.ROLLBACK:
            return calls
    return None


def _only(metric: str, **spec) -> dict:
    other = "latency" if metric == "error_rate" else "error_rate"
    return {"metrics": {other: None, metric: spec}}


def test_aa_error_rate_false_rollbacks_at_most_5_percent_even_with_zero_tolerance():
    policy = parse_policy(BASE, _only("error_rate", tolerance=0.0, critical=True))
    rolled = sum(_rolled_back_at(policy, seed) is not None for seed in range(RUNS))
    assert rolled / RUNS <= 0.05, rolled


def test_aa_latency_false_rollbacks_at_most_5_percent_even_with_zero_tolerance():
    policy = parse_policy(BASE, _only("latency", tolerance=0.0))
    rolled = sum(_rolled_back_at(policy, seed) is not None for seed in range(RUNS))
    assert rolled / RUNS <= 0.05, rolled


def test_aa_naive_fixed_interval_with_repeated_looks_would_roll_back_far_more():
    # The reason for confidence sequences: a fixed 95% interval looked at 30 times
    # "proves" a regression that is not there much more often than the sequence does.
    policy = parse_policy(BASE, _only("latency", tolerance=0.0))
    naive = sequential = 0
    for seed in range(200):
        hit = False
        for _, stable, canary in _streams(seed + 10_000, (0.02, 0.02), (5.0, 5.0)):
            hit = hit or fixed_diff_interval(canary["latency"], stable["latency"]).low > 0
        naive += hit
        sequential += _rolled_back_at(policy, seed + 10_000) is not None
    assert naive > 2 * max(sequential, 3), (naive, sequential)


def test_ab_error_rate_plus_5_points_rolled_back_within_3000_calls():
    policy = parse_policy(BASE, {"metrics": {"latency": None}})   # default tolerance 1 point
    caught = [_rolled_back_at(policy, seed, p=(0.02, 0.07)) for seed in range(RUNS)]
    assert sum(c is not None for c in caught) / RUNS >= 0.95
    assert sorted(c for c in caught if c)[len(caught) // 2] <= 1000   # median look


def test_ab_latency_plus_30_percent_rolled_back_within_3000_calls():
    policy = parse_policy(BASE, {"metrics": {"error_rate": None}})   # default tolerance 10%
    caught = [_rolled_back_at(policy, seed, mu=(5.0, 5.0 + math.log(1.3)))
              for seed in range(RUNS)]
    assert sum(c is not None for c in caught) / RUNS >= 0.95
