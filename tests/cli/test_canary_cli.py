"""`promptctl canary analyze` and `canary watch` through the real app, on a real repo."""

from __future__ import annotations

import json

from support.cli import invoke
from support.releases import CANARY_MANIFEST as MANIFEST, seed_failing_canary


def _canary(repo, args: list[str]):
    """`promptctl -C REPO canary ARGS...` as the installed command parses it."""
    return invoke(repo, "canary", *args)


def _repo(prompt_repo):
    seed_failing_canary(prompt_repo)
    return prompt_repo


def test_analyze_prints_metrics_and_the_rollback(prompt_repo):
    _repo(prompt_repo)
    result = _canary(prompt_repo, ["analyze", "support-refund", "--env", "production"])
    assert result.exit_code == 0, result.output
    assert "stable 1.0.0 vs canary 1.1.0 at 5%" in result.output
    assert "error_rate (critical)" in result.output and "33.33%" in result.output
    assert "decision: rollback" in result.output


def test_analyze_json_and_unknown_prompt(prompt_repo):
    _repo(prompt_repo)
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production", "--json"])
    body = json.loads(result.output)
    assert body["event"] == "rollback" and body["metrics"][0]["verdict"] == "fail"
    missing = _canary(prompt_repo, ["analyze", "nope", "-e", "production"])
    assert missing.exit_code == 2 and "nope is not deployed in production" in missing.output


def test_watch_dry_run_once(prompt_repo):
    _repo(prompt_repo)
    result = _canary(prompt_repo, ["watch", "--dry-run", "--iterations", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.count("decision: rollback") == 1


def test_installed_cli_runs_canary_analyze(prompt_repo):
    from support.cli import run_cli
    _repo(prompt_repo)
    result = run_cli("canary", "analyze", "support-refund", "--env", "production", cwd=prompt_repo)
    assert result.returncode == 0, result.stderr
    assert "decision: rollback" in result.stdout


def test_unknown_env_is_named_as_such(prompt_repo):
    _repo(prompt_repo)
    for args in (["analyze", "support-refund", "--env", "prod"],
                 ["watch", "--env", "prod", "--interval", "1s", "--iterations", "1"]):
        result = _canary(prompt_repo, args)
        assert result.exit_code == 2, result.output
        assert "release.yaml: --env: no environment 'prod' (environments: production)" \
            in result.output


def test_unreachable_webhook_still_reports_the_applied_rollback(prompt_repo):
    import socket

    from support.repos import git
    _repo(prompt_repo)
    with socket.socket() as free:        # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}/hook"
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production",
                                    "--apply", "--webhook", url])
    assert result.exit_code == 3, result.output
    assert "applied: stop canary support-refund 1.1.0 in production" in result.output
    assert "was applied and committed; only the notification failed" in result.output
    assert git(prompt_repo, "log", "-1", "--format=%s").startswith("stop canary support-refund")


def test_a_broken_jsonl_call_log_is_a_metric_source_failure_not_a_crash(prompt_repo):
    _repo(prompt_repo)
    log = prompt_repo / "calls.jsonl"
    log.write_text('{"garbage": 1}\n')
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production",
                                    "--call-log", str(log)])
    # an unreadable metric source is an external failure (3), not a verdict on the canary
    assert result.exit_code == 3, result.output
    assert "metric source: " in result.output and "line 1 is not a call-log record" in result.output


def test_a_bad_policy_value_names_the_file_that_holds_it(prompt_repo):
    _repo(prompt_repo)
    config = prompt_repo / "promptctl.yaml"
    good = config.read_text()
    config.write_text(good + "canary:\n  steps: [50, 5]\n")
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production"])
    assert result.exit_code == 2
    line = good.count("\n") + 2   # the line of `steps:`
    assert f"error: promptctl.yaml:{line}: canary.steps: must be increasing" in result.output
    config.write_text(good)
    (prompt_repo / "release.yaml").write_text(MANIFEST + "      analysis: {min_calls: -3}\n")
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production"])
    assert result.exit_code == 2
    assert ("error: release.yaml: environments.production.support-refund.analysis.min_calls: "
            "must be at least 0") in result.output


def test_a_webhook_that_is_not_a_url_is_refused_before_anything_is_applied(prompt_repo):
    from support.repos import git
    _repo(prompt_repo)
    head = git(prompt_repo, "rev-parse", "HEAD")
    for args in (["analyze", "support-refund", "-e", "production", "--apply", "--webhook", "hooks"],
                 ["watch", "--webhook", "ftp://x", "--interval", "1s", "--iterations", "1"]):
        result = _canary(prompt_repo, args)
        assert result.exit_code == 2, result.output
        assert "error: --webhook: " in result.output and "is not an http(s) URL" in result.output
    assert git(prompt_repo, "rev-parse", "HEAD") == head


def test_watch_refuses_a_zero_interval(prompt_repo):
    _repo(prompt_repo)
    result = _canary(prompt_repo, ["watch", "--interval", "0s", "--iterations", "1"])
    assert result.exit_code == 2 and "error: --interval: '0s' must be longer than 0" in result.output


def test_a_broken_manifest_is_one_line_with_file_line_and_field(prompt_repo):
    _repo(prompt_repo)
    manifest = prompt_repo / "release.yaml"
    for text, message in [("environments: [\n", "error: release.yaml:2: invalid YAML"),
                          (MANIFEST.replace("      active: 1.0.0\n", ""),
                           "error: release.yaml:3: environments.production.support-refund.active: ")]:
        manifest.write_text(text)
        for args in (["analyze", "support-refund", "-e", "production"],
                     ["watch", "--interval", "1s", "--iterations", "1"]):
            result = _canary(prompt_repo, args)
            assert result.exit_code == 2, result.output
            assert result.output.startswith(message), result.output


def test_check_reports_a_bad_canary_setting_at_its_line(prompt_repo):
    _repo(prompt_repo)
    config = prompt_repo / "promptctl.yaml"
    good = config.read_text()
    config.write_text(good + "canary:\n  min_duration: 5m\n  metrics:\n    csat: {mode: dry}\n")
    result = invoke(prompt_repo, "check")
    assert result.exit_code == 1, result.output
    line = good.count("\n") + 4   # the line of `csat:`
    assert (f"promptctl.yaml:{line}: canary.metrics.csat.mode: 'dry' is not a valid mode "
            "(use gate, observe)") in result.output


def test_a_bad_override_in_release_yaml_is_refused_naming_release_yaml(prompt_repo):
    _repo(prompt_repo)
    (prompt_repo / "release.yaml").write_text(
        MANIFEST + "      analysis: {metrics: {latency: {tolerence: 0.2}}}\n")
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production"])
    assert result.exit_code == 2
    assert ("error: release.yaml: environments.production.support-refund.analysis.metrics.latency: "
            "unknown key 'tolerence' (did you mean 'tolerance'? use one of ") in result.output
    (prompt_repo / "release.yaml").write_text(MANIFEST + "      analysis: {deadline: soon}\n")
    result = _canary(prompt_repo, ["analyze", "support-refund", "-e", "production"])
    assert result.exit_code == 2
    assert ("error: release.yaml: environments.production.support-refund.analysis.deadline: "
            "'soon' is not a duration (write e.g. 5m or 24h)") in result.output
