"""Policy parsing, per-metric verdicts and decisions on hand-made observations."""

from __future__ import annotations

import math

import pytest

from promptctl.canary.decide import (
    Action,
    Direction,
    MetricKind,
    Observations,
    VariantData,
    Verdict,
    decide,
    evaluate_metric,
    parse_duration,
    parse_policy,
)
from promptctl.canary.stats import Moments, cs_radius, diff_interval
from promptctl.errors import UsageError

# The observations below are even splits whatever the weight: the sample-ratio check
# (tested on its own) is off so these tests see the metric logic alone.
FAST = {"min_calls": 100, "min_duration": "1m", "deadline": "1h", "srm": False}


def _bern(n: int, errors: int) -> Moments:
    return Moments(n, errors, errors, n)


def _lat(n: int, ms: float, spread: float = 0.5) -> Moments:
    # half the keys at ms*e^-spread, half at ms*e^+spread: mean log = log(ms)
    lo, hi = math.log(ms) - spread, math.log(ms) + spread
    return Moments(n, n / 2 * (lo + hi), n / 2 * (lo * lo + hi * hi), n)


def _obs(n_s=10_000, e_s=200, ms_s=800.0, n_c=10_000, e_c=200, ms_c=800.0, **extra) -> Observations:
    s = {"error_rate": _bern(n_s, e_s), "latency": _lat(n_s, ms_s)}
    c = {"error_rate": _bern(n_c, e_c), "latency": _lat(n_c, ms_c)}
    for name, (ms, mc) in extra.items():
        s[name], c[name] = ms, mc
    return Observations(VariantData("1.0.0", n_s, e_s, n_s, s), VariantData("1.1.0", n_c, e_c, n_c, c))


def test_defaults_and_overrides_merge_per_metric():
    policy = parse_policy({"min_calls": 50},
                          {"metrics": {"latency": {"tolerance": 0.2}, "csat": {"min": 3}}})
    assert policy.steps == (5, 50, 100) and policy.min_calls == 50
    by = {m.name: m for m in policy.metrics}
    assert by["latency"].tolerance == 0.2 and by["latency"].kind is MetricKind.LATENCY
    assert by["error_rate"].critical and by["error_rate"].tolerance == 0.01
    assert by["csat"].kind is MetricKind.SCORE and by["csat"].direction is Direction.HIGHER
    assert "latency" not in {m.name for m in parse_policy({"metrics": {"latency": None}}).metrics}


@pytest.mark.parametrize("layer, field", [
    ({"steps": [50, 5]}, "canary.steps"),
    ({"steps": [0, 100]}, "canary.steps"),
    ({"min_calls": "many"}, "canary.min_calls"),
    ({"deadline": "soon"}, "canary.deadline"),
    ({"metrics": {"latency": {"tolerence": 1}}}, "canary.metrics.latency"),
    ({"metrics": {"x": {"direction": "sideways"}}}, "canary.metrics.x"),
    ({"alpha": 2}, "canary.alpha"),
    ({"stpes": [1]}, "canary"),
])
def test_bad_policy_names_the_field(layer, field):
    with pytest.raises(UsageError) as info:
        parse_policy(layer)
    assert info.value.field == field


def test_parse_duration():
    assert parse_duration("90s") == 90 and parse_duration("5m") == 300
    assert parse_duration("24h") == 86_400 and parse_duration(7) == 7
    with pytest.raises(UsageError):
        parse_duration("5 parsecs")


def test_confidence_sequence_shrinks_and_is_wider_than_a_fixed_interval():
    assert cs_radius(1.0, 100, 0.05, 1000) > cs_radius(1.0, 1000, 0.05, 1000) > \
        cs_radius(1.0, 100_000, 0.05, 1000)
    assert cs_radius(1.0, 1000, 0.05, 1000) > 1.96 / math.sqrt(1000)
    # zero errors on both sides must not produce a zero-width interval
    iv = diff_interval(_bern(50, 0), _bern(50, 0), 0.05, 400, bernoulli=True)
    assert iv.high - iv.low > 0.01


def test_no_data_holds():
    policy = parse_policy(FAST)
    empty = Observations(VariantData("1.0.0"), VariantData("1.1.0"))
    decision = decide(policy, empty, weight=5, elapsed=600)
    assert decision.action is Action.HOLD and decision.weight == 5
    assert {m.verdict for m in decision.metrics} == {Verdict.NO_DATA}


def test_past_deadline_without_decision_rolls_back():
    policy = parse_policy(FAST)
    empty = Observations(VariantData("1.0.0"), VariantData("1.1.0"))
    decision = decide(policy, empty, weight=5, elapsed=3601)
    assert decision.action is Action.ROLLBACK and decision.weight == 0
    assert "deadline" in decision.reasons[0]


