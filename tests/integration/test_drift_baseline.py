"""Drift against the accepted baseline: through an outage, a lenient suite and a run of
another model, the regression against the run made at release is reported every time,
from this machine's history or, in a fresh clone, from the attestation on the tag."""

from __future__ import annotations

import json

import pytest

from support.cli import run_cli
from support.repos import build_file_tree, git
from support.releases import release
from support.llm import FakeLLM
from promptctl.services.drift import DriftOptions, drift
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project

CASES = 20
PROMPT = """\
name: qa
model: {provider: openai, name: snap-1, params: {temperature: 0}}
inputs: {word: string}
template: "QA: {{ word }}"
"""
STRICT = 'dataset: cases.jsonl\nmetrics: [{name: accuracy, type: contains}]\ngates: ["accuracy >= 0.3"]\n'
LENIENT = 'dataset: cases.jsonl\nmetrics: [{name: accuracy, type: contains, value: "I"}]\n'


class Model:
    """`worse` breaks 12 of the 20 answers."""

    worse = False

    def __call__(self, body: dict) -> str:
        word = body["messages"][-1]["content"].split(": ", 1)[1]
        if self.worse and int(word[1:]) < 12:
            return "I am not sure."
        return f"It is {word}."


@pytest.fixture
def setup(tmp_path):
    model = Model()
    with FakeLLM(reply=model) as server:
        root = tmp_path / "r"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        cases = "".join(json.dumps({"id": f"c{i:02d}", "inputs": {"word": f"w{i}"},
                                    "expected": f"w{i}"}) + "\n" for i in range(CASES))
        build_file_tree(root, {
            "promptctl.yaml": f"providers:\n  openai: {{base_url: '{server.url}', retries: 0}}\n",
            ".gitignore": ".promptctl/\n",
            "release.yaml": "environments:\n  production:\n    qa: {active: 1.0.0}\n",
            "prompts/qa/prompt.yaml": PROMPT, "evals/qa/suite.yaml": STRICT,
            "evals/qa/cases.jsonl": cases})
        release(root, "qa", "1.0.0")
        yield root, server, model


def _qa(report):
    [item] = report.items
    return item


def test_the_regression_is_reported_until_someone_acts(setup):
    root, server, model = setup
    made = evaluate(open_project(root), "qa@1.0.0", EvalOptions(no_cache=True)).runs[0]
    assert made.passed and made.attested == ["qa/v1.0.0"]
    model.worse = True
    first = _qa(drift(open_project(root), DriftOptions()))
    assert first.status == "regressed" and first.baseline.id == 1      # the run at release

    server.script = [("status", 500)] * CASES           # the provider is down
    outage = run_cli("drift", "--json", cwd=root)
    assert outage.returncode == 3, outage.stderr
    assert json.loads(outage.stdout)["items"][0]["status"] == "provider errors"

    (root / "evals/qa/suite.yaml").write_text(LENIENT)   # a lenient suite passes everything
    lenient = _qa(drift(open_project(root), DriftOptions()))
    assert lenient.baseline is None and lenient.run.summary["metrics"]["accuracy"]["mean"] == 1.0
    (root / "evals/qa/suite.yaml").write_text(STRICT)

    other = _qa(drift(open_project(root), DriftOptions(model="snap-9")))
    assert other.run.model == "snap-9" and other.baseline.id == 1    # vetted against the pin

    again = _qa(drift(open_project(root), DriftOptions()))
    assert again.status == "regressed" and again.baseline.id == 1
    acc = again.run.comparison["metrics"]["accuracy"]
    assert acc["delta"] == pytest.approx(-12 / CASES) and acc["p_adjusted"] < 0.05

    accepted = _qa(drift(open_project(root), DriftOptions(accept=True)))
    assert accepted.status == "accepted" and accepted.accepted
    quiet = _qa(drift(open_project(root), DriftOptions()))
    assert quiet.status == "stable" and quiet.baseline.accepted


def test_a_fresh_clone_compares_with_the_attested_run(setup):
    root, _, model = setup
    evaluate(open_project(root), "qa@1.0.0", EvalOptions(no_cache=True))
    (root / ".promptctl/history.sqlite").unlink()        # another machine: no local history
    model.worse = True
    item = _qa(drift(open_project(root), DriftOptions()))
    assert item.status == "regressed" and item.baseline.source == "attestation"
    comp = item.run.comparison
    assert comp["method"] == "unpaired" and comp["baseline_label"] == "the run attested on qa/v1.0.0"
