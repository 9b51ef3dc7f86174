"""kill -9 during bump, promote and canary analyze --apply: the next command (or `doctor`)
finishes or undoes the write, and the repo stays whole.

Each write runs in a forked child (the modules are already imported, so a run costs a
few git calls, not an interpreter start) that is killed either at a named step (the
PROMPTCTL_CRASH_AT hook) or after a random delay.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from support.cli import run_cli
from support.repos import git
from promptctl import locking
from promptctl.locking import JOURNAL_FILE
from promptctl.manifest import parse_manifest
from promptctl.services import canary as canary_svc
from promptctl.services import canary_targets
from promptctl.services import bump, deploy, recovery, working_manifest
from promptctl.services.project import open_project

BUMP_STEPS = ["bump:journaled", "git:staged", "bump:committed", "bump:tagged"]
MANIFEST_STEPS = ["manifest:journaled", "manifest:written", "git:staged", "manifest:committed"]
POLICY = ("canary:\n  min_calls: 300\n  min_duration: 1m\n  deadline: 2h\n"
          "  metrics: {error_rate: {tolerance: 0.02}}\n")


def _run_killed(root, write, step: str | None, delay: float) -> int:
    """Run `write(project)` in a child killed at `step` (or after `delay`); its exit status."""
    pid = os.fork()
    if pid == 0:    # the child: never return into pytest
        code = 0
        try:
            if step:
                os.environ["PROMPTCTL_CRASH_AT"] = step
            write(open_project(root))
        except BaseException:
            code = 3
        os._exit(code)
    if step is None:
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    return status


def _assert_whole(root, seen: list[str]) -> None:
    """No journal, release.yaml as committed and valid."""
    journal = root / ".promptctl" / JOURNAL_FILE
    assert not journal.exists(), (journal.read_text(), seen[-4:])
    assert git(root, "status", "--porcelain", "release.yaml") == ""
    parse_manifest(git(root, "show", "HEAD:release.yaml"))


def _fsck_clean(root) -> None:
    """git fsck finds nothing but dangling objects, and every release commit is tagged."""
    untagged = recovery.untagged_releases(open_project(root))
    assert [u for u in untagged if u.tagged_on is None] == []
    result = subprocess.run(["git", "fsck", "--no-progress"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [ln for ln in (result.stdout + result.stderr).splitlines()
                if not ln.startswith(("dangling", "Checking"))]


def _recover(root, i: int, seen: list[str]) -> None:
    """Half the time `doctor` repairs; the other half the next command does it by itself."""
    if i % 2 == 0:
        findings = recovery.doctor(open_project(root))
        assert [f for f in findings if f.level == "problem"] == []
        seen += [f.message for f in findings]


def _kills(rng: random.Random, steps: list[str], n: int) -> list[tuple[str | None, float]]:
    named = [(steps[i % len(steps)], 0.0) for i in range(n // 2)]
    timed = [(None, rng.uniform(0.0, 0.12)) for _ in range(n - n // 2)]
    return named + timed


@pytest.mark.timeout(180)
def test_kill_9_during_bump_promote_and_analyze_apply_recovers(deploy_repo, monkeypatch):
    root = deploy_repo
    seen: list[str] = []
    monkeypatch.setattr(locking, "reporter", seen.append)
    rng = random.Random(12)
    kills = 0

    # bump: every interrupted release is either tagged by the recovery or not made at all
    text = root / "prompts/support-refund/prompt.yaml"
    for i, (step, delay) in enumerate(_kills(rng, BUMP_STEPS, 18)):
        with open(text, "a") as fh:
            fh.write(f"# edit {i}\n")
        _run_killed(root, lambda p: bump.bump(p, "support-refund", "patch"), step, delay)
        kills += 1
        _recover(root, i, seen)
        project = open_project(root)
        if project.store.dirty_paths(["prompts/support-refund"]):
            bump.bump(project, "support-refund", "patch")     # the next command succeeds
        _assert_whole(root, seen)
    versions = [r.version for r in open_project(root).store.releases("support-refund")]
    assert len(versions) == len(set(versions))
    _fsck_clean(root)
    # both outcomes happened: releases finished by their tag, and releases undone
    assert any("tagged support-refund/v" in m for m in seen), seen
    assert any("was not made" in m for m in seen), seen

    # promote: the manifest is always the committed one, never staged, never torn
    for i, (step, delay) in enumerate(_kills(rng, MANIFEST_STEPS, 18)):
        target = ["1.0.0", "1.1.0"][i % 2]
        _run_killed(root, lambda p, target=target: deploy.promote(p, "support-refund", target, "production"),
                    step, delay)
        kills += 1
        _recover(root, i, seen)
        project = open_project(root)
        current = working_manifest.read_manifest(project).exact("production", "support-refund")
        if current is None or current.active != target:
            deploy.promote(project, "support-refund", target, "production")
        _assert_whole(root, seen)
    _fsck_clean(root)

    # canary analyze --apply: a deadline rollback interrupted at every step
    with open(root / "promptctl.yaml", "a") as fh:
        fh.write(POLICY)
    git(root, "commit", "-qam", "canary policy")
    log = root / "calls.jsonl"
    log.write_text("")
    for i, (step, delay) in enumerate(_kills(rng, MANIFEST_STEPS, 16)):
        project = open_project(root)
        if not canary_targets.running_canaries(project):
            deploy.canary(project, "support-refund", "2.0.0", "production", 5)

        def apply(p):
            analysis = canary_svc.analyze(p, "support-refund", "production",
                                          now=time.time() + 3 * 3600, call_log=log)
            canary_svc.apply(p, analysis)
        _run_killed(root, apply, step, delay)
        kills += 1
        _recover(root, i, seen)
        project = open_project(root)
        if canary_targets.running_canaries(project):
            apply(project)
        assert canary_targets.running_canaries(open_project(root)) == []
        _assert_whole(root, seen)
    _fsck_clean(root)

    assert any("had been committed" in m for m in seen), seen
    assert any("is back at the last commit" in m for m in seen), seen
    assert kills >= 50
    # at most the lock record of the last killed writer is left to clear; nothing needs a person
    r = run_cli("doctor", cwd=root)
    assert r.returncode == 0 and "problem:" not in r.stdout + r.stderr, r.stdout + r.stderr


HOLDER = """
import sys, time
from pathlib import Path
from promptctl.locking import write_lock
with write_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(20)
"""


def test_a_waiting_writer_names_the_holder_and_its_wait(deploy_repo):
    import sys
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(deploy_repo / ".promptctl")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        r = run_cli("promote", "support-refund", "1.0.0", "--env", "production", "--create-env",
                    cwd=deploy_repo, env={"PROMPTCTL_LOCK_TIMEOUT": "0.5"})
        assert time.monotonic() - t0 < 10
        first = r.stderr.splitlines()[0]
        assert f"held by pid {holder.pid} (" in first and "waiting up to 0.5 s" in first
        assert r.returncode == 2 and f"still held by pid {holder.pid}" in r.stderr
    finally:
        holder.kill()
        holder.wait()
    assert git(deploy_repo, "status", "--porcelain") == ""


def test_doctor_repairs_what_an_older_interrupted_promptctl_left(deploy_repo):
    root = deploy_repo
    # a release commit without its tag, and a staged but uncommitted release.yaml
    (root / "prompts/triage/system.j2").write_text("Label tickets carefully.\n")
    git(root, "commit", "-qam", "release triage 1.1.0")
    (root / "release.yaml").write_text("environments:\n  production:\n    triage: {active: 1.0.0}\n")
    git(root, "add", "release.yaml")

    r = run_cli("verify", cwd=root)
    assert r.returncode == 1 and "'release triage 1.1.0' has no tag" in r.stderr
    r = run_cli("bump", "triage", "-m", "again", cwd=root)
    assert r.returncode == 2 and "run `promptctl doctor`" in r.stderr
    r = run_cli("doctor", "--dry-run", cwd=root)
    assert r.returncode == 1 and "staged but not committed" in r.stderr
    assert git(root, "tag", "-l", "triage/*").split() == ["triage/v1.0.0"]

    r = run_cli("doctor", cwd=root)
    assert "tagged it" in r.stdout and "unstaged" in r.stdout
    # the unstaged hand edit is kept for its author, and named as what still blocks writes
    assert r.returncode == 1 and "git diff release.yaml" in r.stderr
    assert git(root, "tag", "-l", "triage/*").split() == ["triage/v1.0.0", "triage/v1.1.0"]
    git(root, "checkout", "--", "release.yaml")
    assert run_cli("verify", cwd=root).returncode == 0
    r = run_cli("doctor", cwd=root)
    assert r.returncode == 0 and "nothing to repair" in r.stdout


def test_a_bump_killed_after_its_commit_keeps_a_message_of_several_lines(deploy_repo, monkeypatch):
    """git joins a subject's wrapped lines; the journal keeps the first line: both must be
    read alike, or a committed release would be taken for one never made."""
    seen: list[str] = []
    monkeypatch.setattr(locking, "reporter", seen.append)
    with open(deploy_repo / "prompts/support-refund/prompt.yaml", "a") as fh:
        fh.write("# an edit\n")
    _run_killed(deploy_repo, lambda p: bump.bump(p, "support-refund", "patch",
                                                 message="Shorter answers\nfor the refund bot"),
                "bump:committed", 0.0)
    recovery.recover_if_pending(open_project(deploy_repo))
    _assert_whole(deploy_repo, seen)
    assert any("tagged support-refund/v2.0.1" in m for m in seen), seen
