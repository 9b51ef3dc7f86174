"""Holm across a run's metrics, per-case aggregation of repeats, k-of-n gates and power:
small exact examples."""

from __future__ import annotations

import math

import pytest

from promptctl.evals import stats
from promptctl.evals.results import (CaseResult, MetricInfo, RunResult, case_values, compare,
                                     k_of_n_value, summarise)


def _run(version: str, rows: list[dict[str, float]], names: list[str], *,
         samples: int = 1, gates: tuple[str, ...] = ()) -> RunResult:
    metrics = [MetricInfo(n, "contains") for n in names]
    cases = [CaseResult(id=f"c{i // samples}", sample=i % samples, inputs={}, expected=None,
                        tags=[], output="", error=None, scores=dict(s),
                        passed=all(v >= 0.5 for v in s.values())) for i, s in enumerate(rows)]
    run = RunResult("p", version, "sha256:x", "echo", "m", "sha256:d", metrics, list(gates), 0,
                    cases)
    run.summary = summarise(run)
    return run


def test_holm_adjusts_step_down_and_keeps_the_order():
    adjusted = stats.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    assert stats.holm({"x": 0.7, "y": 0.6}) == pytest.approx({"x": 1.0, "y": 1.0})
    assert stats.holm({}) == {}


def test_one_drop_among_ten_metrics_must_beat_alpha_over_ten():
    names = [f"m{i}" for i in range(10)]
    base = _run("1", [{n: 1.0 for n in names} for _ in range(40)], names)
    # 6 of 40 cases break on m0 only: raw p = 2 / 2**6 = 0.03125, Holm 10x = 0.3125
    cand = _run("2", [{n: 0.0 if n == "m0" and i < 6 else 1.0 for n in names}
                      for i in range(40)], names)
    result = compare(base, cand, tolerance=0.0, alpha=0.05)
    m0 = result["metrics"]["m0"]
    assert m0["p"] == pytest.approx(2 / 2 ** 6) and m0["p_adjusted"] == pytest.approx(10 * 2 / 2 ** 6)
    assert not m0["regression"] and not result["regressed"] and result["correction"] == "holm"
    # a 10-case break survives the correction: 10 * 2 / 2**10 < 0.05
    worse = _run("3", [{n: 0.0 if n == "m0" and i < 10 else 1.0 for n in names}
                       for i in range(40)], names)
    assert compare(base, worse, 0.0, 0.05)["metrics"]["m0"]["regression"]


def test_repeats_are_averaged_per_case_before_pairing():
    # 4 cases x 3 samples; the candidate fails one sample of every case
    base = _run("1", [{"acc": 1.0}] * 12, ["acc"], samples=3)
    cand = _run("2", [{"acc": 0.0 if i % 3 == 0 else 1.0} for i in range(12)], ["acc"], samples=3)
    assert case_values(cand, "acc") == pytest.approx({f"c{i}": 2 / 3 for i in range(4)})
    result = compare(base, cand, 0.0, 0.05)
    acc = result["metrics"]["acc"]
    assert result["paired"] == 4 and acc["n"] == 4            # cases, not 12 samples
    assert acc["test"] == "paired_bootstrap" and math.isclose(acc["delta"], -1 / 3)
    assert cand.summary["metrics"]["acc"]["n"] == 4


def test_pass_at_k_and_pass_all_gates_count_samples_per_case():
    rows = [{"acc": v} for v in (1, 1, 1,  1, 0, 1,  0, 0, 1,  0, 0, 0)]
    run = _run("1", rows, ["acc"], samples=3,
               gates=("acc.pass_all >= 0.25", "acc.pass_at_2 >= 0.6", "pass_at_1 >= 0.75"))
    assert k_of_n_value(run, "acc.pass_all") == 0.25       # only c0 passed all 3
    assert k_of_n_value(run, "acc.pass_at_2") == 0.5       # c0, c1
    assert k_of_n_value(run, "pass_at_1") == 0.75          # c0, c1, c2
    verdicts = [g["passed"] for g in run.summary["gates"]]
    assert verdicts == [True, False, True]
    assert run.summary["builtins"]["acc.pass_at_2"] == 0.5


def test_a_small_suite_says_a_drop_is_not_detectable():
    base = _run("1", [{"acc": 1.0}] * 15, ["acc"])
    cand = _run("2", [{"acc": 0.0 if i < 5 else 1.0} for i in range(15)], ["acc"])
    result = compare(base, cand, 0.0, 0.05)
    acc = result["metrics"]["acc"]
    assert acc["p"] == pytest.approx(0.0625) and not acc["regression"]
    assert acc["verdict"] == "not detectable with 15 cases"
    assert result["verdict"] == "not detectable with 15 cases"
    assert acc["min_detectable"] > 1 / 3      # a third of the suite is below what it can show
    same = compare(base, base, 0.0, 0.05)
    assert same["verdict"] == "no regression"


def test_power_figures_are_exact_for_pass_fail_metrics():
    assert stats.min_broken(0.05) == 6        # 2 / 2**5 = 0.0625, 2 / 2**6 = 0.031
    assert stats.min_broken(0.025) == 7
    assert stats.binary_power(5, 1.0, 0.05) == 0.0          # 5 cases can never reach p < 0.05
    assert stats.min_detectable_drop(5, 0.05) is None
    n = stats.cases_needed(0.05, 0.05)
    assert stats.binary_power(n, 0.05, 0.05) >= 0.8 > stats.binary_power(n - 1, 0.05, 0.05)
    drop = stats.min_detectable_drop(400, 0.05)
    assert stats.binary_power(400, drop, 0.05) >= 0.8 > stats.binary_power(400, drop * 0.95, 0.05)
