"""Sample-ratio checks, α split, running intersections and the verdicts' explanations,
on hand-made observations."""

from __future__ import annotations

import math

import pytest

from promptctl.canary.decide import (
    Action,
    Observations,
    VariantData,
    Verdict,
    decide,
    evaluate_metric,
    format_duration,
    parse_policy,
)
from promptctl.canary.srm import RoutingCheck, SrmPolicy, check_srm, chi_square_p
from promptctl.canary.stats import Moments
from promptctl.errors import UsageError

QUICK = {"min_calls": 100, "min_duration": "1m", "deadline": "1h"}


def _bern(n: int, errors: int) -> Moments:
    return Moments(n, errors, errors, n)


def _obs(n_s: int, n_c: int, e_s: int = 0, e_c: int = 0, **scores) -> Observations:
    s, c = {"error_rate": _bern(n_s, e_s)}, {"error_rate": _bern(n_c, e_c)}
    for name, (ms, mc) in scores.items():
        s[name], c[name] = ms, mc
    return Observations(VariantData("1.0.0", n_s, e_s, n_s, s), VariantData("1.1.0", n_c, e_c, n_c, c))


def _score(n: int, mean: float, sd: float) -> Moments:
    # n values with this mean and sample sd
    total = n * mean
    return Moments(n, total, sd * sd * (n - 1) + total * total / n, n)


def test_chi_square_p_is_exact_for_a_small_example():
    # expected 80 / 20, observed 90 / 10: chi2 = 100/80 + 100/20 = 6.25
    assert chi_square_p(90, 10, 0.2) == pytest.approx(math.erfc(math.sqrt(6.25 / 2)))
    assert chi_square_p(80, 20, 0.2) == 1.0
    assert chi_square_p(98, 2, 0.02) is None        # 2 expected canary keys: too few


def test_the_dropped_canary_logs_of_a_5_percent_canary_are_a_mismatch():
    result = check_srm(SrmPolicy(), 5, 19_067, 269, 19_067, 269)
    assert result.mismatch and result.p_keys < 1e-100
    assert "canary has 1.4% of keys (269 of 19336), expected 5.0%" in result.reason
    healthy = check_srm(SrmPolicy(), 5, 950, 50, 950, 50)
    assert healthy.verdict == "ok" and healthy.p_keys == pytest.approx(1.0)
    assert check_srm(SrmPolicy(), 100, 0, 500, 0, 500).verdict == "no_data"
    assert check_srm(SrmPolicy(enabled=False), 5, 19_067, 269, 19_067, 269).verdict == "off"


def test_a_mismatch_holds_loudly_by_default_and_rolls_back_when_asked():
    obs = _obs(19_067, 269)
    hold = decide(parse_policy(QUICK), obs, weight=5, elapsed=3000)
    assert hold.action is Action.HOLD and hold.reasons[0].startswith("sample ratio mismatch")
    assert hold.srm.mismatch and "srm mismatch" in hold.summary()
    rollback = decide(parse_policy(QUICK, {"srm": {"action": "rollback"}}), obs, weight=5,
                      elapsed=3000)
    assert rollback.action is Action.ROLLBACK
    fine = decide(parse_policy(QUICK), _obs(1900, 100), weight=5, elapsed=3000)
    assert fine.srm.verdict == "ok" and not fine.reasons[0].startswith("sample ratio")


def test_misrouted_calls_are_reported_with_the_split():
    routing = RoutingCheck(checked=1000, misrouted=3, examples=("a", "b", "c"))
    result = check_srm(SrmPolicy(), 5, 950, 50, 950, 50, routing)
    assert "3 of 1000 logged calls misrouted" in result.reason
    assert result.as_dict()["misrouted"]["calls"] == ["a", "b", "c"]


@pytest.mark.parametrize("srm", [{"alpha": 2}, {"action": "panic"}, {"alfa": 0.1}, "yes"])
def test_a_bad_srm_policy_names_its_field(srm):
    with pytest.raises(UsageError) as info:
        parse_policy({"srm": srm})
    assert info.value.field.startswith("canary.srm")


