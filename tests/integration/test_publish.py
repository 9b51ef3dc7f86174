"""Publishing after each manifest commit: path and command targets, failures, watch retries."""

from __future__ import annotations

import json
import sys
import threading

import pytest

from support.cli import invoke as cli
from support.repos import git, git_save
from support.releases import project, seed_failing_canary
from promptctl.services import canary_watch
from promptctl.services import deploy
from promptctl.services.publish import publish
from promptctl.services.project import open_project

PY = sys.executable


def configure(root, targets: list[dict], env: str = "production") -> None:
    """Set (or replace) the env's publish targets in promptctl.yaml and commit it."""
    config = root / "promptctl.yaml"
    kept = config.read_text().split("publish:\n", 1)[0]   # a second `publish:` key is refused
    config.write_text(kept + "publish:\n  " + env + ": " + json.dumps(targets) + "\n")
    git_save(root, "publish targets")


def test_every_deploy_writes_the_bundle_to_file_and_folder_targets(deploy_repo):
    configure(deploy_repo, [{"path": "out/production.json"}, {"path": "www/"}])
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    for path in ("out/production.json", "www/production.json"):
        data = json.loads((deploy_repo / path).read_text())
        assert data["manifest_commit"] == git(deploy_repo, "rev-parse", "HEAD")
        assert data["manifest"]["environments"]["production"]["support-refund"]["active"] == "1.0.0"
    deploy.canary(p, "support-refund", "1.1.0", "production", 10)
    deploy.rollback(p, "support-refund", "production")
    data = json.loads((deploy_repo / "www/production.json").read_text())
    assert data["manifest_commit"] == git(deploy_repo, "rev-parse", "HEAD")
    assert sorted(v["version"] for v in data["versions"]) == ["1.0.0", "1.1.0"]   # stopped canary kept
    # another env's deploys do not touch production's targets
    deploy.promote(p, "triage", "1.0.0", "staging")
    assert json.loads((deploy_repo / "www/production.json").read_text()) == data


def test_a_path_target_is_replaced_atomically(deploy_repo):
    configure(deploy_repo, [{"path": "www/"}])
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    target = deploy_repo / "www/production.json"
    seen, bad, stop = [], [], threading.Event()

    def read_forever():
        while not stop.is_set():
            try:
                seen.append(json.loads(target.read_text())["manifest_commit"])
            except ValueError as exc:      # a half-written file would land here
                bad.append(exc)
    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for _ in range(15):
            publish(p, "production")
    finally:
        stop.set()
        reader.join(5)
    assert not bad and len(seen) > 15
    assert sorted(x.name for x in target.parent.iterdir()) == ["production.json"]   # no temp left


def test_a_command_target_gets_the_bundle_path_without_a_shell(deploy_repo):
    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2]); open('argv', 'w').write(sys.argv[3])"
    configure(deploy_repo, [{"command": [PY, "-c", copy, "{bundle}", "copied-{env}.json",
                                         "$(touch pwned); echo"]}])
    r = cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    assert r.exit_code == 0, r.output
    data = json.loads((deploy_repo / "copied-production.json").read_text())
    assert data["env"] == "production" and data["manifest_commit"] == git(deploy_repo, "rev-parse", "HEAD")
    assert (deploy_repo / "argv").read_text() == "$(touch pwned); echo"
    assert not (deploy_repo / "pwned").exists()


def test_a_failed_publish_is_exit_3_naming_the_target_and_keeps_the_commit(deploy_repo):
    fail = "import sys; sys.exit('bucket acme-prompts is unreachable')"
    configure(deploy_repo, [{"command": [PY, "-c", fail]}, {"path": "www/"}])
    head = git(deploy_repo, "rev-parse", "HEAD")
    r = cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    assert r.exit_code == 3, r.output
    assert r.output.startswith("promote support-refund 1.0.0 to production\n")
    error = r.output.splitlines()[1]
    assert error.startswith(f"error: command {PY}") and "bucket acme-prompts is unreachable" in error
    assert "is committed" in error and "promptctl publish --env production" in error
    assert git(deploy_repo, "rev-parse", "HEAD~1") == head          # the deploy commit stands
    assert git(deploy_repo, "status", "--porcelain", "release.yaml") == ""
    assert (deploy_repo / "www/production.json").exists()            # the other target still ran
    # fixed by hand: publish runs every target again
    configure(deploy_repo, [{"path": "www/"}])
    r = cli(deploy_repo, "publish", "--env", "production")
    assert r.exit_code == 0 and "published production" in r.output, r.output