def test_healthy_canary_advances_then_promotes():
    policy = parse_policy(FAST)
    assert decide(policy, _obs(), weight=5, elapsed=120).action is Action.ADVANCE
    assert decide(policy, _obs(), weight=5, elapsed=120).weight == 50
    assert decide(policy, _obs(), weight=50, elapsed=120).weight == 100
    final = decide(policy, _obs(), weight=100, elapsed=120)
    assert final.action is Action.PROMOTE and "passed" in final.summary()


def test_the_full_weight_step_needs_no_stable_traffic():
    policy = parse_policy(FAST)
    empty_stable = Observations(VariantData("1.0.0", 0, 0, 0, {}), _obs().canary)
    final = decide(policy, empty_stable, weight=100, elapsed=120)
    assert final.action is Action.PROMOTE
    few = Observations(VariantData("1.0.0", 0, 0, 0, {}), _obs(n_c=20, e_c=0).canary)
    assert decide(policy, few, weight=100, elapsed=120).action is Action.HOLD
    # ...but before 100% both variants need their calls
    assert decide(policy, empty_stable, weight=50, elapsed=120).action is Action.HOLD


def test_min_duration_and_min_calls_hold_a_healthy_canary():
    policy = parse_policy(FAST)
    early = decide(policy, _obs(), weight=5, elapsed=30)
    assert early.action is Action.HOLD and "30s of 1m in this step" in early.reasons[0]
    few = decide(parse_policy(FAST, {"min_calls": 50_000}), _obs(), weight=5, elapsed=120)
    assert few.action is Action.HOLD and "of 50000 calls" in few.reasons[0]


def test_critical_failure_rolls_back_before_the_gates():
    decision = decide(parse_policy(FAST), _obs(e_c=1500), weight=5, elapsed=10)
    assert decision.action is Action.ROLLBACK
    [err] = [m for m in decision.metrics if m.name == "error_rate"]
    assert err.verdict is Verdict.FAIL and err.canary == pytest.approx(0.15)
    assert err.difference.low > 0.01


def test_non_critical_failure_waits_for_the_gates_then_rolls_back():
    policy = parse_policy(FAST)
    slow = _obs(ms_c=1600.0)
    assert decide(policy, slow, weight=5, elapsed=10).action is Action.HOLD
    decision = decide(policy, slow, weight=5, elapsed=120)
    assert decision.action is Action.ROLLBACK
    [lat] = [m for m in decision.metrics if m.name == "latency"]
    assert lat.canary == pytest.approx(1600.0) and lat.difference.estimate == pytest.approx(1.0)


def test_small_regression_within_tolerance_passes():
    # +0.25 points of errors against a tolerance of 1 point: non-inferior, with enough data
    obs = _obs(n_s=20_000, e_s=400, n_c=20_000, e_c=450)
    result = evaluate_metric(parse_policy(FAST).metrics[0], obs, parse_policy(FAST))
    assert result.verdict is Verdict.PASS


def test_higher_is_better_score_and_absolute_bound():
    policy = parse_policy(FAST, {"metrics": {"csat": {"tolerance": 0.1, "min": 3.5}}})
    good = Moments(2000, 2000 * 4.2, 2000 * (4.2 ** 2 + 0.25), 2000)
    worse = Moments(2000, 2000 * 3.8, 2000 * (3.8 ** 2 + 0.25), 2000)
    low = Moments(2000, 2000 * 3.0, 2000 * (3.0 ** 2 + 0.25), 2000)
    csat = next(m for m in policy.metrics if m.name == "csat")
    assert evaluate_metric(csat, _obs(csat=(good, good)), policy).verdict is Verdict.PASS
    assert evaluate_metric(csat, _obs(csat=(good, worse)), policy).verdict is Verdict.FAIL
    bounded = evaluate_metric(csat, _obs(csat=(low, low)), policy)
    assert bounded.verdict is Verdict.FAIL and "absolute bound" in bounded.reason


def test_optional_metric_without_data_does_not_block():
    policy = parse_policy(FAST, {"metrics": {"thumbs_up": {"required": False}}})
    assert decide(policy, _obs(), weight=5, elapsed=120).action is Action.ADVANCE
    strict = parse_policy(FAST, {"metrics": {"thumbs_up": {}}})
    assert decide(strict, _obs(), weight=5, elapsed=120).action is Action.HOLD


def test_metric_source_failures_hold_then_roll_back():
    policy = parse_policy(FAST, {"max_errors": 2})
    assert decide(policy, None, weight=5, elapsed=120, source_errors=2).action is Action.HOLD
    assert decide(policy, None, weight=5, elapsed=120, source_errors=3).action is Action.ROLLBACK
