"""Traffic through the real runtime and tracker into a SQLite log, then analysed."""

from __future__ import annotations

import time

from promptctl.runtime.calllog import open_logger
from promptctl.runtime.registry import Registry
from promptctl.services import canary as svc
from promptctl.services import deploy
from promptctl.services.project import open_project


def test_registry_track_feeds_the_controller(deploy_repo, tmp_path):
    project = open_project(deploy_repo)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    deploy.canary(project, "support-refund", "1.1.0", "production", 50, why="try")
    log = tmp_path / "calls.sqlite"
    logger = open_logger(log)
    reg = Registry.open(deploy_repo, env="production", call_log=logger)
    for i in range(400):
        p = reg.get("support-refund", key=f"user-{i}")
        try:
            with reg.track(p) as call:
                p.render(question="Where is my order?")
                if p.variant == "canary" and i % 4 == 0:
                    raise TimeoutError("model timed out")
                call.record(success=True, tokens_in=10, tokens_out=5)
        except TimeoutError:
            pass
    assert logger.flush() and logger.stats.written == 400
    analysis = svc.analyze(open_project(deploy_repo), "support-refund", "production", call_log=log,
                           now=time.time() + 600)
    obs = analysis.observations
    assert obs.stable.calls + obs.canary.calls == 400
    assert 120 < obs.canary.calls < 280                     # about half, by key
    assert obs.canary.errors > 0 and obs.stable.errors == 0
    assert obs.canary.keys == obs.canary.calls               # one call per key
    assert analysis.decision.action.value == "rollback"


def test_late_feedback_attaches_through_the_registry(deploy_repo, tmp_path):
    import sqlite3
    project = open_project(deploy_repo)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    log = tmp_path / "calls.sqlite"
    reg = Registry.open(deploy_repo, env="production", call_log=str(log))
    p = reg.get("support-refund", key="user-1")
    with reg.track(p) as call:
        call.record(success=True)
    reg.attach(call.call_id, {"thumbs_up": 0.0})
    assert reg.flush()
    with sqlite3.connect(log) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        rows = sum(db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)
    assert rows == 2   # the call and its feedback


def test_log_call_takes_explicit_fields_with_or_without_a_resolved_prompt(deploy_repo, tmp_path):
    # `reg.log_call(...)` is the plain form: passing env/key (or no prompt at all) must log,
    # not raise a TypeError into the app.
    from promptctl.runtime.sinks import read_jsonl
    project = open_project(deploy_repo)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    log = tmp_path / "calls.jsonl"
    reg = Registry.open(deploy_repo, env="production", call_log=str(log))
    p = reg.get("support-refund", key="user-1")
    reg.log_call(p, latency_ms=12.0, success=True, key="user-2", env="production")
    reg.log_call(name="support-refund", version="1.0.0", latency_ms=9.0, success=False,
                 error="Timeout")
    assert reg.flush()
    calls, _ = read_jsonl(log)
    assert [(c.version, c.env, c.success) for c in calls] == [("1.0.0", "production", True),
                                                              ("1.0.0", "production", False)]
