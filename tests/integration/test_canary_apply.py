"""`apply`: decisions become release.yaml commits through the deploy services, and the
webhook hears about them."""

from __future__ import annotations

import time

import yaml


from support.http import webhook_receiver  # noqa: E402
from support.repos import git  # noqa: E402
from support.traffic import log_canary_traffic, seeded_errors  # noqa: E402
from promptctl.canary.decide import Action  # noqa: E402
from promptctl.services import canary as svc  # noqa: E402
from promptctl.services import deploy  # noqa: E402
from promptctl.services.project import open_project  # noqa: E402

POLICY = ("canary:\n  min_calls: 300\n  min_duration: 0\n"
          "  metrics: {error_rate: {tolerance: 0.02}}\n"
          # the simulated traffic logs as many calls per variant at any weight
          "  srm: false\n")


def _traffic(root, canary_error: float, n: int, start: float) -> None:
    log_canary_traffic(root, n, at=lambda i: start + i * 0.00001,
                       outcome=seeded_errors(7, canary_error, lambda rng: 100 + rng.random() * 20))


def _weight(root) -> float:
    data = yaml.safe_load((root / "release.yaml").read_text())
    return data["environments"]["production"]["support-refund"]["canary"]["weight"]


def test_apply_advances_then_rolls_back_with_commits_and_webhook(deploy_repo):
    root = deploy_repo
    with open(root / "promptctl.yaml", "a") as fh:
        fh.write(POLICY)
    git(root, "commit", "-qam", "canary policy")
    project = open_project(root)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    deploy.canary(project, "support-refund", "1.1.0", "production", 5, why="try 1.1.0")

    with webhook_receiver() as server:
        hook = server.url + "/"
        start = time.time()          # after the canary commit: inside step one
        _traffic(root, 0.02, 6000, start)
        analysis = svc.analyze(open_project(root), "support-refund", "production", now=start + 600)
        assert analysis.decision.action is Action.ADVANCE
        time.sleep(1.1)             # step two starts at the advance commit (1 s resolution)
        svc.apply(project, analysis, webhook=hook)
        assert _weight(root) == 50
        message = git(root, "log", "-1", "--format=%B")
        assert "canary support-refund 1.1.0 at 50% in production" in message
        assert "canary analysis: advance 5% -> 50%" in message

        start = time.time()
        _traffic(root, 0.30, 400, start)
        analysis = svc.analyze(open_project(root), "support-refund", "production", now=start + 60)
        assert analysis.decision.action is Action.ROLLBACK
        assert analysis.observations.canary.calls == 400      # step two's calls only
        svc.apply(project, analysis, webhook=hook)
        assert _weight(root) == 0
        assert "canary analysis: rollback 50% -> 0%" in git(root, "log", "-1", "--format=%B")
        assert git(root, "status", "--porcelain", "release.yaml") == ""
    events = [request.json() for request in server.requests]
    assert [e["event"] for e in events] == ["advance", "rollback"]
    assert events[1]["from_weight"] == 50 and events[1]["to_weight"] == 0
