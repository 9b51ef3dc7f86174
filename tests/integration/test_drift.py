"""Drift against a loopback OpenAI-protocol server whose "model" gets worse between runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from support.cli import run_cli
from support.repos import build_file_tree, git, git_save
from support.llm import FakeLLM
from promptctl.errors import NotFoundError, UsageError
from promptctl.evals import drift_report
from promptctl.services.drift import DriftOptions, drift
from promptctl.services.eval_history import history
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project

PROMPT = """\
name: {name}
model: {{provider: openai, name: snap-1, params: {{temperature: 0}}}}
inputs: {{word: string}}
template: "{prefix}: {{{{ word }}}}"
"""
SUITE = 'dataset: cases.jsonl\nmetrics: [{name: accuracy, type: contains}]\ngates: ["accuracy >= 0.6"]\n'
CASES = 30


class Model:
    """The server's behaviour: `worse` breaks 12 of 30 `qa` answers, never `faq` ones."""

    def __init__(self) -> None:
        self.worse = False

    def __call__(self, body: dict) -> str:
        text = body["messages"][-1]["content"]
        word = text.split(": ", 1)[1]
        if self.worse and text.startswith("QA") and int(word[1:]) < 12:
            return "I am not sure."
        return f"The answer is {word}."


def make_repo(root: Path, url: str, manifest: str | None = None) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    cases = "\n".join(json.dumps({"id": f"c{i:02d}", "inputs": {"word": f"w{i}"},
                                  "expected": f"w{i}"}) for i in range(CASES)) + "\n"
    files = {"promptctl.yaml": f"providers:\n  openai: {{base_url: '{url}', retries: 0}}\n",
             ".gitignore": ".promptctl/\n",
             "release.yaml": manifest or ("environments:\n  production:\n"
                                          "    qa: {active: 1.0.0}\n    faq: {active: 1.0.0}\n"
                                          "  staging:\n    qa: {active: 1.0.0}\n")}
    for name, prefix in (("qa", "QA"), ("faq", "FAQ")):
        files[f"prompts/{name}/prompt.yaml"] = PROMPT.format(name=name, prefix=prefix)
        files[f"evals/{name}/suite.yaml"] = SUITE
        files[f"evals/{name}/cases.jsonl"] = cases
    build_file_tree(root, files)
    git_save(root, "v1")
    git(root, "tag", "-a", "qa/v1.0.0", "-m", "qa 1.0.0")
    git(root, "tag", "-a", "faq/v1.0.0", "-m", "faq 1.0.0")
    return root


@pytest.fixture
def server():
    model = Model()
    with FakeLLM(reply=model) as fake:
        fake.model = model
        yield fake


def by_name(report) -> dict:
    return {item.served.name: item for item in report.items}


def test_worse_model_is_reported_for_the_regressed_prompt_only(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url)
    # A normal eval fills the response cache; drift must still ask the server.
    evaluate(open_project(root), "qa@1.0.0", EvalOptions())
    evaluate(open_project(root), "faq@1.0.0", EvalOptions())
    assert len(server.requests) == 2 * CASES

    first = drift(open_project(root), DriftOptions())
    assert len(server.requests) == 4 * CASES             # no answer came from the cache
    assert {i.status for i in first.items} == {"stable"} and first.passed
    assert by_name(first)["qa"].served.where == ("production", "staging")   # de-duplicated

    server.model.worse = True
    second = drift(open_project(root), DriftOptions())
    assert len(server.requests) == 6 * CASES
    qa, faq = by_name(second)["qa"], by_name(second)["faq"]
    assert qa.status == "regressed" and faq.status == "stable" and not second.passed
    acc = qa.run.comparison["metrics"]["accuracy"]
    assert acc["delta"] == pytest.approx(-12 / CASES) and acc["regression"]
    assert acc["test"] == "mcnemar" and qa.run.comparison["method"] == "paired"
    assert acc["high"] < 0 and acc["p"] < 0.01
    assert qa.run.comparison["flipped"] == [f"c{i:02d}" for i in range(12)]
    assert not faq.run.comparison["regressed"]
    assert qa.newly_failing_gates == []                  # 0.6 still holds: a drift, not a gate
    markdown = drift_report.to_markdown(second)
    assert "`qa@1.0.0`" in markdown and "-40.0 pts" in markdown and "❌ regressed" in markdown
    # Drift runs are recorded, so `eval history` shows the drop.
    rows = history(open_project(root), "qa")
    assert [round(r.score, 2) for r in rows[:2]] == [0.6, 1.0]


