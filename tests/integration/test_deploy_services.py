"""promote / canary / rollback / history on real repos: commits, atomicity, concurrency."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from support.repos import git
from support.releases import commit_files, project, repo_snapshot

from promptctl.errors import CheckFailed, ManifestError, NotFoundError, ReleaseError, RepoError, UsageError
from promptctl.manifest import parse_manifest
from promptctl.services import deploy, deploy_status


def manifest(root):
    return parse_manifest((root / "release.yaml").read_text())


def test_round_trip_promote_canary_rollback_history(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production", why="first release")
    deploy.canary(p, "support-refund", "1.1.0", "production", 5, why="try it")
    deploy.canary(p, "support-refund", "1.1.0", "production", 50)
    entry = manifest(deploy_repo).entry("production", "support-refund")
    assert (entry.active, entry.canary.version, entry.canary.weight) == ("1.0.0", "1.1.0", 50)

    change = deploy.rollback(p, "support-refund", "production", why="errors up")
    assert change.action == "stop"
    entry = manifest(deploy_repo).entry("production", "support-refund")
    assert entry.active == "1.0.0" and entry.canary.weight == 0 and entry.canary.version == "1.1.0"

    deploy.promote(p, "support-refund", "2.0.0", "production", why="new tone")
    change = deploy.rollback(p, "support-refund", "production", why="customers complained")
    assert (change.action, change.version, change.previous) == ("rollback", "1.0.0", "2.0.0")
    assert manifest(deploy_repo).entry("production", "support-refund").active == "1.0.0"
    assert git(deploy_repo, "log", "-1", "--format=%s") == \
        "rollback support-refund to 1.0.0 in production: customers complained"

    rows = deploy_status.history(p, "support-refund", "production")
    assert [(r.action, r.active, r.why) for r in rows] == [
        ("rollback", "1.0.0", "customers complained"), ("promote", "2.0.0", "new tone"),
        ("stop", "1.0.0", "errors up"), ("canary", "1.0.0", ""), ("canary", "1.0.0", "try it"),
        ("promote", "1.0.0", "first release")]
    assert {r.author for r in rows} == {"Test Author"}


def test_every_write_commits_release_yaml_alone(deploy_repo):
    (deploy_repo / "notes.txt").write_text("work in progress\n")
    git(deploy_repo, "add", "notes.txt")
    deploy.promote(project(deploy_repo), "triage", "1.0.0", "staging")
    assert commit_files(deploy_repo) == ["release.yaml"]
    assert git(deploy_repo, "diff", "--cached", "--name-only") == "notes.txt"
    assert git(deploy_repo, "status", "--porcelain", "release.yaml") == ""


def test_status_reports_active_canary_and_since(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    deploy.promote(p, "support-refund", "1.1.0", "production", segment="enterprise")
    deploy.canary(p, "support-refund", "2.0.0", "production", 12.5)
    rows = {(r.name, r.segment): r for r in deploy_status.status(p, "production")}
    default = rows[("support-refund", None)]
    assert (default.active, default.canary, default.weight) == ("1.0.0", "2.0.0", 12.5)
    assert default.since and default.canary_started
    assert rows[("support-refund", "enterprise")].active == "1.1.0"
    with pytest.raises(NotFoundError, match="staging"):
        deploy_status.status(p, "staging")


@pytest.mark.parametrize("call, error", [
    (lambda p: deploy.promote(p, "support-refund", "9.9.9", "production"), NotFoundError),
    (lambda p: deploy.promote(p, "support-refund", "1.0", "production"), UsageError),
    (lambda p: deploy.promote(p, "support-refund", "1.0.0", "Prod"), ManifestError),
    (lambda p: deploy.canary(p, "support-refund", "1.1.0", "production", 5), ManifestError),
    (lambda p: deploy.rollback(p, "support-refund", "production"), ManifestError),
    (lambda p: deploy.promote(p, "support-refund", "1.0.0", "production", require_eval=True),
     CheckFailed),
])
def test_refused_writes_change_nothing(deploy_repo, call, error):
    before = repo_snapshot(deploy_repo)
    with pytest.raises(error):
        call(project(deploy_repo))
    assert repo_snapshot(deploy_repo) == before


def test_a_moved_tag_is_refused(deploy_repo):
    git(deploy_repo, "tag", "-d", "support-refund/v1.1.0")
    git(deploy_repo, "tag", "-a", "support-refund/v1.1.0", "-m",
        "support-refund 1.1.0\n\nPrompt-Digest: sha256:" + "0" * 64, "support-refund/v2.0.0")
    before = repo_snapshot(deploy_repo)
    with pytest.raises(ReleaseError, match="digest"):
        deploy.promote(project(deploy_repo), "support-refund", "1.1.0", "production")
    assert repo_snapshot(deploy_repo) == before


def test_a_failed_commit_restores_the_manifest(deploy_repo):
    hook = deploy_repo / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    before = repo_snapshot(deploy_repo)
    with pytest.raises(RepoError):
        deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production")
    assert repo_snapshot(deploy_repo) == before
    assert git(deploy_repo, "status", "--porcelain") == ""


def test_hand_edits_in_progress_are_not_committed_under_our_name(deploy_repo):
    (deploy_repo / "release.yaml").write_text("environments: {staging: {}}\n")
    with pytest.raises(ManifestError, match="uncommitted"):
        deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production")


def test_previous_active_comes_from_history_and_to_overrides(deploy_repo):
    p = project(deploy_repo)
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        deploy.promote(p, "support-refund", version, "production")
    assert deploy.rollback(p, "support-refund", "production").version == "1.1.0"
    assert deploy.rollback(p, "support-refund", "production", to="1.0.0").version == "1.0.0"
    with pytest.raises(NotFoundError):
        deploy.rollback(p, "support-refund", "production", to="3.0.0")


WORKER = textwrap.dedent("""
    import sys
    from promptctl.services.project import open_project
    from promptctl.services import deploy
    root, env, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    p = open_project(root)
    for i in range(rounds):
        deploy.promote(p, "support-refund", ["1.0.0", "1.1.0"][i % 2], env, why=f"{env} {i}",
                       create_env=True)
