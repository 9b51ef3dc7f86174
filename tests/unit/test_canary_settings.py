"""The `canary:` section as typed settings: durations, dropped metrics, the layers."""

from __future__ import annotations

import pytest

from promptctl.canary.policy import CanarySettings, MetricKind, parse_policy
from promptctl.config import canary_settings, parse_config, section_problems
from promptctl.errors import UsageError, ValidationError


@pytest.mark.parametrize("written, seconds", [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("500ms", 0.5), ("90s", 90.0), ("5m", 300.0),
    ("24h", 86_400.0), ("2d", 172_800.0), ("1w", 604_800.0), (" 1.5 h ", 5400.0)])
def test_durations_are_seconds_from_a_number_or_a_unit(written, seconds):
    policy = parse_policy({"min_duration": written, "deadline": written})
    assert policy.min_duration == seconds and policy.deadline == seconds


@pytest.mark.parametrize("key", ["min_duration", "deadline"])
@pytest.mark.parametrize("written", ["soon", "5 parsecs", "-5m", True, [5]])
def test_a_bad_duration_names_its_field_and_how_to_write_one(key, written):
    with pytest.raises(UsageError) as info:
        parse_policy({key: written})
    assert info.value.field == f"canary.{key}"
    assert "is not a duration (write e.g. 5m or 24h)" in info.value.one_line()


@pytest.mark.parametrize("off", [None, False])
def test_a_null_or_false_deadline_is_no_deadline(off):
    assert parse_policy({"deadline": off}).deadline is None
    assert parse_policy({}).deadline == 86_400.0


@pytest.mark.parametrize("drop", [None, False])
def test_a_null_or_false_metric_is_dropped_even_a_default_one(drop):
    policy = parse_policy({"metrics": {"latency": drop, "csat": {"min": 3}}})
    assert [m.name for m in policy.metrics] == ["error_rate", "csat"]


def test_an_override_drops_a_metric_the_config_declares_and_true_keeps_defaults():
    base = {"metrics": {"csat": {"min": 3}, "thumbs_up": True}}
    policy = parse_policy(base, {"metrics": {"csat": None}})
    by = {m.name: m for m in policy.metrics}
    assert set(by) == {"error_rate", "latency", "thumbs_up"}
    assert by["thumbs_up"].kind is MetricKind.SCORE and by["thumbs_up"].tolerance == 0.0
    # `true` is the metric's own defaults, not DEFAULT_METRICS' (as it has always been)
    assert parse_policy({"metrics": {"latency": True}}).metrics[1].tolerance == 0.0


@pytest.mark.parametrize("none", [None, False])
def test_no_metrics_at_all(none):
    assert parse_policy({"metrics": none}).metrics == ()
    assert len(parse_policy({"metrics": {}}).metrics) == 2   # an empty mapping keeps the defaults


def test_the_config_section_is_typed_once_with_every_problem_at_its_line():
    config = parse_config("canary:\n  min_duration: 5m\n  webhook: https://hooks.example.com/x\n")
    settings = canary_settings(config)
    assert isinstance(settings, CanarySettings) and settings.min_duration == 300.0
    assert settings.webhook == "https://hooks.example.com/x" and section_problems(config) == []
    broken = parse_config("canary:\n  steps: [5, 100]\n  metrics:\n    csat:\n"
                          "      tolerance: -1\n      directoin: higher\n")
    assert [str(p) for p in section_problems(broken)] == [
        "promptctl.yaml:5: canary.metrics.csat.tolerance: must be at least 0 (got -1.0)",
        "promptctl.yaml:6: canary.metrics.csat: unknown key 'directoin' (did you mean "
        "'direction'? use one of critical, direction, kind, max, min, mode, query, required, "
        "tolerance)"]
    with pytest.raises(ValidationError, match=r"^promptctl.yaml:5: canary.metrics.csat.tolerance"):
        canary_settings(broken)


def test_an_override_is_checked_on_its_own_before_the_merge():
    with pytest.raises(UsageError) as info:
        parse_policy({"min_calls": 50}, {"srm": {"action": "panic"}})
    assert info.value.field == "canary.srm.action"
    assert "'panic' is not a valid action (use hold, rollback)" in info.value.message