def test_old_history_without_case_scores_uses_the_unpaired_test(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url)
    evaluate(open_project(root), "qa@1.0.0", EvalOptions(no_cache=True))
    db = sqlite3.connect(root / ".promptctl/history.sqlite")
    with db:
        db.execute("UPDATE runs SET case_scores = NULL")   # as recorded before they were kept
    db.close()
    server.model.worse = True
    report = drift(open_project(root), DriftOptions(env="production"))
    qa = by_name(report)["qa"]
    assert qa.run.comparison["method"] == "unpaired"
    assert qa.run.comparison["metrics"]["accuracy"]["test"] == "two_proportion_z"
    assert qa.status == "regressed"
    assert by_name(report)["faq"].status == "no baseline"


def test_gate_failure_without_baseline_and_model_override(tmp_path, server):
    manifest = ("environments:\n  production:\n    qa: {active: 1.0.0, model: pinned-7}\n"
                "    faq: {active: 1.0.0}\n")
    root = make_repo(tmp_path / "r", server.url, manifest)
    report = drift(open_project(root), DriftOptions(env="production"))
    assert by_name(report)["qa"].run.model == "pinned-7"   # the manifest's pin wins
    assert {r["body"]["model"] for r in server.requests} == {"pinned-7", "snap-1"}
    server.requests.clear()
    (root / "evals/qa/suite.yaml").write_text(SUITE.replace("0.6", "0.99"))
    server.model.worse = True
    report = drift(open_project(root), DriftOptions(model="snap-2"))
    qa = by_name(report)["qa"]
    assert {r["body"]["model"] for r in server.requests} == {"snap-2"}
    # The suite changed (same dataset): a run of the old suite is not its baseline (a more
    # lenient or stricter suite would pose as drift), so only the gate speaks.
    assert qa.baseline is None and qa.run.comparison is None
    assert qa.status == "gate failed" and qa.newly_failing_gates == ["accuracy >= 0.99"]


def test_provider_errors_are_not_reported_as_a_prompt_regression(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url)
    drift(open_project(root), DriftOptions(env="production"))
    server.script = [("status", 500)] * 4     # faq is checked first (names in order)
    report = drift(open_project(root), DriftOptions(env="production"))
    faq, qa = by_name(report)["faq"], by_name(report)["qa"]
    assert faq.status == "provider errors" and faq.run.summary["errors"] == 4
    assert qa.status == "stable" and not report.passed


def test_bad_input(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url)
    with pytest.raises(UsageError, match="not a date"):
        drift(open_project(root), DriftOptions(since="last tuesday"))
    with pytest.raises(NotFoundError, match="no environment 'prod'"):
        drift(open_project(root), DriftOptions(env="prod"))


def test_cli_exit_codes_and_formats(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url)
    ok = run_cli("drift", "--env", "production", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert "no baseline" in ok.stdout
    server.model.worse = True
    summary = tmp_path / "summary.md"
    bad = run_cli("drift", "--format", "junit", "-o", str(tmp_path / "drift.xml"), cwd=root,
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert bad.returncode == 1, bad.stderr
    junit = (tmp_path / "drift.xml").read_text()
    assert 'name="no regression vs 1.0.0"' in junit and "regressed: accuracy -0.400" in junit
    assert "drift detected" in summary.read_text()
    # The regressed run is not the new baseline: the regression is reported until accepted.
    again = run_cli("drift", "--format", "json", cwd=root)
    data = json.loads(again.stdout)
    assert again.returncode == 1 and not data["passed"]
    assert {i["prompt"]: i["status"] for i in data["items"]} == {"qa": "regressed", "faq": "stable"}
    accept = json.loads(run_cli("drift", "--json", "--accept", cwd=root).stdout)
    assert {i["prompt"]: i["status"] for i in accept["items"]} == {"qa": "accepted",
                                                                   "faq": "accepted"}
    after = run_cli("drift", "--format", "json", cwd=root)
    data = json.loads(after.stdout)
    assert after.returncode == 0 and data["passed"]
    qa = next(i for i in data["items"] if i["prompt"] == "qa")
    assert qa["status"] == "stable" and qa["baseline"]["score"] == pytest.approx(0.6)
    assert qa["baseline"]["accepted"]
    future = json.loads(run_cli("drift", "--json", "--since", "2999-01-01", cwd=root).stdout)
    assert {i["status"] for i in future["items"]} == {"no baseline"}
    usage = run_cli("drift", "--format", "html", cwd=root)
    assert usage.returncode == 2 and "--format" in usage.stderr


def test_nothing_served_is_not_a_failure(tmp_path, server):
    root = make_repo(tmp_path / "r", server.url, "environments: {}\n")
    result = run_cli("drift", cwd=root)
    assert result.returncode == 0 and "serves nothing yet" in result.stderr
    assert server.requests == []
