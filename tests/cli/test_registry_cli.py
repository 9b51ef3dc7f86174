"""The registry commands as a user runs them: CliRunner for messages, subprocess for the real CLI."""

import json

import pytest
from typer.testing import CliRunner

from support.cli import run_cli
from support.cli import invoke
from support.repos import git, repo_state
from promptctl.cli import app

runner = CliRunner()


def test_bump_log_show_list_through_the_cli(prompt_repo):
    result = invoke(prompt_repo, "bump", "support-refund", "-m", "first release")
    assert result.exit_code == 0, result.output
    assert "released support-refund 1.0.0" in result.output
    log = json.loads(invoke(prompt_repo, "log", "support-refund", "--json").output)
    assert [r["version"] for r in log] == ["1.0.0"] and log[0]["message"] == "first release"
    shown = json.loads(invoke(prompt_repo, "show", "support-refund@1.0.0", "--json").output)
    assert shown["digest"] == log[0]["digest"] and shown["kind"] == "text"
    listed = json.loads(invoke(prompt_repo, "list", "--json").output)
    assert {r["name"]: r["unreleased"] for r in listed} == {"support-refund": False, "triage": True}


def test_commands_work_from_a_subfolder(prompt_repo, monkeypatch):
    monkeypatch.chdir(prompt_repo / "prompts" / "triage")
    result = runner.invoke(app, ["check", "triage"])
    assert result.exit_code == 0, result.output
    assert "checked 1 prompt(s): ok" in result.output


def test_diff_exit_code_and_render(prompt_repo, tmp_path):
    invoke(prompt_repo, "bump", "support-refund")
    assert invoke(prompt_repo, "diff", "support-refund", "--exit-code").exit_code == 0
    path = prompt_repo / "prompts/support-refund/prompt.yaml"
    path.write_text(path.read_text().replace("Hello", "Hi"))
    variables = tmp_path / "vars.yaml"
    variables.write_text("question: Where is my parcel?\n")
    result = invoke(prompt_repo, "diff", "support-refund", "--exit-code", "--render", str(variables))
    assert result.exit_code == 1
    assert "+Hi there." in result.output and "Suggested bump: minor" in result.output


def test_check_lists_every_problem_and_exits_1(prompt_repo):
    path = prompt_repo / "prompts/triage/prompt.yaml"
    path.write_text(path.read_text().replace("ticket: string", "ticket: string\n  unused: string")
                    .replace("role: user", "role: usr"))
    (prompt_repo / "prompts/support-refund/prompt.yaml").write_text("name: [oops\n")
    result = invoke(prompt_repo, "check")
    assert result.exit_code == 1
    assert "prompts/support-refund/prompt.yaml:" in result.output
    assert "prompts/triage/prompt.yaml:" in result.output and "messages.1.role" in result.output


