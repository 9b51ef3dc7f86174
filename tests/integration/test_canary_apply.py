"""`apply`: decisions become release.yaml commits through the deploy services, and the
webhook hears about them."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import yaml


from conftest import git  # noqa: E402
from promptctl.runtime.calllog import open_logger  # noqa: E402
from promptctl.canary.decide import Action  # noqa: E402
from promptctl.services import canary as svc  # noqa: E402
from promptctl.services import deploy  # noqa: E402
from promptctl.services.project import open_project  # noqa: E402

POLICY = ("canary:\n  min_calls: 300\n  min_duration: 0\n"
          "  metrics: {error_rate: {tolerance: 0.02}}\n"
          # the simulated traffic logs as many calls per variant at any weight
          "  srm: false\n")


class _Hook(BaseHTTPRequestHandler):
    events: list = []

    def do_POST(self):
        self.events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _traffic(root, canary_error: float, n: int, start: float) -> None:
    rng = random.Random(7)
    with open_logger(None, root=root) as logger:
        for i in range(n):
            for variant, version, p in (("stable", "1.0.0", 0.02), ("canary", "1.1.0", canary_error)):
                logger.log_call(name="support-refund", version=version, variant=variant,
                                env="production", key=f"{variant}{i}", success=rng.random() > p,
                                latency_ms=100 + rng.random() * 20, time_=start + i * 0.00001)


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

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_port}/"
    try:
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
    finally:
        server.shutdown()
    assert [e["event"] for e in _Hook.events] == ["advance", "rollback"]
    assert _Hook.events[1]["from_weight"] == 50 and _Hook.events[1]["to_weight"] == 0
