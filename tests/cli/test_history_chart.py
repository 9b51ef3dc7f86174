"""`promptctl eval history NAME --chart`: scores over time, by version and model, in one look."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from support.evals import make_qa_repo, set_qa_template
from promptctl.cli import app
from promptctl.evals.trend import sparkline, trends
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project


def test_chart_shows_the_drop_with_versions_and_models(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=20)
    evaluate(open_project(root), "qa@1.0.0", EvalOptions())
    set_qa_template(root, "Answer: {% if n < 8 %}unknown{% else %}{{ word }}{% endif %}")
    evaluate(open_project(root), "qa", EvalOptions(model="m-2"))
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
