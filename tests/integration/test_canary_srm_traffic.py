"""Routed traffic logged with its buckets, then checked: sample ratio, misrouted calls,
observe-only rows for undeclared scores, and the exit codes of `canary analyze`."""

from __future__ import annotations

import json
import sqlite3
import time

from typer.testing import CliRunner

from promptctl.runtime.calllog import open_logger
from promptctl.cli import app
from promptctl.runtime.registry import Registry
from promptctl.services import canary as svc
from promptctl.services import deploy
from promptctl.services.project import open_project

POLICY = "canary:\n  min_calls: 50\n  min_duration: 0\n  metrics: {latency: null}\n"


def _traffic(root, log, n: int, *, keep_canary: float = 1.0, fail_canary: bool = False,
             lie_every: int = 0) -> None:
    """n users through the real registry; drop a share of the canary's logs; optionally
    log some stable calls as canary (an app overriding the variant)."""
    logger = open_logger(log)
    reg = Registry.open(root, env="production", call_log=logger)
    for i in range(n):
        p = reg.get("support-refund", key=f"user-{i}")
        if p.variant == "canary" and (i % 100) >= keep_canary * 100:
            continue
        fields = {"success": not (fail_canary and p.variant == "canary"),
                  "scores": {"policy_ok": 1.0}, "latency_ms": 50.0}
        if lie_every and p.variant == "stable" and i % lie_every == 0:
            fields["variant"] = "canary"
            fields["version"] = "1.1.0"
        call_id = reg.log_call(p, **fields)
        if i % 2:
            reg.attach(call_id, {"thumbs_up": 1.0})   # a late signal, never declared
    assert logger.flush()
    logger.close()


def _setup(deploy_repo, weight: float = 20):
    with open(deploy_repo / "promptctl.yaml", "a") as fh:
        fh.write(POLICY)
    project = open_project(deploy_repo)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    deploy.canary(project, "support-refund", "1.1.0", "production", weight, why="try")
    return deploy_repo


def test_buckets_are_logged_and_a_healthy_split_passes_the_check(deploy_repo, tmp_path):
    root = _setup(deploy_repo)
    log = tmp_path / "calls.sqlite"
    _traffic(root, log, 1000)
    with sqlite3.connect(log) as db:
        rows = db.execute("SELECT variant, bucket, threshold FROM calls").fetchall()
    assert all(t == 2000 and (b < t) == (v == "canary") for v, b, t in rows)
    analysis = svc.analyze(open_project(root), "support-refund", "production", call_log=log,
                           now=time.time() + 60)
    srm = analysis.decision.srm
    assert srm.verdict == "ok" and srm.routing.checked == 1000 and srm.routing.misrouted == 0
    by = {m.name: m for m in analysis.decision.metrics}
    # policy_ok is recorded but not declared: reported as observe-only, never gating
    assert by["policy_ok"].observe and by["policy_ok"].canary == 1.0
    assert by["thumbs_up"].observe and by["thumbs_up"].stable == 1.0
    assert not any("policy_ok" in reason for reason in analysis.decision.reasons)


def test_lost_canary_logs_hold_the_canary_and_the_cli_says_why(deploy_repo, tmp_path):
    root = _setup(deploy_repo)
    log = tmp_path / "calls.sqlite"
    _traffic(root, log, 2000, keep_canary=0.3)
    result = CliRunner().invoke(app, ["-C", str(root), "canary", "analyze", "support-refund",
                                      "-e", "production", "--call-log", str(log)])
    assert result.exit_code == 0, result.output
    assert "sample ratio (srm): MISMATCH" in result.output and "expected 20.0%" in result.output
    assert "decision: hold" in result.output and "policy_ok (observe only)" in result.output
    data = json.loads(CliRunner().invoke(app, [
        "-C", str(root), "canary", "analyze", "support-refund", "-e", "production",
        "--call-log", str(log), "--json"]).output)
    assert data["srm"]["verdict"] == "mismatch" and data["srm"]["keys"]["p"] < 0.001


def test_misrouted_calls_are_listed_by_id(deploy_repo, tmp_path):
    root = _setup(deploy_repo)
    log = tmp_path / "calls.jsonl"
    _traffic(root, log, 600, lie_every=50)
    analysis = svc.analyze(open_project(root), "support-refund", "production", call_log=log,
                           now=time.time() + 60)
    routing = analysis.decision.srm.routing
    assert routing.misrouted > 0 and len(routing.examples) == min(routing.misrouted, 10)
    logged = {json.loads(line)["call_id"]: json.loads(line) for line in log.read_text().splitlines()}
    assert all(logged[c]["variant"] == "canary" and logged[c]["bucket"] >= 2000
               for c in routing.examples)


def test_exit_code_flag_makes_a_rollback_exit_1(deploy_repo, tmp_path):
    root = _setup(deploy_repo)
    log = tmp_path / "calls.sqlite"
    _traffic(root, log, 1000, fail_canary=True)
    args = ["-C", str(root), "canary", "analyze", "support-refund", "-e", "production",
            "--call-log", str(log)]
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0 and "decision: rollback" in plain.output
    assert CliRunner().invoke(app, [*args, "--exit-code"]).exit_code == 1