def test_alpha_is_split_over_the_tests_that_can_roll_back():
    policy = parse_policy({"alpha": 0.06, "metrics": {
        "csat": {"min": 3}, "thumbs": {"mode": "observe"}}})
    by = {m.name: m for m in policy.metrics}
    # error_rate 1 + latency 1 + csat (comparison and bound) 2 = 4 tests; thumbs observes
    assert policy.metric_alpha(by["error_rate"]) == pytest.approx(0.015)
    assert policy.metric_alpha(by["thumbs"]) == pytest.approx(0.06)


def test_an_observe_only_metric_is_reported_but_never_rolls_back():
    policy = parse_policy(QUICK, {"srm": False, "metrics": {
        "latency": None, "thumbs": {"mode": "observe", "tolerance": 0.0}}})
    obs = _obs(2000, 2000, thumbs=(_score(2000, 0.9, 0.1), _score(2000, 0.5, 0.1)))
    decision = decide(policy, obs, weight=50, elapsed=3000)
    thumbs = {m.name: m for m in decision.metrics}["thumbs"]
    assert thumbs.verdict is Verdict.FAIL and thumbs.observe
    assert decision.action is Action.ADVANCE and "thumbs fail (observe)" in decision.summary()


def test_the_running_intersection_keeps_a_pass_and_explains_a_contradiction():
    policy = parse_policy(QUICK, {"metrics": {"latency": None, "csat": {"tolerance": 0.05}}})
    csat = {m.name: m for m in policy.metrics}["csat"]
    early = _obs(1000, 1000, csat=(_score(1000, 0.5, 0.01), _score(1000, 0.5, 0.01)))
    late = _obs(1200, 1200, csat=(_score(1200, 0.5, 0.3), _score(1200, 0.47, 0.3)))
    assert evaluate_metric(csat, late, policy).verdict is Verdict.INCONCLUSIVE
    kept = evaluate_metric(csat, late, policy, [early])
    assert kept.verdict is Verdict.PASS and kept.difference.high <= 0.01
    moved = _obs(1000, 1000, csat=(_score(1000, 0.5, 0.01), _score(1000, 0.7, 0.01)))
    explained = evaluate_metric(csat, late, policy, [moved])
    assert "earlier looks disagree" in explained.reason


def test_the_soak_says_what_it_checked_and_no_data_says_why():
    policy = parse_policy(QUICK)
    obs = _obs(0, 3000)
    decision = decide(policy, obs, weight=100, elapsed=7265)
    assert decision.action is Action.PROMOTE
    assert decision.reasons == ("soak: 3000 canary calls over 2h 1m, bounds held; "
                                "no comparison possible",)
    assert {m.verdict for m in decision.metrics} == {Verdict.NO_DATA}
    assert decision.metrics[0].reason == "no stable calls in this step"
    few = evaluate_metric(policy.metrics[0], _obs(5, 300), policy)
    assert few.reason == "stable has 5 of the 20 keys needed (min_keys)"


def test_durations_never_round_up_to_the_goal():
    assert format_duration(29.6) == "29s" and format_duration(30) == "30s"
    assert format_duration(299.9) == "4m 59s" and format_duration(90061) == "1d 1h"
    hold = decide(parse_policy(QUICK, {"min_duration": "30s"}), _obs(950, 50), weight=5,
                  elapsed=29.6)
    assert "29s of 30s in this step" in hold.reasons


def test_calls_routed_at_another_weight_are_left_out_of_the_split():
    # half the window's calls were routed at 5% (the step before): alone they would fake a
    # mismatch at 50%; the calls logged with the 50% threshold split evenly
    routing = RoutingCheck(checked=8000, other_threshold=4000, split=(2000, 2000, 2000, 2000))
    result = check_srm(SrmPolicy(), 50, 5800, 2200, 5800, 2200, routing)
    assert result.verdict == "ok" and (result.stable_keys, result.canary_keys) == (2000, 2000)
    assert "4000 calls routed at another weight left out" in result.reason
    assert check_srm(SrmPolicy(), 50, 5800, 2200, 5800, 2200).mismatch
