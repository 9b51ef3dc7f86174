"""Metric sources over real call logs: SQLite and JSONL agree, keys aggregate first."""

from __future__ import annotations

import math

import pytest

from promptctl.runtime.calllog import CallLogger
from promptctl.canary.decide import Action, decide, parse_policy
from promptctl.canary.prometheus_source import log_moments_from_buckets
from promptctl.canary.selection import Selection
from promptctl.canary.sources import read_call_log
from promptctl.errors import MetricSourceError
from promptctl.runtime.sinks import FanoutSink, JsonlSink, SQLiteSink

NOW = 1_800_000_000.0


def _log_both(tmp_path, calls: list[dict], feedback: list[tuple[str, dict]] = ()):
    db, jl = tmp_path / "calls.sqlite", tmp_path / "calls.jsonl"
    logger = CallLogger(FanoutSink([SQLiteSink(db), JsonlSink(jl)]))
    ids = [logger.log_call(**c) for c in calls]
    for index, scores in feedback:
        logger.attach(ids[index], scores)
    logger.close()
    assert logger.stats.written == len(calls) + len(feedback)
    return db, jl, ids


def _call(variant, key, *, success=True, latency=100.0, t=NOW, version=None, **kw):
    return dict(name="support", env="production", variant=variant, key=key, success=success,
                version=version or ("1.1.0" if variant == "canary" else "1.0.0"),
                latency_ms=latency, time_=t, **kw)


SEL = Selection("support", "production", "1.0.0", "1.1.0", since=NOW - 60)


def test_per_key_means_come_first_and_both_logs_agree(tmp_path):
    calls = (
        # one heavy canary key with 8 failures counts once: per-key mean 1.0
        [_call("canary", "heavy", success=False, latency=400.0) for _ in range(8)]
        + [_call("canary", f"c{i}", latency=100.0) for i in range(3)]
        + [_call("stable", f"s{i}", success=i != 0, latency=200.0) for i in range(4)]
        + [_call("stable", None, latency=50.0)]                 # no key: its own unit
        + [_call("stable", "old", t=NOW - 3600)]                # before the step started
        + [_call("canary", "c0", version="0.9.0")]              # another version
        + [dict(_call("stable", "s9"), env="staging")]          # another env
    )
    db, jl, _ = _log_both(tmp_path, calls)
    policy = parse_policy({})
    for path in (db, jl):
        obs = read_call_log(path, SEL, policy.metrics)
        assert (obs.canary.calls, obs.canary.errors, obs.canary.keys) == (11, 8, 4)
        assert (obs.stable.calls, obs.stable.errors, obs.stable.keys) == (5, 1, 5)
        err = obs.canary.metrics["error_rate"]
        assert err.n == 4 and err.mean == pytest.approx(0.25)    # not 8/11
        lat = obs.canary.metrics["latency"]
        assert lat.mean == pytest.approx((math.log(400) + 3 * math.log(100)) / 4)
        assert obs.stable.metrics["error_rate"].mean == pytest.approx(0.2)


def test_late_feedback_overrides_the_calls_own_score(tmp_path):
    calls = [_call("canary", f"k{i}", scores={"thumbs_up": 1}) for i in range(3)]
    calls += [_call("stable", "s", scores={"other": 5})]
    db, jl, ids = _log_both(tmp_path, calls, feedback=[(0, {"thumbs_up": 0}),
                                                       (3, {"thumbs_up": 1})])
    policy = parse_policy({"metrics": {"thumbs_up": {}}})
    for path in (db, jl):
        obs = read_call_log(path, SEL, policy.metrics)
        canary, stable = obs.canary.metrics["thumbs_up"], obs.stable.metrics["thumbs_up"]
        assert (canary.n, canary.total) == (3, 2)
        assert (stable.n, stable.total) == (1, 1)


def test_segment_filter(tmp_path):
    calls = [_call("canary", "a", segment="eu"), _call("canary", "b", segment="us")]
    db, jl, _ = _log_both(tmp_path, calls)
    sel = Selection("support", "production", "1.0.0", "1.1.0", since=NOW - 60, segment="eu")
    for path in (db, jl):
        assert read_call_log(path, sel, parse_policy({}).metrics).canary.calls == 1


def test_the_default_entry_is_judged_without_its_segments_traffic(tmp_path):
    # A segment's own canary of the same versions failing must not roll back the default one.
    calls = ([_call("canary", f"e{i}", success=False, segment="enterprise") for i in range(5)]
             + [_call("canary", "d", success=True)])
    db, jl, _ = _log_both(tmp_path, calls)
    for path in (db, jl):
        obs = read_call_log(path, SEL, parse_policy({}).metrics)
        assert (obs.canary.calls, obs.canary.errors) == (1, 0)


def test_missing_log_is_a_metric_source_error(tmp_path):
    with pytest.raises(MetricSourceError):
        read_call_log(tmp_path / "nope.sqlite", SEL, parse_policy({}).metrics)


def test_broken_canary_is_rolled_back_from_the_sqlite_log(tmp_path):
    import random
    rng = random.Random(3)
    calls = []
    for i in range(1500):
        calls.append(_call("stable", f"s{i}", success=rng.random() > 0.02,
                           latency=math.exp(rng.gauss(6, 0.5))))
        calls.append(_call("canary", f"c{i}", success=rng.random() > 0.15,
                           latency=math.exp(rng.gauss(6, 0.5))))
    db, _, _ = _log_both(tmp_path, calls)
    policy = parse_policy({"min_calls": 500, "min_duration": "1m"})
    obs = read_call_log(db, SEL, policy.metrics)
    decision = decide(policy, obs, weight=5, elapsed=30)
    assert decision.action is Action.ROLLBACK
    assert "error_rate" in decision.reasons[0]


def test_log_moments_from_histogram_buckets():
    # 10 calls in (0.1, 0.25] s, 10 in (0.25, 0.5] s
    m = log_moments_from_buckets([(0.1, 0), (0.25, 10), (0.5, 20), (math.inf, 20)])
    assert m.n == 20
    expected = (math.log(math.sqrt(0.1 * 0.25) * 1000) + math.log(math.sqrt(0.25 * 0.5) * 1000)) / 2
    assert m.mean == pytest.approx(expected)


def test_prometheus_queries_select_the_default_entry_by_an_empty_segment():
    # A loopback stand-in for Prometheus' query API records the PromQL it is sent.
    from urllib.parse import parse_qs, urlsplit

    from promptctl.canary.prometheus_source import PrometheusSource
    from support.http import json_api
    seen: list[str] = []

    def answer(request):
        seen.append(parse_qs(urlsplit(request.path).query)["query"][0])
        return {"status": "success", "data": {"resultType": "vector", "result": []}}

    with json_api(answer) as server:
        url = server.url
        PrometheusSource(url).observations(SEL, parse_policy({}).metrics, NOW)
        assert seen and all('segment=""' in q for q in seen), seen
        seen.clear()
        eu = Selection("support", "production", "1.0.0", "1.1.0", since=NOW - 60, segment="eu")
        PrometheusSource(url).observations(eu, parse_policy({}).metrics, NOW)
        assert all('segment="eu"' in q for q in seen), seen
