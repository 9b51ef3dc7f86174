"""Error rates and power of promptctl's gates, from seeded simulations (not a timed test).

1. Eval A/A: two versions that behave identically (every answer an independent pass with
   chance 0.8), 200 cases, tolerance 0, alpha 0.05, with 1, 10 and 30 pass/fail metrics:
   the share of runs `compare` calls a regression. Goal: <= alpha (family-wise, Holm).
2. Eval power: a 10-point drop (0.9 -> 0.8, independent answers) at 100 and 400 cases, one
   metric; beside it the pure-break figure `eval plan` states.
3. Canary A/A: error rate, latency and a score identical in both variants, tolerance 0,
   a look every 100 calls per variant up to 3,000: the share of canaries rolled back.
   Goal: <= alpha (0.05).
4. SRM: a 5% canary whose app loses 30% of its canary logs, a look every 100 logged calls:
   the share detected within 5,000 calls (goal >= 95%); the same looks on healthy logging:
   the false-alarm rate per look (goal <= 0.1%) and per canary over all 50 looks.

Run: python bench/stats.py [--runs N] (default 400; the figures in the README use 400)
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from promptctl.canary.decide import (
    Action,
    Observations,
    VariantData,
    decide,
    parse_policy,
)  # noqa: E402
from promptctl.canary.srm import SrmPolicy, check_srm  # noqa: E402
from promptctl.canary.stats import Moments  # noqa: E402
from promptctl.evals import stats  # noqa: E402
from promptctl.evals.results import CaseResult, MetricInfo, RunResult, compare  # noqa: E402

ALPHA = 0.05


def _eval_run(version: str, rng: random.Random, cases: int, metrics: int, p: float) -> RunResult:
    infos = [MetricInfo(f"m{i}", "contains") for i in range(metrics)]
    rows = [CaseResult(f"c{i}", 0, {}, None, [], "", None,
                       scores={m.name: float(rng.random() < p) for m in infos})
            for i in range(cases)]
    return RunResult("p", version, "d", "echo", "m", "d", infos, [], 0, rows)


def eval_false_regressions(runs: int, metrics: int, seed: int = 1) -> float:
    rng = random.Random(seed)
    flagged = 0
    for _ in range(runs):
        base, cand = (_eval_run(v, rng, 200, metrics, 0.8) for v in ("1", "2"))
        flagged += compare(base, cand, 0.0, ALPHA, resamples=100)["regressed"]
    return flagged / runs


def eval_power(runs: int, cases: int, seed: int = 2) -> float:
    rng = random.Random(seed)
    caught = 0
    for _ in range(runs):
        base, cand = _eval_run("1", rng, cases, 1, 0.9), _eval_run("2", rng, cases, 1, 0.8)
        caught += compare(base, cand, 0.0, ALPHA, resamples=100)["regressed"]
    return caught / runs


# --- canary ------------------------------------------------------------------------------

BLOCK, LOOKS = 100, 30


def _block(rng: random.Random) -> dict[str, Moments]:
    """100 calls (one per key) of each metric as sufficient statistics."""
    e = sum(1 for _ in range(BLOCK) if rng.random() < 0.02)
    s = rng.gauss(BLOCK * 5.0, math.sqrt(BLOCK))               # log latency ~ N(5, 1)
    ss = rng.gammavariate((BLOCK - 1) / 2, 2.0) + s * s / BLOCK
    t = sum(1 for _ in range(BLOCK) if rng.random() < 0.7)     # a thumbs-up score
    return {"error_rate": Moments(BLOCK, e, e, BLOCK), "latency": Moments(BLOCK, s, ss, BLOCK),
            "thumbs": Moments(BLOCK, t, t, BLOCK)}


def canary_false_rollbacks(runs: int, seed: int = 3) -> float:
    policy = parse_policy({"min_calls": 0, "min_duration": 0, "deadline": None, "metrics": {
        "error_rate": {"tolerance": 0.0, "critical": True}, "latency": {"tolerance": 0.0},
        "thumbs": {"tolerance": 0.0}}})
    rng = random.Random(seed)
    rolled = 0
    for _ in range(runs):
        acc = [{k: Moments() for k in ("error_rate", "latency", "thumbs")} for _ in range(2)]
        looks: list[Observations] = []
        for look in range(1, LOOKS + 1):
            for v in (0, 1):
                acc[v] = {k: acc[v][k] + m for k, m in _block(rng).items()}
            n = look * BLOCK
            obs = Observations(VariantData("1", n, keys=n, metrics=acc[0]),
                               VariantData("2", n, keys=n, metrics=acc[1]))
            if decide(policy, obs, weight=50, elapsed=3600, earlier=looks).action is Action.ROLLBACK:
                rolled += 1
                break
            looks.append(obs)
    return rolled / runs


def srm_rates(runs: int, loss: float, seed: int = 4) -> tuple[float, float]:
    """(share of canaries flagged at any look within 5,000 logged calls, share of looks)."""
    rng = random.Random(seed)
    flagged = looks_flagged = looks = 0
    policy = SrmPolicy()
    for _ in range(runs):
        stable = canary = 0
        hit = False
        while stable + canary < 5000:
            for _ in range(BLOCK):
                if rng.random() < 0.05:
                    canary += rng.random() >= loss
                else:
                    stable += 1
            result = check_srm(policy, 5, stable, canary, stable, canary)
            if result.verdict != "no_data":
                looks += 1
                looks_flagged += result.mismatch
                hit = hit or result.mismatch
        flagged += hit
    return flagged / runs, looks_flagged / max(looks, 1)


def _timed(label: str, fn, goal: str) -> None:
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime, time.perf_counter()
    value = fn()
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    text = value if isinstance(value, str) else f"{value:7.2%}"
    print(f"  {label:<58} {text:>8}   goal {goal:<10} ({time.perf_counter() - wall0:.1f}s wall, "
          f"{cpu:.1f}s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    runs = parser.parse_args().runs
    print(f"eval A/A false-regression rate (200 cases, tolerance 0, alpha {ALPHA}, Holm), "
          f"{runs} runs each:")
    for metrics in (1, 10, 30):
        _timed(f"{metrics} metric(s)", lambda metrics=metrics: eval_false_regressions(runs, metrics), "<= 5%")
    print(f"eval power to catch a 10-point drop (0.9 -> 0.8), {runs} runs each:")
    for cases in (100, 400):
        stated = stats.min_detectable_drop(cases, ALPHA)
        _timed(f"{cases} cases (eval plan states: {stated:.3f} at 80% power)",
               lambda cases=cases: eval_power(runs, cases), "report")
    print(f"canary A/A false rollbacks (3 metrics, a look every {BLOCK} calls up to "
          f"{BLOCK * LOOKS}), {runs} runs:")
    _timed("rolled back", lambda: canary_false_rollbacks(runs), "<= 5%")
    print(f"SRM, 5% canary, a look every {BLOCK} logged calls up to 5,000, {runs * 5} runs:")
    healthy: list[tuple[float, float]] = []
    _timed("30% of canary logs lost: detected", lambda: srm_rates(runs * 5, 0.3)[0], ">= 95%")
    _timed("healthy logging: false alarms per look",
           lambda: healthy.append(srm_rates(runs * 5, 0.0, seed=5)) or healthy[0][1], "<= 0.1%")
    _timed("healthy logging: canaries ever flagged (50 looks)", lambda: healthy[0][0], "report")


if __name__ == "__main__":
    main()
