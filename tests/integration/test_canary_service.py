"""services.canary over real prompt repos: release.yaml, git history, a SQLite call log,
and a loopback webhook receiver."""

from __future__ import annotations

import math
import time

import pytest

from support.http import webhook_receiver
from support.repos import build_file_tree, git_save
from support.traffic import log_canary_traffic, seeded_errors
from promptctl.runtime.calllog import open_logger
from promptctl.canary.decide import Action, Verdict
from promptctl.services import canary as svc
from promptctl.services import canary_notify, canary_targets, canary_watch
from promptctl.services.project import open_project

MANIFEST = """\
environments:
  production:
    support-refund:
      active: 1.0.0
      canary: {{version: 1.1.0, weight: {weight}, started: "{started}"}}
      segments:
        enterprise:
          active: 1.0.0
          canary: {{version: 1.2.0, weight: 0, started: "{started}"}}
"""
POLICY = ("canary:\n  min_calls: 300\n  min_duration: 1m\n  deadline: 2h\n"
          "  metrics: {error_rate: {tolerance: 0.02}}\n"
          # the simulated traffic logs as many calls per variant at any weight
          "  srm: false\n")


@pytest.fixture
def repo(prompt_repo):
    started = "2026-01-01T00:00:00+00:00"
    build_file_tree(prompt_repo, {
        "release.yaml": MANIFEST.format(weight=5, started=started),
        "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n" + POLICY,
    })
    git_save(prompt_repo, "canary support-refund 1.1.0 at 5% in production\n\n"
             "Promptctl-Action: canary\nPromptctl-Prompt: support-refund\n"
             "Promptctl-Env: production\nPromptctl-Version: 1.1.0\nPromptctl-Weight: 5")
    return prompt_repo


def _traffic(root, *, canary_error: float, n: int = 2000, since: float) -> None:
    log_canary_traffic(root, n, at=lambda i: since + i * 0.01,
                       outcome=seeded_errors(11, canary_error, lambda rng: math.exp(rng.gauss(6, 0.4))))


def test_step_start_comes_from_the_canary_commit(repo):
    project = open_project(repo)
    target = canary_targets.find_canary(project, "support-refund", "production")
    assert (target.stable, target.version, target.weight) == ("1.0.0", "1.1.0", 5)
    committed = svc.step_started(project, target)
    assert abs(committed - time.time()) < 120
    assert committed > target.started


def test_no_data_holds_then_deadline_rolls_back(repo):
    now = time.time()
    with open_logger(None, root=repo) as logger:    # a log with another prompt only
        logger.log_call(name="triage", version="1.0.0", env="production", latency_ms=3.0)
    first = svc.analyze(open_project(repo), "support-refund", "production", now=now + 120)
    assert first.decision.action is Action.HOLD
    assert {m.verdict for m in first.decision.metrics} == {Verdict.NO_DATA}
    late = svc.analyze(open_project(repo), "support-refund", "production", now=now + 3 * 3600)
    assert late.decision.action is Action.ROLLBACK and "deadline" in late.decision.reasons[0]


def test_healthy_canary_advances_and_broken_one_rolls_back(repo, tmp_path, monkeypatch):
    project = open_project(repo)
    since = svc.step_started(project, canary_targets.find_canary(project, "support-refund", "production"))
    _traffic(repo, canary_error=0.02, n=6000, since=since)
    healthy = svc.analyze(open_project(repo), "support-refund", "production", now=since + 600)
    assert healthy.decision.action is Action.ADVANCE and healthy.decision.weight == 50
    assert healthy.observations.canary.calls == 6000

    broken_log = tmp_path / "broken.sqlite"
    monkeypatch.setenv("PROMPTCTL_CALL_LOG", str(broken_log))
    _traffic(repo, canary_error=0.2, n=400, since=since)
    broken = svc.analyze(open_project(repo), "support-refund", "production", now=since + 30)
    assert broken.observations.source == f"sqlite:{broken_log}"
    assert broken.decision.action is Action.ROLLBACK
    assert "error_rate" in broken.decision.summary()


def test_missing_log_counts_as_a_source_error(repo):
    analysis = svc.analyze(open_project(repo), "support-refund", "production", now=time.time() + 120,
                           source_errors=3)
    assert analysis.error and "no call log" in analysis.error
    assert analysis.decision.action is Action.ROLLBACK        # 4 > max_errors 3


def test_watch_lists_only_running_canaries(repo):
    analyses = list(canary_watch.watch(open_project(repo), iterations=2, apply_decisions=False, sleep=lambda s: None))
    assert [(a.target.name, a.target.segment) for a in analyses] == \
        [("support-refund", None)] * 2
    assert analyses[1].decision.action is Action.HOLD      # two failed reads: 2 ≤ max_errors


def test_webhook_event_reaches_a_loopback_server(repo):
    with webhook_receiver(204) as server:
        analysis = svc.analyze(open_project(repo), "support-refund", "production", now=time.time() + 3 * 3600)
        canary_notify.notify(f"{server.url}/hook", canary_notify.event(analysis))
    [body] = [request.json() for request in server.requests]
    assert body["event"] == "rollback" and body["prompt"] == "support-refund"
    assert (body["stable"], body["canary"], body["from_weight"], body["to_weight"]) == \
        ("1.0.0", "1.1.0", 5, 0)


def test_a_manifest_entry_overrides_the_project_policy(repo):
    manifest = repo / "release.yaml"
    manifest.write_text(manifest.read_text().replace(
        "      segments:", "      analysis: {steps: [5, 100]}\n      segments:", 1))
    git_save(repo, "per-entry policy")
    project = open_project(repo)
    from promptctl.services.working_manifest import read_manifest
    assert read_manifest(project).entry("production", "support-refund").analysis == {"steps": [5, 100]}
    since = svc.step_started(project, canary_targets.find_canary(project, "support-refund", "production"))
    _traffic(repo, canary_error=0.02, n=3000, since=since)
    healthy = svc.analyze(open_project(repo), "support-refund", "production", now=since + 600)
    assert healthy.decision.action is Action.ADVANCE and healthy.decision.weight == 100


def test_analyze_apply_parses_each_release_yaml_text_once(deploy_repo, monkeypatch):
    from collections import Counter

    from typer.testing import CliRunner

    from support.releases import seed_failing_canary
    from promptctl import manifest
    from promptctl.cli import app
    from promptctl.services import working_manifest

    seed_failing_canary(deploy_repo)
    parsed: Counter = Counter()
    real = manifest.parse_manifest

    def counting(text, *args, **kwargs):
        parsed[text] += 1
        return real(text, *args, **kwargs)

    monkeypatch.setattr(working_manifest, "parse_manifest", counting)
    monkeypatch.setattr(manifest, "parse_manifest", counting)   # readers that import it late
    r = CliRunner().invoke(app, ["-C", str(deploy_repo), "canary", "analyze", "support-refund",
                                 "--env", "production", "--apply"])
    assert r.exit_code == 0 and "applied: " in r.output, r.output
    # the file as analyzed (and edited), and the rollback read back before it is written
    assert len(parsed) == 2 and set(parsed.values()) == {1}, parsed
    assert (deploy_repo / "release.yaml").read_text() in parsed
