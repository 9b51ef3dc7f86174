"""`promptctl eval history NAME --chart`: scores over time, by version and model, in one look."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from support.repos import build_file_tree, git, git_save
from promptctl.cli import app
from promptctl.evals.trend import sparkline, trends
from promptctl.services.evaluate import EvalOptions, evaluate

PROMPT = 'name: qa\nmodel: {provider: echo, name: m-1}\ninputs: {word: string, n: integer}\ntemplate: "%s"\n'


def make_repo(root, cases: int):
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    lines = [json.dumps({"id": f"c{i}", "inputs": {"word": f"w{i}", "n": i}, "expected": f"w{i}"})
             for i in range(cases)]
    build_file_tree(root, {"promptctl.yaml": "", ".gitignore": ".promptctl/\n",
                           "prompts/qa/prompt.yaml": PROMPT % "Answer: {{ word }}",
                           "evals/qa/suite.yaml": "dataset: cases.jsonl\nmetrics: [{name: accuracy, type: contains}]\n",
                           "evals/qa/cases.jsonl": "\n".join(lines) + "\n"})
    git_save(root, "v1", tag="qa/v1.0.0")
    return root


def set_template(root, template: str) -> None:
    (root / "prompts/qa/prompt.yaml").write_text(PROMPT % template)


def test_chart_shows_the_drop_with_versions_and_models(tmp_path):
    root = make_repo(tmp_path / "r", cases=20)
    evaluate(root, "qa@1.0.0", EvalOptions())
    set_template(root, "Answer: {% if n < 8 %}unknown{% else %}{{ word }}{% endif %}")
    evaluate(root, "qa", EvalOptions(model="m-2"))
    runner = CliRunner()
    out = runner.invoke(app, ["-C", str(root), "eval", "history", "qa", "--chart"])
    assert out.exit_code == 0, out.output
    assert "qa · 2 runs" in out.output
    accuracy = next(line for line in out.output.splitlines() if line.startswith("accuracy"))
    assert "█▅" in accuracy and "100.0%" in accuracy and "60.0%" in accuracy
    assert "-40.0 pts" in accuracy
    assert "1=1.0.0  2=working" in out.output and "1=m-1  2=m-2" in out.output
    data = json.loads(runner.invoke(app, ["-C", str(root), "eval", "history", "qa", "--chart",
                                          "--json"]).output)
    assert data[0]["series"]["accuracy"] == [1.0, 0.6]
    assert [p["model"] for p in data[0]["points"]] == ["m-1", "m-2"]
    empty = runner.invoke(app, ["-C", str(root), "eval", "history", "nope", "--chart"])
    assert empty.exit_code == 0 and "no recorded runs for nope" in empty.output


def test_sparkline_scale_and_gaps():
    assert sparkline([0.0, 0.5, 1.0, None]) == "▁▅█ "
    assert trends([]) == {}