def test_publish_by_hand_without_targets_says_where_to_add_them(deploy_repo):
    r = cli(deploy_repo, "publish", "--env", "production")
    assert r.exit_code == 2 and "promptctl.yaml: publish.production" in r.output


@pytest.mark.parametrize("target, words", [
    ({"path": "x", "command": ["y"]}, "exactly one of `path` or `command`"),
    ({"command": []}, "at least the program"),
    ({"path": "x", "colour": 1}, "colour"),
])
def test_a_bad_publish_target_is_a_one_line_error(deploy_repo, target, words):
    configure(deploy_repo, [target])
    r = cli(deploy_repo, "publish", "--env", "production")
    assert r.exit_code == 2 and words in r.output and r.output.count("\n") == 1, r.output


def test_watch_retries_a_failed_publish_at_the_next_tick(deploy_repo):
    flag = deploy_repo / "bucket-is-back"
    script = f"import os, shutil, sys; os.path.exists({str(flag)!r}) or sys.exit('bucket down'); " \
             "shutil.copy(sys.argv[1], 'published.json')"
    configure(deploy_repo, [{"command": [PY, "-c", script, "{bundle}"]}])
    seed_failing_canary(deploy_repo)
    events = list(canary_watch.watch_events(open_project(deploy_repo), iterations=2, sleep=lambda s: flag.touch()))
    kinds = [e.kind for e in events]
    assert kinds == ["look", "analysis", "applied", "publish", "idle"], kinds
    assert "bucket down" in events[1].analysis.error
    assert events[3].error is None and events[3].env == "production"
    published = json.loads((deploy_repo / "published.json").read_text())
    assert published["manifest_commit"] == git(deploy_repo, "rev-parse", "HEAD")
    assert published["manifest"]["environments"]["production"]["support-refund"]["canary"][
        "weight"] == 0


def test_canary_analyze_apply_publishes_the_rollback(deploy_repo):
    configure(deploy_repo, [{"path": "www/"}])
    seed_failing_canary(deploy_repo)
    r = cli(deploy_repo, "canary", "analyze", "support-refund", "--env", "production", "--apply")
    assert r.exit_code == 0 and "applied: " in r.output, r.output
    bundle = json.loads((deploy_repo / "www/production.json").read_text())
    assert bundle["manifest"]["environments"]["production"]["support-refund"]["canary"]["weight"] == 0


def test_watch_once_stamps_each_look_and_applies_and_publishes(deploy_repo):
    configure(deploy_repo, [{"path": "www/"}])
    seed_failing_canary(deploy_repo)
    r = cli(deploy_repo, "canary", "watch", "--once")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].endswith("look: 1 running canary") and lines[0][:4].isdigit()
    assert "decision: rollback" in r.output
    applied = [ln for ln in lines if " applied: " in ln]
    assert len(applied) == 1 and "support-refund" in applied[0]
    bundle = json.loads((deploy_repo / "www/production.json").read_text())
    assert bundle["manifest_commit"] == git(deploy_repo, "rev-parse", "HEAD")
    r = cli(deploy_repo, "canary", "watch", "--once")
    assert r.exit_code == 0 and r.output.count("\n") == 1 and "idle: no running canary" in r.output


def test_watch_once_exits_3_when_a_publish_failed(deploy_repo):
    configure(deploy_repo, [{"command": [PY, "-c", "import sys; sys.exit('no route to bucket')"]}])
    seed_failing_canary(deploy_repo)
    head = git(deploy_repo, "rev-parse", "HEAD")
    r = cli(deploy_repo, "canary", "watch", "--once")
    assert r.exit_code == 3, r.output
    assert "applied: " in r.output and "no route to bucket" in r.output
    assert git(deploy_repo, "rev-parse", "HEAD~1") == head
