"""Editing the repo's own Python (a `python:` provider or scorer) is a change promptctl sees:
no stale cached answers, and `--changed-since` evaluates the prompts that use it.
Real subprocesses: each run imports the module afresh, as a user's shell does."""

from __future__ import annotations

import json

import pytest

from support.cli import run_cli
from support.repos import build_file_tree, git_save

SUITE = """\
dataset: cases.jsonl
provider: python:app.pipeline:answer
metrics:
  - {type: exact}
  - {name: polite, type: python, function: "checks:polite"}
"""
CASES = '{"id": "a", "inputs": {"question": "Q1"}, "expected": "v1"}\n'


@pytest.fixture
def repo(prompt_repo):
    build_file_tree(prompt_repo, {
        "app/__init__.py": "",
        "app/pipeline.py": "def answer(prompt, **params):\n    return 'v1'\n",
        "checks.py": "def polite(output, case):\n    return 1.0\n",
        "evals/support-refund/suite.yaml": SUITE,
        "evals/support-refund/cases.jsonl": CASES,
    })
    git_save(prompt_repo, "python pipeline")
    return prompt_repo


def summary(repo, *args):
    result = run_cli("eval", "support-refund", "--format", "json", *args, cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["runs"][0]


def test_an_edited_provider_module_is_not_served_from_the_cache(repo):
    assert summary(repo)["summary"]["cached"] == 0
    assert summary(repo)["summary"]["cached"] == 1          # unchanged: the cache answers
    (repo / "app/pipeline.py").write_text("def answer(prompt, **params):\n    return 'v2'\n")
    run = summary(repo)
    assert run["summary"]["cached"] == 0 and run["cases"][0]["output"] == "v2"


@pytest.mark.parametrize("edited", ["app/pipeline.py", "checks.py", "app/__init__.py"])
def test_changed_since_sees_an_edited_module(repo, edited):
    path = repo / edited
    path.write_text(path.read_text() + "\n# edited\n")
    result = run_cli("eval", "--changed-since", "HEAD", "--format", "json", cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    assert [r["prompt"] for r in json.loads(result.stdout)["runs"]] == ["support-refund"]


def test_changed_since_still_skips_prompts_that_do_not_use_the_module(repo):
    (repo / "unrelated.py").write_text("x = 1\n")
    result = run_cli("eval", "--changed-since", "HEAD", cwd=repo)
    assert "unchanged since HEAD" in result.stderr + result.stdout
