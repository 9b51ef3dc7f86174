"""Intervals and paired tests: known values, reproducibility, and the regression rule."""

from __future__ import annotations

import math
import random

from promptctl.evals import stats
from promptctl.evals.results import CaseResult, MetricInfo, RunResult, compare, summarise


def test_wilson_matches_reference_values():
    low, high = stats.wilson(8, 10)
    assert math.isclose(low, 0.4902, abs_tol=1e-4) and math.isclose(high, 0.9433, abs_tol=1e-4)
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == 1.0


def test_t_interval_for_continuous_scores():
    est = stats.estimate([0.2, 0.4, 0.6, 0.8])
    assert math.isclose(est.mean, 0.5)
    # t(3) = 3.182, sd = 0.2582, half = 3.182 * 0.2582 / 2
    assert math.isclose(est.high - est.mean, 3.182 * 0.258199 / 2, rel_tol=1e-3)
    assert math.isclose(stats.t_quantile(30), 2.042, abs_tol=2e-3)


def test_mcnemar_exact():
    p, broke, fixed = stats.mcnemar([1.0] * 10, [0.0] * 8 + [1.0] * 2)
    assert (broke, fixed) == (8, 0)
    assert math.isclose(p, 2 * 0.5 ** 8)
    assert stats.binom_two_sided(2, 4) == 1.0
    assert math.isclose(stats.binom_two_sided(1, 10), 2 * 11 / 1024)


def test_paired_bootstrap_is_seeded_and_centred():
    rng = random.Random(1)
    base = [rng.random() for _ in range(50)]
    cand = [b - 0.2 for b in base]
    first = stats.paired_bootstrap(base, cand)
    assert first == stats.paired_bootstrap(base, cand)
    mean, low, high, p = first
    assert math.isclose(mean, -0.2) and p == 0.0
    noise = [b + rng.uniform(-0.05, 0.05) for b in base]
    mean, low, high, p = stats.paired_bootstrap(base, noise)
    assert low < 0 < high and p > 0.05


def _run(version: str, scores: list[dict[str, float]]) -> RunResult:
    metrics = [MetricInfo("accuracy", "contains"), MetricInfo("similarity", "similarity",
                                                                threshold=0.5)]
    cases = [CaseResult(id=f"case-{i}", sample=0, inputs={}, expected=None, tags=[],
                        output="", error=None, scores=s,
                        passed=all(v >= 0.5 for v in s.values())) for i, s in enumerate(scores)]
    run = RunResult("p", version, "sha256:x", "echo", "m", "sha256:d", metrics,
                    ["accuracy >= 0.7"], 0, cases)
    run.summary = summarise(run)
    return run


def test_candidate_breaking_8_of_40_is_flagged():
    base = _run("1.0.0", [{"accuracy": 1.0, "similarity": 0.9} for _ in range(40)])
    cand = _run("working", [{"accuracy": 0.0 if i < 8 else 1.0, "similarity": 0.9}
                            for i in range(40)])
    result = compare(base, cand, tolerance=0.02, alpha=0.05)
    acc = result["metrics"]["accuracy"]
    assert result["regressed"] and acc["regression"] and acc["test"] == "mcnemar"
    assert (acc["broke"], acc["fixed"]) == (8, 0)
    assert math.isclose(acc["delta"], -0.2) and acc["p"] < 0.01
    assert result["flipped"] == [f"case-{i}" for i in range(8)]
    assert cand.summary["gates_passed"]   # 0.8 >= 0.7: only the baseline check catches it


def test_noise_only_change_is_not_flagged():
    rng = random.Random(7)
    base_scores = [{"accuracy": 1.0 if i % 5 else 0.0, "similarity": rng.uniform(0.6, 0.9)}
                   for i in range(40)]
    cand_scores = [dict(s) for s in base_scores]
    for i in (1, 2):           # two cases break, two others get fixed: a wash
        cand_scores[i]["accuracy"] = 0.0
    for i in (0, 5):
        cand_scores[i]["accuracy"] = 1.0
    for s in cand_scores:
        s["similarity"] = min(1.0, max(0.0, s["similarity"] + rng.uniform(-0.03, 0.03)))
    result = compare(_run("1.0.0", base_scores), _run("working", cand_scores), 0.02, 0.05)
    assert not result["regressed"]
    assert result["metrics"]["accuracy"]["p"] == 1.0
    assert result["metrics"]["similarity"]["test"] == "paired_bootstrap"


def test_small_significant_drop_within_tolerance_is_not_a_regression():
    base = _run("1", [{"accuracy": 0.9, "similarity": 0.9} for _ in range(40)])
    cand = _run("2", [{"accuracy": 0.9, "similarity": 0.89} for _ in range(40)])
    result = compare(base, cand, tolerance=0.02, alpha=0.05)
    assert result["metrics"]["similarity"]["p"] == 0.0 and not result["regressed"]


def test_summary_gates_errors_and_tags():
    run = _run("1", [{"accuracy": 1.0, "similarity": 1.0}] * 3 + [{"accuracy": 0.0, "similarity": 0.0}])
    run.cases[0].tags = ["refund"]
    run.cases[3].error = "boom"
    run.summary = summarise(run)
    assert run.summary["gates"][0]["passed"] and run.summary["gates"][0]["value"] == 0.75
    assert run.summary["errors"] == 1 and not run.summary["errors_ok"] and not run.passed
    assert run.summary["by_tag"]["refund"]["accuracy"] == 1.0
    assert run.summary["builtins"]["error_rate"] == 0.25
