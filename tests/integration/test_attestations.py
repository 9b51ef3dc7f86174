"""Eval attestations in real git notes: written on the release tag, read by --require-eval."""

from __future__ import annotations

import json

import pytest

from support.repos import build_file_tree, git, git_save
from support.releases import project
from promptctl.errors import CheckFailed
from promptctl.services import deploy
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project

REF = "refs/notes/promptctl"


def note_lines(root, tag: str, ref: str = REF) -> list[dict]:
    text = git(root, "notes", f"--ref={ref}", "show", git(root, "rev-parse", tag))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_an_eval_of_a_release_writes_every_field_on_its_tag(deploy_repo, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/prompts")
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    run = evaluate(open_project(deploy_repo), "support-refund@1.0.0", EvalOptions()).runs[0]
    assert run.attested == ["support-refund/v1.0.0"]
    [line] = note_lines(deploy_repo, "support-refund/v1.0.0")
    assert line["prompt_digest"] == run.digest and line["tag"] == "support-refund/v1.0.0"
    assert line["suite"] == "evals/support-refund/suite.yaml"
    assert line["suite_digest"].startswith("sha256:") and line["params_digest"].startswith("sha256:")
    assert line["dataset_digest"] == run.dataset_digest
    assert (line["provider"], line["model"], line["passed"]) == ("echo", "echo-1", True)
    assert line["ran_at"] == "https://github.com/acme/prompts/actions/runs/7"
    assert line["promptctl_version"] and line["time"] and line["regression"] is None
    assert line["metrics"]["error_rate"] == 0.0
    # the note is on the tag object, not the commit: a re-made tag does not inherit it
    assert git(deploy_repo, "notes", f"--ref={REF}", "list").split()[1] == git(
        deploy_repo, "rev-parse", "support-refund/v1.0.0")
    deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production", require_eval=True)


def test_a_working_tree_equal_to_a_release_attests_it_and_an_edit_does_not(deploy_repo):
    name = "support-refund"
    assert evaluate(open_project(deploy_repo), name, EvalOptions()).runs[0].attested == [f"{name}/v1.0.0"]
    assert evaluate(open_project(deploy_repo), name, EvalOptions(shard="1/2")).runs[0].attested == []
    (deploy_repo / "prompts/_partials/policy.j2").write_text("Refunds need a receipt.\n")
    assert evaluate(open_project(deploy_repo), name, EvalOptions()).runs[0].attested == []
    assert len(note_lines(deploy_repo, f"{name}/v1.0.0")) == 1


def test_a_lenient_suite_and_an_env_model_pin_are_refused_with_the_reason(deploy_repo):
    build_file_tree(deploy_repo, {"evals/other/suite.yaml": "dataset: ../support-refund/cases.jsonl\n"})
    git_save(deploy_repo, "a lenient suite")
    evaluate(open_project(deploy_repo), "support-refund@1.1.0", EvalOptions(suite="evals/other/suite.yaml"))
    p = project(deploy_repo)
    with pytest.raises(CheckFailed, match="used suite evals/other/suite.yaml"):
        deploy.promote(p, "support-refund", "1.1.0", "production", require_eval=True)
    evaluate(open_project(deploy_repo), "support-refund@1.1.0", EvalOptions())
    deploy.promote(p, "support-refund", "1.1.0", "production", require_eval=True)
    # production pins another model: a run of the prompt's own model proves nothing there
    (deploy_repo / "release.yaml").write_text(
        "environments:\n  production:\n    support-refund: {active: 1.1.0, model: echo-2}\n")
    git_save(deploy_repo, "pin echo-2")
    evaluate(open_project(deploy_repo), "support-refund@2.0.0", EvalOptions())
    with pytest.raises(CheckFailed, match="used model echo-1, the environment serves echo-2"):
        deploy.canary(p, "support-refund", "2.0.0", "production", 5, require_eval=True)
    evaluate(open_project(deploy_repo), "support-refund@2.0.0", EvalOptions(model="echo-2"))
    deploy.canary(p, "support-refund", "2.0.0", "production", 5, require_eval=True)


def test_a_suite_edited_after_the_run_is_refused(deploy_repo):
    evaluate(open_project(deploy_repo), "support-refund@1.0.0", EvalOptions())
    suite = deploy_repo / "evals/support-refund/suite.yaml"
    suite.write_text(suite.read_text() + "max_errors: 3\n")
    git_save(deploy_repo, "loosen the suite")
    with pytest.raises(CheckFailed, match="another revision of evals/support-refund/suite.yaml"):
        deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production",
                       require_eval=True)


def test_the_notes_ref_is_configurable(deploy_repo):
    config = deploy_repo / "promptctl.yaml"
    config.write_text(config.read_text() + "notes_ref: refs/notes/evals\n")
    git_save(deploy_repo, "own notes ref")
    evaluate(open_project(deploy_repo), "support-refund@1.0.0", EvalOptions())
    assert note_lines(deploy_repo, "support-refund/v1.0.0", "refs/notes/evals")
    assert "refs/notes/promptctl" not in git(deploy_repo, "for-each-ref", "refs/notes")


def test_merged_shards_are_attested_as_one_complete_run(deploy_repo, tmp_path):
    from promptctl.services.eval_shards import merge
    files = []
    for i in (1, 2):
        report = evaluate(open_project(deploy_repo), "support-refund@1.0.0", EvalOptions(shard=f"{i}/2"))
        assert report.runs[0].attested == []
        files.append(tmp_path / f"shard{i}.json")
        files[-1].write_text(json.dumps(report.to_dict()))
    with pytest.raises(CheckFailed):
        deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production", require_eval=True)
    merged = merge(project(deploy_repo), files).runs[0]
    assert merged.attested == ["support-refund/v1.0.0"] and merged.shard is None
    [line] = note_lines(deploy_repo, "support-refund/v1.0.0")
    assert line["suite"] == "evals/support-refund/suite.yaml" and line["passed"]
    deploy.promote(project(deploy_repo), "support-refund", "1.0.0", "production", require_eval=True)
