"""`status` and `history` keep release.yaml's history under the state dir and extend it commit
by commit: each answer must equal the one computed from scratch, whatever happened between
two calls (new commits, a rewritten history, an edit that keeps size and mtime, another
process)."""

import json
import os
import shutil
import subprocess

from support.cli import promptctl_exe
from support.repos import git
from support.releases import project

from promptctl.services import deploy, deploy_status
from promptctl.workcache import CACHE_DIR


def fresh(repo, call):
    """`call(project)` with the cache, then without it: both answers."""
    cached = call(project(repo))
    shutil.rmtree(repo / ".promptctl" / CACHE_DIR, ignore_errors=True)
    return cached, call(project(repo))


def status(p):
    return [r.as_dict() for r in deploy_status.status(p)]


def history(p):
    return [r.as_dict() for r in deploy_status.history(p, "support-refund", "production")]


def test_new_commits_extend_the_cached_history(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production", why="first")
    assert len(history(p)) == 1 and status(p)[0]["active"] == "1.0.0"
    deploy.canary(p, "support-refund", "2.0.0", "production", 10)
    deploy.promote(p, "support-refund", "1.1.0", "production", segment="eu")
    deploy.promote(p, "triage", "1.0.0", "production")
    cached, scratch = fresh(deploy_repo, history)
    assert cached == scratch and [r["action"] for r in cached] == ["promote", "canary", "promote"]
    status(project(deploy_repo))
    deploy.promote(p, "support-refund", "1.1.0", "production", why="second")
    cached, scratch = fresh(deploy_repo, status)
    assert cached == scratch
    assert {(r["name"], r["segment"]): r["active"] for r in cached}[("support-refund", None)] == "1.1.0"


def test_a_rewritten_history_is_read_again(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production", why="first")
    deploy.promote(p, "support-refund", "2.0.0", "production", why="second")
    assert [r["active"] for r in history(p)] == ["2.0.0", "1.0.0"]
    git(deploy_repo, "reset", "-q", "--hard", "HEAD~1")
    git(deploy_repo, "commit", "-q", "--amend", "-m", "promote support-refund 1.0.0: reworded")
    cached, scratch = fresh(deploy_repo, history)
    assert cached == scratch
    assert [r["why"] for r in cached] == ["promote support-refund 1.0.0: reworded"]   # no trailers
    status(project(deploy_repo))
    git(deploy_repo, "reset", "-q", "--hard", "HEAD~1")   # before any promotion
    assert fresh(deploy_repo, status) == ([], [])


def test_a_working_edit_of_the_same_size_and_mtime_is_seen(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    assert [r["active"] for r in status(p)] == ["1.0.0"]
    path = deploy_repo / "release.yaml"
    before = path.stat()
    path.write_text(path.read_text().replace("active: 1.0.0", "active: 2.0.0"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    rows = status(project(deploy_repo))
    assert [(r["active"], r["since"]) for r in rows] == [("2.0.0", None)]


def test_processes_sharing_the_cache_see_each_new_commit(deploy_repo):
    p = project(deploy_repo)
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        deploy.promote(p, "support-refund", version, "production")
        procs = [subprocess.Popen([*promptctl_exe(), "history", "support-refund", "--env",
                                   "production", "--json"], cwd=deploy_repo,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert json.loads(out)[0]["active"] == version
    cached, scratch = fresh(deploy_repo, history)
    assert cached == scratch and len(cached) == 3


def test_a_damaged_history_cache_is_read_again(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production", why="first")
    deploy.promote(p, "triage", "1.0.0", "production")
    expected = history(p)
    path = deploy_repo / ".promptctl" / CACHE_DIR / "manifest-history.json"
    header, _, lines = path.read_text().partition("\n")
    path.write_text(header + "\n" + lines.replace("1.0.0", "9.9.9")[:-5])
    assert history(project(deploy_repo)) == expected
    assert status(project(deploy_repo))[0]["since"] is not None
