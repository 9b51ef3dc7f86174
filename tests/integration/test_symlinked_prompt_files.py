"""Symlinks inside the prompts folder read the same from disk and from git; leaving it is refused."""

import os


from support.cli import invoke
from support.repos import git, git_save
from promptctl.store import GitStore


def test_a_symlink_within_the_prompts_folder_releases_with_the_same_digest(prompt_repo):
    system = prompt_repo / "prompts/triage/system.j2"
    (prompt_repo / "prompts/_partials/system.j2").write_text(system.read_text())
    system.unlink()
    os.symlink("../_partials/system.j2", system)
    result = invoke(prompt_repo, "bump", "triage")
    assert result.exit_code == 0, result.output   # the commit holds what the working tree read
    assert "prompts/_partials/system.j2" in git(prompt_repo, "ls-files")   # the target is committed
    verified = invoke(prompt_repo, "verify")
    assert verified.exit_code == 0, verified.output       # git's content matches the digest


def test_a_committed_symlink_out_of_the_repo_is_refused_by_name(prompt_repo, tmp_path):
    (tmp_path / "outside.j2").write_text("SECRET\n")
    system = prompt_repo / "prompts/triage/system.j2"
    system.unlink()
    os.symlink("../../../../outside.j2", system)
    commit = git_save(prompt_repo, "a link out, committed by hand")
    source = GitStore(prompt_repo).source_at(commit)
    result = invoke(prompt_repo, "show", f"triage@{commit}")
    assert result.exit_code == 2 and "prompts/triage/system.j2" in result.output
    assert "outside the repo" in result.output and "SECRET" not in result.output
    assert git(prompt_repo, "status", "--porcelain") == ""
    assert source.read("prompts/triage/prompt.yaml") is not None
