"""`list` remembers what loading each working prompt gave; it must never answer from a stale
entry: a file rewritten with the same size in the same second, a shared partial, a file
turned into a symlink out of the repo, a torn cache file, and processes sharing one cache."""

import json
import os
import subprocess

from support.cli import promptctl_exe, run_cli
from support.repos import git
from support.releases import EDITS
from promptctl.services import prompts
from promptctl.services.project import open_project
from promptctl.workcache import CACHE_DIR, CACHE_FILE


def unreleased(repo) -> dict:
    return {r.name: r.unreleased for r in prompts.list_prompts(open_project(repo))}


def as_released(repo):
    """The working tree equal to every latest release (add_releases leaves support-refund
    at its 1.0.0 text, after 2.0.0)."""
    path = repo / "prompts/support-refund/prompt.yaml"
    path.write_text(path.read_text().replace("Question:", EDITS["2.0.0"].strip() + "\n  Question:"))
    return repo


def rewrite_keeping_stat(path, text: str) -> None:
    """New content of the same size, and the old mtime to the nanosecond."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def cache_file(repo):
    return repo / ".promptctl" / CACHE_DIR / CACHE_FILE


def test_an_edit_of_the_same_size_in_the_same_second_is_seen(deploy_repo):
    as_released(deploy_repo)
    assert unreleased(deploy_repo) == {"support-refund": False, "triage": False}
    assert cache_file(deploy_repo).is_file()
    system = deploy_repo / "prompts/triage/system.j2"
    original = system.read_text()
    rewrite_keeping_stat(system, original.replace("bug", "BUG"))
    assert unreleased(deploy_repo) == {"support-refund": False, "triage": True}
    rewrite_keeping_stat(system, original)
    assert unreleased(deploy_repo) == {"support-refund": False, "triage": False}


def test_an_edit_of_a_shared_partial_is_seen(deploy_repo):
    assert unreleased(as_released(deploy_repo))["support-refund"] is False
    partial = deploy_repo / "prompts/_partials/policy.j2"
    rewrite_keeping_stat(partial, partial.read_text().replace("Never", "NEVER"))
    assert unreleased(deploy_repo)["support-refund"] is True


def test_a_new_file_in_a_prompt_folder_is_seen(deploy_repo):
    unreleased(deploy_repo)
    (deploy_repo / "prompts/triage/notes.txt").write_text("kept with the prompt\n")
    assert unreleased(deploy_repo)["triage"] is True


def test_a_file_turned_into_a_symlink_out_of_the_repo_is_refused_not_remembered(deploy_repo, tmp_path):
    unreleased(deploy_repo)
    outside = tmp_path / "outside.j2"
    system = deploy_repo / "prompts/triage/system.j2"
    outside.write_text(system.read_text())   # same content: only the confinement differs
    system.unlink()
    system.symlink_to(outside)
    row = {r.name: r for r in prompts.list_prompts(open_project(deploy_repo))}["triage"]
    assert row.unreleased is None and "outside" in row.error


def test_a_torn_or_foreign_cache_file_is_ignored_and_replaced(deploy_repo):
    path = cache_file(deploy_repo)
    path.parent.mkdir(parents=True)
    path.write_text('{"key": "x", "prompts": {"triage": {"reads": [], "digest": "sha256:0"')
    assert unreleased(as_released(deploy_repo)) == {"support-refund": False, "triage": False}
    assert set(json.loads(path.read_text())["prompts"]) == {"support-refund", "triage"}
    # a cache written by another config (another prompts_dir, tag format...) is not used
    data = json.loads(path.read_text())
    data["key"], data["prompts"]["triage"]["digest"] = "another", "sha256:0"
    path.write_text(json.dumps(data))
    assert unreleased(deploy_repo)["triage"] is False


def test_the_cache_never_shows_in_git_status_and_holds_no_text(deploy_repo):
    (deploy_repo / ".gitignore").write_text("")   # even without the repo ignoring .promptctl/
    git(deploy_repo, "add", ".gitignore")
    git(deploy_repo, "commit", "-q", "-m", "ignore nothing")
    unreleased(deploy_repo)
    assert git(deploy_repo, "status", "--porcelain") == ""
    text = cache_file(deploy_repo).read_text()
    assert "tickets" not in text and "refunds" not in text


def test_processes_sharing_one_cache_each_see_the_current_files(deploy_repo):
    as_released(deploy_repo)
    system = deploy_repo / "prompts/triage/system.j2"
    original = system.read_text()
    edited = original.replace("bug", "BUG")
    for text, expected in [(edited, True), (original, False), (edited, True)]:
        rewrite_keeping_stat(system, text)
        procs = [subprocess.Popen([*promptctl_exe(), "list", "--json"], cwd=deploy_repo,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            rows = {r["name"]: r["unreleased"] for r in json.loads(out)}
            assert rows == {"support-refund": False, "triage": expected}
    listed = json.loads(run_cli("list", "--json", cwd=deploy_repo, check=True).stdout)
    assert {r["name"]: r["unreleased"] for r in listed}["triage"] is True