@pytest.mark.parametrize("setup,args,expected", [
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text("name: triage\nmodel: [x\n"),
     ["bump", "triage"], "prompts/triage/prompt.yaml:"),
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text() + "colour: blue\n"),
     ["bump", "triage"], "colour: unknown field"),
    (lambda r: None, ["bump", "triage", "1.0"], "not a semantic version"),
    (lambda r: None, ["bump", "Bad_Name!"], "invalid prompt name"),
    (lambda r: None, ["show", "../../repo/prompts/triage"], "invalid prompt name"),
    (lambda r: None, ["promote", "../x", "1.0.0", "--env", "prod"], "invalid prompt name"),
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text().replace("system.j2", "missing.j2")),
     ["bump", "triage"], "messages.0.content_file"),
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text().replace("{{ ticket }}", "{{ ticket }} {{ who }}")),
     ["bump", "triage"], "'who'"),
    (lambda r: None, ["new", "Bad Name"], "invalid prompt name"),
])
def test_bad_input_exits_2_with_file_and_field_and_changes_nothing(prompt_repo, setup, args, expected):
    setup(prompt_repo)
    before = repo_state(prompt_repo)
    result = invoke(prompt_repo, *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert repo_state(prompt_repo) == before


def test_init_refuses_to_overwrite(tmp_path):
    assert runner.invoke(app, ["init", str(tmp_path / "p")]).exit_code == 0
    (tmp_path / "q" / "prompts").mkdir(parents=True)
    (tmp_path / "q" / "release.yaml").write_text("mine\n")
    result = runner.invoke(app, ["init", str(tmp_path / "q")])
    assert result.exit_code == 2 and "release.yaml already exists" in result.output
    assert (tmp_path / "q" / "release.yaml").read_text() == "mine\n"


def test_new_scaffolds_checkable_prompts(prompt_repo):
    assert invoke(prompt_repo, "new", "support/billing", "--text").exit_code == 0
    assert invoke(prompt_repo, "new", "triage-v2", "--from", "triage").exit_code == 0
    result = invoke(prompt_repo, "check", "support/billing", "triage-v2")
    assert result.exit_code == 0, result.output
    assert (prompt_repo / "prompts/triage-v2/system.j2").exists()


def test_installed_cli_end_to_end(tmp_path):
    assert run_cli("--version", cwd=tmp_path).stdout.startswith("promptctl ")
    done = run_cli("quickstart", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "support-reply 1.1.0" in done.stdout
    assert "canary support-reply 1.1.0 at 50% in production" in done.stdout   # healthy: advanced
    assert "stop canary support-reply 1.2.0 in production" in done.stdout      # broken: rolled back
    demo = tmp_path / "demo"
    assert git(demo, "tag", "-l").splitlines() == [
        "support-reply/v1.0.0", "support-reply/v1.1.0", "support-reply/v1.2.0"]
    manifest_log = git(demo, "log", "--format=%s", "--", "release.yaml")
    assert manifest_log.splitlines()[0].startswith("stop canary support-reply 1.2.0")
    assert (demo / ".promptctl" / "calls.sqlite").exists()
    verify = run_cli("verify", cwd=demo)
    assert verify.returncode == 0 and "ok" in verify.stdout
    git(demo, "tag", "-f", "support-reply/v1.0.0", "HEAD")
    moved = run_cli("verify", cwd=demo)
    assert moved.returncode == 1 and "support-reply/v1.0.0" in moved.stderr
    missing = run_cli("-C", str(tmp_path), "list", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no promptctl.yaml")


def test_verify_checks_the_manifest_and_bundles(tmp_path):
    assert run_cli("quickstart", "demo", cwd=tmp_path).returncode == 0
    demo = tmp_path / "demo"
    assert "active: 1.1.0" in (demo / "release.yaml").read_text()   # the quickstart promoted it
    assert run_cli("bundle", "--env", "production", "-o", "lock.json", cwd=demo).returncode == 0
    assert run_cli("verify", "--bundle", "lock.json", cwd=demo).returncode == 0
    lock = demo / "lock.json"
    data = json.loads(lock.read_text())
    data["versions"][0]["digest"] = "sha256:" + "0" * 64
    lock.write_text(json.dumps(data))
    broken = run_cli("verify", "--bundle", "lock.json", cwd=demo)
    assert broken.returncode == 1 and "lock.json" in broken.stderr
    manifest = demo / "release.yaml"
    manifest.write_text(manifest.read_text().replace("active: 1.1.0", "active: 1.0.9"))
    dangling = run_cli("verify", cwd=demo)
    assert dangling.returncode == 1 and "1.0.9" in dangling.stderr


@pytest.mark.parametrize("edit, expected", [
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text().replace("name: triage", "name: other")),
     "name: is 'other' but the folder says 'triage' (set name: triage, or move the folder)"),
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text().replace("system.j2", "missing.j2")),
     "not found next to prompt.yaml (create prompts/triage/missing.j2 or fix the name)"),
    (lambda r: (r / "prompts/triage/system.j2").write_text('{% include "_partials/gone.j2" %}\n'),
     "'_partials/gone.j2' not found (create prompts/_partials/gone.j2 or fix the include)"),
    (lambda r: (r / "prompts/triage/prompt.yaml").write_text(
        (r / "prompts/triage/prompt.yaml").read_text().replace("name: triage\n", "")),
     "name: required field is missing (add it)"),
])
def test_each_finding_says_how_to_fix_it(prompt_repo, edit, expected):
    edit(prompt_repo)
    result = invoke(prompt_repo, "bump", "triage")
    assert result.exit_code == 2 and expected in result.output, result.output


def test_dataset_errors_name_the_file_from_the_root(prompt_repo):
    with open(prompt_repo / "evals/support-refund/cases.jsonl", "a") as handle:
        handle.write("not json\n")
    result = invoke(prompt_repo, "check")
    assert result.exit_code == 1
    assert "evals/support-refund/cases.jsonl:2: invalid JSON" in result.output


def test_verify_names_a_broken_manifest_once_with_its_line(prompt_repo):
    (prompt_repo / "release.yaml").write_text(
        "environments:\n  production:\n    triage:\n      active: 1.0\n")
    r = run_cli("verify", cwd=prompt_repo)
    assert r.returncode == 1
    assert r.stderr.startswith("release.yaml:4: environments.production.triage.active: '1.0'")


def test_show_render_names_the_version_once(prompt_repo, tmp_path):
    (tmp_path / "vars.yaml").write_text("other: 1\n")
    r = invoke(prompt_repo, "show", "triage", "--render", str(tmp_path / "vars.yaml"))
    assert r.exit_code == 2 and "error: triage@working: missing required input 'ticket'" in r.output


@pytest.mark.parametrize("target, words", [("afile", "is a file"), ("prompts/team", "is inside"),
                                           ("evals/team", "is inside")])
def test_init_refuses_a_file_or_a_folder_inside_a_repos_prompts(prompt_repo, target, words):
    (prompt_repo / "afile").write_text("x\n")
    before = repo_state(prompt_repo)
    r = run_cli("init", target, cwd=prompt_repo)
    assert r.returncode == 2 and r.stderr.startswith("error: DIR: ") and words in r.stderr, r.stderr
    assert repo_state(prompt_repo) == before


def test_a_deleted_current_folder_is_an_error_not_a_traceback(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); sys.argv = ['promptctl', 'list']\n" \
             "from promptctl.cli import main; main()"
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: the current folder no longer exists"), r.stderr


def test_a_computed_include_is_refused_it_could_not_be_released(prompt_repo):
    # the digest covers the partials a prompt names; a name computed at render time escapes it
    (prompt_repo / "prompts/triage/system.j2").write_text('{% include "_partials/" ~ ticket %}\n')
    before = repo_state(prompt_repo)
    r = invoke(prompt_repo, "check", "triage")
    assert r.exit_code == 1 and "prompts/triage/system.j2: include/import with a computed name" in r.output
    r = invoke(prompt_repo, "bump", "triage")
    assert r.exit_code == 2 and repo_state(prompt_repo) == before
