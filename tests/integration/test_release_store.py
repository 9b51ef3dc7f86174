"""bump, verify, diff and list on real temporary git repos."""

import json
from pathlib import Path

import pytest

from support.releases import repo_snapshot
from support.cli import run_cli
from support.repos import git, git_save, repo_state
from promptctl.errors import ReleaseError, ValidationError
from promptctl.services import bump, prompts, verify
from promptctl.services.project import load_version, open_project


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_bump_commits_only_the_prompt_and_tags_it(prompt_repo):
    project = open_project(prompt_repo)
    first = bump.bump(project, "support-refund", message="first")
    assert (first.version, first.tag, first.annotated) == ("1.0.0", "support-refund/v1.0.0", True)
    edit(prompt_repo, "prompts/support-refund/prompt.yaml", "Question:", "Customer question:")
    (prompt_repo / "prompts/triage/system.j2").write_text("unrelated edit\n")
    (prompt_repo / "notes.txt").write_text("staged elsewhere\n")
    git(prompt_repo, "add", "notes.txt")
    second = bump.bump(project, "support-refund", message="clearer")
    assert second.version == "1.1.0"
    committed = git(prompt_repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert committed == ["prompts/support-refund/prompt.yaml"]
    status = git(prompt_repo, "status", "--porcelain")
    assert "A  notes.txt" in status and " M prompts/triage/system.j2" in status
    assert "clearer" in git(prompt_repo, "tag", "-l", "--format=%(contents)", second.tag)


def test_bump_refuses_without_changes_and_changes_nothing(prompt_repo):
    project = open_project(prompt_repo)
    bump.bump(project, "support-refund")
    before = repo_state(prompt_repo)
    with pytest.raises(ReleaseError, match="nothing changed"):
        bump.bump(project, "support-refund", "patch")
    assert repo_state(prompt_repo) == before


def test_partial_change_changes_digest_and_is_released_with_the_prompt(prompt_repo):
    project = open_project(prompt_repo)
    first = bump.bump(project, "support-refund")
    (prompt_repo / "prompts/_partials/policy.j2").write_text("Never promise refunds or credits.\n")
    assert prompts.list_prompts(project)[0].unreleased is True
    second = bump.bump(project, "support-refund", message="policy")
    assert second.digest != first.digest
    committed = git(prompt_repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert committed == ["prompts/_partials/policy.j2"]
    old = load_version(project, "support-refund", "1.0.0")
    assert old.files["_partials/policy.j2"] == "Never promise refunds.\n"


def test_invalid_prompt_is_refused_before_any_write(prompt_repo):
    project = open_project(prompt_repo)
    edit(prompt_repo, "prompts/support-refund/prompt.yaml", "Question: {{ question }}",
         "Question: {{ question }} {{ order_id }}")
    before = repo_state(prompt_repo)
    with pytest.raises(ValidationError) as info:
        bump.bump(project, "support-refund")
    assert "order_id" in str(info.value.problems[0])
    assert repo_state(prompt_repo) == before


def test_verify_finds_moved_and_lightweight_tags(prompt_repo):
    project = open_project(prompt_repo)
    bump.bump(project, "support-refund")
    bump.bump(project, "triage")
    assert verify.verify(project).findings == []
    edit(prompt_repo, "prompts/triage/system.j2", "bug", "defect")
    git(prompt_repo, "commit", "-qam", "sneaky edit")
    # Re-point the release at other content, keeping an annotated tag and its digest line.
    message = git(prompt_repo, "tag", "-l", "--format=%(contents)", "triage/v1.0.0")
    git(prompt_repo, "tag", "-f", "-a", "triage/v1.0.0", "-m", message, "HEAD")
    git(prompt_repo, "tag", "support-refund/v9.0.0")
    report = verify.verify(project)
    problems = {f.tag: f.problem for f in report.findings}
    assert "moved or rewritten" in problems["triage/v1.0.0"]
    assert "lightweight" in problems["support-refund/v9.0.0"]
    assert report.checked == 3


def test_diff_between_versions_and_auto_major(prompt_repo):
    project = open_project(prompt_repo)
    bump.bump(project, "support-refund")
    edit(prompt_repo, "prompts/support-refund/prompt.yaml", "  question: {type: string}\n",
         "  question: {type: string}\n  order_id: {type: string}\n")
    edit(prompt_repo, "prompts/support-refund/prompt.yaml", "Question: {{ question }}",
         "Question: {{ question }} (order {{ order_id }})")
    result = prompts.diff(project, "support-refund", render_vars={"question": "Hi?", "order_id": "42"})
    assert result.level.label == "major"
    assert [(c.name, c.change) for c in result.inputs] == [("order_id", "added")]
    assert "+Question: Hi? (order 42)" in result.rendered
    release = bump.bump(project, "support-refund", "auto")
    assert release.version == "2.0.0"
    between = prompts.diff(project, "support-refund", "1.0.0", "2.0.0")
    assert between.level.label == "major" and between.old_label == "1.0.0"


def test_list_on_repo_with_releases(prompt_repo):
    project = open_project(prompt_repo)
    bump.bump(project, "triage", "2.0.0")
    rows = {r.name: r for r in prompts.list_prompts(project)}
    assert rows["triage"].latest == "2.0.0" and rows["triage"].unreleased is False
    assert rows["support-refund"].latest is None and rows["support-refund"].unreleased is True


def test_first_bump_in_a_repo_without_commits(tmp_path):
    from promptctl.services.scaffold import init
    init(tmp_path / "fresh")
    project = open_project(tmp_path / "fresh")
    release = bump.bump(project, "support-reply")
    assert release.version == "1.0.0"
    assert verify.verify(project).findings == []


def test_release_candidates_then_final_with_the_same_content(prompt_repo):
    project = open_project(prompt_repo)
    assert bump.bump(project, "triage", pre="rc").version == "1.0.0-rc.1"
    with pytest.raises(ReleaseError, match="nothing changed"):
        bump.bump(project, "triage", pre="rc")
    edit(prompt_repo, "prompts/triage/system.j2", "bug", "defect")
    rc2 = bump.bump(project, "triage", pre="rc")
    assert rc2.version == "1.0.0-rc.2"
    final = bump.bump(project, "triage")
    assert final.version == "1.0.0" and final.digest == rc2.digest and final.commit == rc2.commit
    with pytest.raises(ReleaseError, match="nothing changed"):
        bump.bump(project, "triage")


def test_version_first_tag_format_releases_and_lists(prompt_repo):
    # for-each-ref globs stop at '/', so a name after the version must still be found
    config = prompt_repo / "promptctl.yaml"
    config.write_text(config.read_text() + 'tag_format: "v{version}/{name}"\n')
    git_save(prompt_repo, "version-first tags")
    r = run_cli("bump", "support-refund", "-m", "one", cwd=prompt_repo)
    assert r.returncode == 0, r.stderr
    assert git(prompt_repo, "tag") == "v1.0.0/support-refund"
    r = run_cli("list", "--json", cwd=prompt_repo)
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["support-refund"]["latest"] == "1.0.0"
    assert run_cli("verify", cwd=prompt_repo).returncode == 0


@pytest.mark.parametrize("fmt", ["{name} v{version}", "{name}/v{version}/{extra}"])
def test_a_tag_format_git_cannot_use_is_refused_before_any_write(prompt_repo, fmt):
    config = prompt_repo / "promptctl.yaml"
    config.write_text(config.read_text() + f'tag_format: "{fmt}"\n')
    git_save(prompt_repo, "bad format")
    (prompt_repo / "prompts/triage/system.j2").write_text("Label tickets.\n")
    before = repo_state(prompt_repo)
    r = run_cli("bump", "triage", "-m", "x", cwd=prompt_repo)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: promptctl.yaml:") and "tag_format" in r.stderr
    assert repo_state(prompt_repo) == before


def test_a_file_that_is_not_utf8_is_a_finding_not_a_crash(prompt_repo):
    (prompt_repo / "prompts/triage/system.j2").write_bytes(b"\xff\xfe label tickets\n")
    r = run_cli("check", cwd=prompt_repo)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "prompts/triage/system.j2: not UTF-8 text" in r.stdout + r.stderr
    before = repo_state(prompt_repo)
    r = run_cli("bump", "triage", cwd=prompt_repo)
    assert r.returncode == 2 and r.stderr.startswith("error: prompts/triage/system.j2: not UTF-8")
    assert repo_state(prompt_repo) == before


def test_a_refused_commit_leaves_the_index_as_it_was(prompt_repo):
    # a failing hook (or no git identity) must not leave the prompt's files staged
    hook = prompt_repo / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho no commits today >&2\nexit 1\n")
    hook.chmod(0o755)
    (prompt_repo / "prompts/triage/system.j2").write_text("Label tickets.\n")
    (prompt_repo / "notes.txt").write_text("mine\n")
    git(prompt_repo, "add", "notes.txt")
    status = git(prompt_repo, "status", "--porcelain")
    before = repo_snapshot(prompt_repo)
    r = run_cli("bump", "triage", "-m", "x", cwd=prompt_repo)
    assert r.returncode == 2 and "no commits today" in r.stderr
    assert git(prompt_repo, "status", "--porcelain") == status
    assert repo_snapshot(prompt_repo) == before
    assert not (prompt_repo / ".promptctl/journal.json").exists()


def test_eval_notes_on_a_release_tag_this_clone_lacks_are_reported(deploy_repo):
    project = open_project(deploy_repo)
    notes_ref = project.config.notes_ref
    git(deploy_repo, "notes", f"--ref={notes_ref}", "add", "-m", "eval: passed",
        git(deploy_repo, "rev-parse", "triage/v1.0.0"))   # a note on the tag object
    assert project.store.unfetched("support-refund", notes_ref) is None
    git(deploy_repo, "tag", "-d", "triage/v1.0.0")
    assert "eval notes for release tags" in project.store.unfetched("support-refund", notes_ref)


def test_the_store_reads_the_log_in_one_shape(prompt_repo):
    project = open_project(prompt_repo)
    bump.bump(project, "support-refund", message="first")
    edit(prompt_repo, "prompts/support-refund/prompt.yaml", "Question:", "Customer question:")
    git(prompt_repo, "add", "-A")
    git(prompt_repo, "commit", "-q", "-m", "hand edit\nwrapped\n\nPromptctl-Env: staging")
    store = project.store
    [last] = store.log("HEAD", limit=1)
    assert last.commit == store.head() and last.short == git(prompt_repo, "log", "-1", "--format=%h")
    assert (last.subject, last.first_line) == ("hand edit wrapped", "hand edit")   # git's %s joins
    assert last.trailers == {"Promptctl-Env": "staging"} and last.committed > 0
    git(prompt_repo, "commit", "-q", "--allow-empty", "-m", "unrelated")
    assert [e.subject for e in store.log(grep=r"^hand (edit|cut)")] == ["hand edit wrapped"]
    touched = store.log(paths=("prompts/support-refund/prompt.yaml",))
    assert touched[0].first_line == "hand edit" and "unrelated" not in [e.subject for e in touched]
    assert store.log(remotes=True) == []
