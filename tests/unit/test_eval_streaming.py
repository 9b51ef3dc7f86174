"""Big runs stream: case results spooled to disk, JSONL datasets parsed when read, and
report writers that read one case at a time while writing what the list version wrote."""

import json
from xml.etree import ElementTree as ET

import pytest

from promptctl.errors import ValidationError
from promptctl.evals import report
from promptctl.evals.datasets import JsonlCases, load_cases
from promptctl.evals.results import CaseList, CaseResult, MetricInfo, RunResult, light_cases, summarise
from promptctl.services.evaluate import EvalReport


def results(n: int = 6) -> list[CaseResult]:
    return [CaseResult(id=f"c{i}", sample=0, inputs={"q": f"<{i}> & \"x\""}, expected=f"e{i}",
                       tags=["odd" if i % 2 else "even"], output=f"answer {i}",
                       error="boom" if i == 4 else None, scores={"m": float(i % 3 == 0)},
                       reasons={"m": f"why {i}"}, passed=i % 3 == 0, latency_ms=1.5, index=i)
            for i in range(n)]


def eval_report(cases) -> EvalReport:
    run = RunResult(prompt="p", version="1.0.0", digest="sha256:x", provider="echo", model="m",
                    dataset_digest="d", metrics=[MetricInfo("m", "exact")], gates=["m >= 0.9"],
                    max_errors=0, cases=cases, started="2026-01-01T00:00:00+00:00")
    run.summary = summarise(run)
    return EvalReport(runs=[run])


def test_a_case_list_gives_back_every_field_and_keeps_only_light_copies():
    full = results()
    spooled = CaseList(full)
    assert len(spooled) == len(full) and list(spooled) == full
    assert spooled[2] == full[2] and spooled[-1] == full[-1] and spooled[1:3] == full[1:3]
    light = light_cases(spooled)
    assert [c.scores for c in light] == [c.scores for c in full]
    assert all(c.output is None and not c.inputs for c in light)


def test_writers_stream_what_they_wrote_from_a_list():
    listed, spooled = eval_report(results()), eval_report(CaseList(results()))
    for render in (report.to_json, report.to_junit, report.to_html, report.to_markdown):
        assert render(spooled) == render(listed)
    assert "".join(report.iter_json(spooled)) == json.dumps(listed.to_dict(), indent=2,
                                                             ensure_ascii=False, default=str)
    junit = ET.fromstring(report.to_junit(spooled).split("?>", 1)[1])
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("8", "5", "1")   # 6 cases, the gate, max_errors


def test_a_jsonl_dataset_is_read_line_by_line_and_checked_up_front():
    text = '{"id": "a", "inputs": {"q": 1}, "tags": ["t"]}\n\n{"inputs": {"q": 2}}\n'
    cases, _ = load_cases(lambda path: text, ["cases.jsonl"], "evals/p/suite.yaml")
    assert isinstance(cases, JsonlCases) and len(cases) == 2
    assert [c.inputs for c in cases] == [{"q": 1}, {"q": 2}] and cases[1].source.endswith(":3")
    with pytest.raises(ValidationError) as bad:
        JsonlCases(text + "{not json\n", "evals/p/cases.jsonl")
    assert bad.value.problems[0].line == 4
    with pytest.raises(ValidationError, match="appears twice"):
        load_cases(lambda path: text + '{"id": "a", "inputs": {}}\n', ["c.jsonl"], "s.yaml")
