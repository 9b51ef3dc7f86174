"""Moving a hardcoded prompt in (`new --from-text`, `new --json`) and a release back
(`restore`), through the CLI as a newcomer runs them."""

from __future__ import annotations

import json

import pytest

from support.cli import invoke
from support.repos import git, repo_state

HARDCODED = ("You are a support agent for {company}.\n"
             "Customer {user.name} asks: {question!r}\n"
             "Reply in {{JSON}} with at most {limit:d} words and a {ratio:.2f} ratio.\n")


def test_new_from_text_turns_format_fields_into_jinja_inputs(prompt_repo, tmp_path):
    source = tmp_path / "hardcoded.txt"
    source.write_text(HARDCODED)
    result = invoke(prompt_repo, "new", "refund", "--from-text", str(source))
    assert result.exit_code == 0, result.output
    assert "+ prompts/refund/prompt.yaml" in result.stdout
    assert "'!r' was dropped" in result.output
    template = (prompt_repo / "prompts/refund/template.j2").read_text()
    assert template == ("You are a support agent for {{ company }}.\n"
                        "Customer {{ user.name }} asks: {{ question }}\n"
                        "Reply in {JSON} with at most {{ limit }} words and a {{ ratio }} ratio.\n")
    shown = json.loads(invoke(prompt_repo, "show", "refund", "--json").stdout)
    assert {k: v["type"] for k, v in shown["inputs"].items()} == {
        "company": "string", "user": "object", "question": "string", "limit": "integer",
        "ratio": "number"}
    assert invoke(prompt_repo, "check", "refund").exit_code == 0
    run = invoke(prompt_repo, "eval", "refund", "--provider", "echo")
    assert run.exit_code == 0, run.output      # the example case renders and passes


def test_new_json_scaffolds_a_schema_stub_that_the_suite_gates_on(prompt_repo):
    result = invoke(prompt_repo, "new", "extract", "--json")
    assert result.exit_code == 0, result.output
    import yaml
    spec = yaml.safe_load((prompt_repo / "prompts/extract/prompt.yaml").read_text())
    assert spec["output"]["format"] == "json" and spec["output"]["schema"]["required"] == ["answer"]
    assert invoke(prompt_repo, "check", "extract").exit_code == 0
    suite = (prompt_repo / "evals/extract/suite.yaml").read_text()
    assert "type: json_schema" in suite and "valid_json >= 1.0" in suite
    # echo repeats the prompt, which is not JSON: the gate must catch it
    failed = invoke(prompt_repo, "eval", "extract", "--provider", "echo")
    assert failed.exit_code == 1 and "valid_json: invalid JSON" in failed.stdout


def test_new_from_text_refuses_a_missing_file_and_an_existing_prompt(prompt_repo, tmp_path):
    before = repo_state(prompt_repo)
    missing = invoke(prompt_repo, "new", "x", "--from-text", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "nope.txt" in missing.output
    (tmp_path / "t.txt").write_text("Hi {name}\n")
    clash = invoke(prompt_repo, "new", "triage", "--from-text", str(tmp_path / "t.txt"))
    assert clash.exit_code == 2 and "prompts/triage already exists" in clash.output
    assert repo_state(prompt_repo) == before


def test_restore_puts_a_release_back_and_matches_its_digest(deploy_repo):
    prompt = deploy_repo / "prompts/support-refund/prompt.yaml"
    prompt.write_text(prompt.read_text().replace("Question:", "BAD CHANGE\n  Question:"))
    (deploy_repo / "prompts/support-refund/stray.j2").write_text("not released\n")
    git(deploy_repo, "add", "-A")
    git(deploy_repo, "commit", "-qm", "bad change")
    result = invoke(deploy_repo, "restore", "support-refund", "1.1.0")
    assert result.exit_code == 0, result.output
    assert "restored support-refund 1.1.0" in result.stdout
    assert "- prompts/support-refund/stray.j2" in result.stdout
    assert "shared partials also restored" in result.stdout and "_partials/policy.j2" in result.stdout
    assert "BAD CHANGE" not in prompt.read_text()
    diff = invoke(deploy_repo, "diff", "support-refund", "1.1.0", "--exit-code")
    assert diff.exit_code == 0, diff.output


@pytest.mark.parametrize("args,message", [
    (["restore", "support-refund", "9.9.9"], "support-refund has no release 9.9.9"),
    (["restore", "support-refund", "1.1"], "did you mean 1.1.0?"),
])
def test_restore_refuses_unknown_versions(deploy_repo, args, message):
    before = repo_state(deploy_repo)
    result = invoke(deploy_repo, *args)
    assert result.exit_code == 2 and message in result.output
    assert repo_state(deploy_repo) == before


def test_restore_refuses_uncommitted_changes_unless_forced(deploy_repo):
    prompt = deploy_repo / "prompts/support-refund/prompt.yaml"
    prompt.write_text(prompt.read_text() + "# my unsaved work\n")
    before = repo_state(deploy_repo)
    refused = invoke(deploy_repo, "restore", "support-refund", "1.0.0")
    assert refused.exit_code == 2 and "uncommitted changes" in refused.output
    assert repo_state(deploy_repo) == before
    assert invoke(deploy_repo, "restore", "support-refund", "1.0.0", "--force").exit_code == 0
    assert "# my unsaved work" not in prompt.read_text()