""")


def test_two_processes_editing_different_entries_both_land(deploy_repo):
    head = git(deploy_repo, "rev-parse", "HEAD")
    rounds = 5
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(deploy_repo), env, str(rounds)],
                              stderr=subprocess.PIPE, text=True)
             for env in ("production", "staging")]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    m = manifest(deploy_repo)
    assert m.entry("production", "support-refund").active == "1.0.0"
    assert m.entry("staging", "support-refund").active == "1.0.0"
    subjects = git(deploy_repo, "log", "--format=%s", f"{head}..HEAD").splitlines()
    assert len(subjects) == 2 * rounds
    assert {s.rsplit(": ", 1)[1] for s in subjects} == {f"{e} {i}" for e in ("production", "staging")
                                                        for i in range(rounds)}


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from promptctl.manifest_io import write_atomic
    path = Path(sys.argv[1]); texts = [Path(sys.argv[2]).read_text(), Path(sys.argv[3]).read_text()]
    print("ready", flush=True)
    i = 0
    while True:
        write_atomic(path, texts[i % 2]); i += 1
""")


def big_manifest(version: str) -> str:
    lines = ["environments:", "  production:"]
    lines += [f"    p{i}: {{active: {version}}}" for i in range(5_000)]
    return "\n".join(lines) + "\n"


def test_kill_9_during_writes_leaves_a_whole_manifest(tmp_path):
    a, b = big_manifest("1.0.0"), big_manifest("2.0.0")
    (tmp_path / "a").write_text(a)
    (tmp_path / "b").write_text(b)
    target = tmp_path / "release.yaml"
    target.write_text(a)
    for delay in (0.15, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(tmp_path / "a"),
                                 str(tmp_path / "b")], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert target.read_text() in (a, b)
    assert parse_manifest(target.read_text()).entry("production", "p4999") is not None


PROMOTER = textwrap.dedent("""
    from promptctl.services.project import open_project
    from promptctl.services import deploy, deploy_status
    import sys
    p = open_project(sys.argv[1])
    versions = ["1.0.0", "1.1.0"]
    active = [r.active for r in deploy_status.status(p) if r.env == "production"]
    i = 1 if active == ["1.0.0"] else 0
    # One whole promote first: under load the kill could otherwise land before any commit.
    deploy.promote(p, "support-refund", versions[i % 2], "production"); i += 1
    print("ready", flush=True)
    while True:
        deploy.promote(p, "support-refund", versions[i % 2], "production"); i += 1
""")


def test_kill_9_during_promotes_never_leaves_a_broken_manifest(deploy_repo):
    for delay in (0.2, 0.45, 0.7):
        proc = subprocess.Popen([sys.executable, "-c", PROMOTER, str(deploy_repo)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)     # a git child outlives its parent; let it finish
        committed = parse_manifest(git(deploy_repo, "show", "HEAD:release.yaml"))
        on_disk = manifest(deploy_repo)
        assert committed.entry("production", "support-refund").active in ("1.0.0", "1.1.0")
        assert on_disk.entry("production", "support-refund").active in ("1.0.0", "1.1.0")
        # killed between rename and commit: the next write undoes the half write, then lands
        before = committed.entry("production", "support-refund").active
        deploy.promote(project(deploy_repo), "support-refund", "2.0.0", "production")
        assert git(deploy_repo, "status", "--porcelain", "release.yaml") == ""
        assert manifest(deploy_repo).entry("production", "support-refund").active == "2.0.0"
        deploy.promote(project(deploy_repo), "support-refund", before, "production")
