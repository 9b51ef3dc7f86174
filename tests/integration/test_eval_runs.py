"""Whole eval runs on real git repos: cache, keys, baseline regressions, shards, history."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from support.evals import make_qa_repo, set_qa_template
from support.repos import build_file_tree, git_save
from support.llm import FakeLLM
from promptctl.errors import UsageError
from promptctl.evals import report as render
from promptctl.services.eval_history import history, require_eval
from promptctl.services.eval_shards import merge
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project

def test_candidate_breaking_8_of_40_is_flagged_against_version_and_environment(tmp_path):
    root = make_qa_repo(tmp_path / "r")
    set_qa_template(root, "Answer: {% if n < 8 %}unknown{% else %}{{ word }}{% endif %}")
    for baseline in ("1.0.0", "production"):
        run = evaluate(open_project(root), "qa", EvalOptions(baseline=baseline)).runs[0]
        comp = run.comparison
        assert comp["baseline_version"] == "1.0.0" and comp["paired"] == 40
        assert comp["regressed"] and comp["metrics"]["accuracy"]["regression"]
        assert comp["flipped"] == [f"c{i:02d}" for i in range(8)]
        assert run.summary["gates_passed"] and not run.passed   # 0.8 passes the gate, not the baseline


def test_noise_only_change_is_not_flagged(tmp_path):
    root = make_qa_repo(tmp_path / "r")
    set_qa_template(root, "Reply: {{ word }}")
    run = evaluate(open_project(root), "qa@working", EvalOptions(baseline="1.0.0")).runs[0]
    assert not run.comparison["regressed"] and run.comparison["flipped"] == []
    assert run.comparison["metrics"]["sim"]["delta"] != 0   # it did change; just not a regression
    assert run.passed


def test_version_evaluates_tagged_content_not_the_working_tree(tmp_path):
    root = make_qa_repo(tmp_path / "r")
    set_qa_template(root, "nothing useful")
    assert evaluate(open_project(root), "qa@1.0.0", EvalOptions()).runs[0].summary["metrics"]["accuracy"]["mean"] == 1.0
    working = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
    assert working.summary["metrics"]["accuracy"]["mean"] == 0.0 and not working.passed


def test_cache_hit_means_no_second_request_and_keys_never_written(tmp_path, monkeypatch):
    secret = "sk-live-DO-NOT-LEAK-42"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with FakeLLM() as server:
        root = make_qa_repo(tmp_path / "r", provider="openai", cases=10,
                         config=f"providers:\n  openai: {{base_url: '{server.url}'}}\n")
        first = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
        assert len(server.requests) == 10 and first.summary["cached"] == 0
        assert all(r["headers"]["authorization"] == f"Bearer {secret}" for r in server.requests)
        second = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
        assert len(server.requests) == 10, "a cached answer must not reach the server"
        assert second.summary["cached"] == 10
        assert [c.output for c in second.cases] == [c.output for c in first.cases]
        evaluate(open_project(root), "qa", EvalOptions(no_cache=True))
        assert len(server.requests) == 20
        evaluate(open_project(root), "qa", EvalOptions(model="m-2"))   # another model is another key
        assert len(server.requests) == 30

        from typer.testing import CliRunner
        from promptctl.cli import app
        out = tmp_path / "out"
        for fmt, name in (("json", "r.json"), ("junit", "r.xml"), ("html", "r.html"),
                          ("markdown", "r.md")):
            result = CliRunner().invoke(app, ["-C", str(root), "eval", "qa", "--format", fmt,
                                              "--output", str(out / name)])
            assert result.exit_code == 0, result.output
    written = [p for p in [*root.rglob("*"), *out.rglob("*"), summary] if p.is_file()
               and ".git" not in p.parts]
    assert any(p.name == "cache.sqlite" for p in written)
    assert any(p.name == "history.sqlite" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_a_key_echoed_in_a_completion_is_masked_in_results_html_and_cache(tmp_path, monkeypatch):
    secret = "sk-echoed-in-answer-77"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with FakeLLM(reply=lambda body: f"w1 and by the way your key is {secret}") as server:
        root = make_qa_repo(tmp_path / "r", provider="openai", cases=3,
                         config=f"providers:\n  openai: {{base_url: '{server.url}'}}\n")
        from typer.testing import CliRunner
        from promptctl.cli import app
        out = tmp_path / "out"
        for fmt, name in (("json", "out.json"), ("html", "r.html")):
            result = CliRunner().invoke(app, ["-C", str(root), "eval", "qa", "--format", fmt,
                                              "--output", str(out / name)])
            assert result.exit_code in (0, 1), result.output
        assert len(server.requests) == 3   # the second run was served by the cache
    assert "your key is ***" in (out / "out.json").read_text()
    written = [p for p in [*root.rglob("*"), *out.rglob("*")] if p.is_file() and ".git" not in p.parts]
    assert any(p.name == "cache.sqlite" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_provider_errors_are_errors_never_passes(tmp_path):
    with FakeLLM() as server:
        root = make_qa_repo(tmp_path / "r", provider="openai", cases=4,
                         config=f"providers:\n  openai: {{base_url: '{server.url}', retries: 0}}\n")
        server.script = [("status", 500)]
        run = evaluate(open_project(root), "qa", EvalOptions(concurrency=1)).runs[0]
    assert run.summary["errors"] == 1 and not run.summary["errors_ok"] and not run.passed
    errored = [c for c in run.cases if c.error]
    assert len(errored) == 1 and "HTTP 500" in errored[0].error
    assert errored[0].scores["accuracy"] == 0.0 and not errored[0].passed


def test_shards_merged_equal_the_single_run(tmp_path):
    root = make_qa_repo(tmp_path / "r")
    set_qa_template(root, "Answer: {% if n % 3 == 0 %}x{% else %}{{ word }}{% endif %}")
    single = evaluate(open_project(root), "qa", EvalOptions(record=False)).runs[0]
    files = []
    for i in (1, 2, 3):
        part = evaluate(open_project(root), "qa", EvalOptions(shard=f"{i}/3", record=False))
        assert len(part.runs[0].cases) in (13, 14)
        files.append(tmp_path / f"shard{i}.json")
        files[-1].write_text(render.to_json(part))
    merged = merge(open_project(root), files).runs[0]
    assert sorted(c.key for c in merged.cases) == sorted(c.key for c in single.cases)
    assert merged.summary == single.summary
    assert merged.shard is None and merged.passed == single.passed
    with pytest.raises(UsageError, match="--shard '4/3'"):
        evaluate(open_project(root), "qa", EvalOptions(shard="4/3"))


def test_junit_validates(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=5)
    set_qa_template(root, "Answer: {% if n == 0 %}x{% else %}{{ word }}{% endif %}")
    report = evaluate(open_project(root), "qa", EvalOptions(baseline="1.0.0"))
    tree = ET.fromstring(render.to_junit(report))
    assert tree.tag == "testsuites"
    suites = tree.findall("testsuite")
    assert [s.get("name") for s in suites] == ["qa@working"]
    cases = suites[0].findall("testcase")
    assert len(cases) == int(suites[0].get("tests")) == 5 + 1 + 1   # cases, one gate, baseline
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suites[0].get("failures")) == len(failures)
    assert [c.get("name") for c in failures] == ["c00"]
    assert all(float(c.get("time")) >= 0 for c in cases)


def test_history_and_require_eval(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=5)
    passing = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
    assert require_eval(open_project(root), "qa", passing.digest)
    set_qa_template(root, "nothing")
    failing = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
    assert not failing.passed and not require_eval(open_project(root), "qa", failing.digest)
    evaluate(open_project(root), "qa", EvalOptions(shard="1/2"))
    rows = history(open_project(root), "qa")
    assert [(r.version, r.passed, r.shard) for r in rows] == [
        ("working", False, "1/2"), ("working", False, None), ("working", True, None)]
    assert rows[2].metrics["accuracy"] == 1.0 and rows[2].dataset_digest.startswith("sha256:")
    assert rows[2].model == "m-1" and rows[2].digest == passing.digest


def test_changed_since_and_all(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=3)
    build_file_tree(root, {
        "prompts/_partials/p.j2": "policy\n",
        "prompts/other/prompt.yaml": "name: other\nmodel: {provider: echo, name: e}\n"
                                     "inputs: {word: string}\n"
                                     "template: \"{% include '_partials/p.j2' %}{{ word }}\"\n",
        "prompts/nosuite/prompt.yaml": "name: nosuite\nmodel: {provider: echo, name: e}\ntemplate: hi\n",
        "evals/other/suite.yaml": "dataset: cases.jsonl\nmetrics: [{type: contains}]\n",
        "evals/other/cases.jsonl": '{"inputs": {"word": "a"}, "expected": "a"}\n'})
    git_save(root, "more")
    everything = evaluate(open_project(root), None, EvalOptions(all=True))
    assert [r.prompt for r in everything.runs] == ["other", "qa"]
    assert ("nosuite", "no suite") in everything.skipped
    (root / "prompts/_partials/p.j2").write_text("new policy\n")
    changed = evaluate(open_project(root), None, EvalOptions(changed_since="HEAD"))
    assert [r.prompt for r in changed.runs] == ["other"]
    (root / "evals/qa/cases.jsonl").write_text('{"inputs": {"word": "z", "n": 1}, "expected": "z"}\n')
    changed = evaluate(open_project(root), None, EvalOptions(changed_since="HEAD"))
    assert [r.prompt for r in changed.runs] == ["other", "qa"]


def test_repeat_samples_each_case_and_judge_grades(tmp_path):
    def reply(body):
        content = body["messages"][-1]["content"]
        if "grading" in content:
            return '{"score": 4, "reason": "clear"}'
        return content
    with FakeLLM(reply=reply) as server:
        root = make_qa_repo(tmp_path / "r", provider="openai", cases=3,
                         config=f"providers:\n  openai: {{base_url: '{server.url}'}}\n")
        (root / "evals/qa/suite.yaml").write_text(
            "dataset: cases.jsonl\nrepeat: 2\njudge: {model: judge-1}\nmetrics:\n"
            "  - {type: contains}\n  - {name: clarity, type: llm_judge, rubric: 'Clear?', scale: [1, 5]}\n"
            "gates: ['clarity >= 0.7']\n")
        run = evaluate(open_project(root), "qa", EvalOptions()).runs[0]
        assert len(run.cases) == 6 and {c.sample for c in run.cases} == {0, 1}
        calls = [r["body"]["model"] for r in server.requests]
        assert calls.count("m-1") == 6 and calls.count("judge-1") == 3   # judge answers cached
        assert run.summary["metrics"]["clarity"]["mean"] == 0.75 and run.passed
        assert run.cases[0].reasons["clarity"] == "clear"


def test_python_provider_runs_the_apps_pipeline(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=4)
    (root / "pipeline.py").write_text(
        "def run(prompt, **params):\n"
        "    if 'w3' in prompt:\n"
        "        raise ValueError('upstream said no')\n"
        "    return {'text': prompt.split(': ')[1], 'tokens_in': 5, 'tokens_out': 1}\n")
    (root / "promptctl.yaml").write_text("prompts_dir: prompts\nevals_dir: evals\n"
                                         "prices: {m-1: {input: 1000, output: 2000}}\n")
    run = evaluate(open_project(root), "qa", EvalOptions(provider="python:pipeline:run")).runs[0]
    assert [c.output for c in run.cases[:3]] == ["w0", "w1", "w2"]
    assert run.cases[0].cost == (5 * 1000 + 1 * 2000) / 1e6
    assert "ValueError: upstream said no" in run.cases[3].error
    assert run.summary["errors"] == 1 and not run.passed


def test_changed_since_with_a_name_skips_an_unchanged_prompt(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=2)
    report = evaluate(open_project(root), "qa", EvalOptions(changed_since="HEAD"))
    assert report.runs == [] and report.skipped == [("qa", "unchanged since HEAD")]
    assert report.passed


def test_history_path_is_configurable_and_settings_checked(tmp_path):
    root = make_qa_repo(tmp_path / "r", cases=2, config="eval: {history: ci/evals.sqlite}\n")
    evaluate(open_project(root), "qa", EvalOptions())
    assert (root / "ci/evals.sqlite").is_file() and not (root / ".promptctl/history.sqlite").exists()
    assert len(history(open_project(root), "qa")) == 1
    (root / "promptctl.yaml").write_text("eval: {histroy: x.sqlite}\n")
    with pytest.raises(Exception, match="eval.histroy: unknown setting"):
        evaluate(open_project(root), "qa", EvalOptions())


def test_a_failed_judge_costs_only_its_own_metric(tmp_path):
    def reply(body):
        content = body["messages"][-1]["content"]
        if "grading" in content:   # out of range for w0's answer, fine for the others
            return '{"score": 9}' if '"w0"' in content else '{"score": 5, "reason": "ok"}'
        return content
    with FakeLLM(reply=reply) as server:
        root = make_qa_repo(tmp_path / "r", provider="openai", cases=3,
                         config=f"providers:\n  openai: {{base_url: '{server.url}'}}\n")
        (root / "evals/qa/suite.yaml").write_text(
            "dataset: cases.jsonl\njudge: {model: judge-1}\nmetrics:\n"
            "  - {type: contains}\n  - {name: clarity, type: llm_judge, rubric: 'Clear?', scale: [1, 5]}\n")
        run = evaluate(open_project(root), "qa", EvalOptions(no_cache=True)).runs[0]
    first = run.cases[0]
    assert first.error is None and first.scores["contains"] == 1.0
    assert "clarity" not in first.scores and "outside the scale" in first.metric_errors["clarity"]
    assert not first.passed and run.cases[1].passed
    summary = run.summary["metrics"]
    assert summary["contains"]["mean"] == 1.0 and summary["clarity"]["mean"] == 1.0
    assert summary["clarity"]["errors"] == 1 and summary["clarity"]["n"] == 2
    assert run.summary["errors"] == 0


def test_a_provider_outage_exits_3_not_1(tmp_path):
    from typer.testing import CliRunner

    from promptctl.cli import app
    with FakeLLM() as server:
        url = server.url
    # the server is gone: every call is refused on loopback, like a provider that is down
    root = make_qa_repo(tmp_path / "r", provider="openai", cases=4,
                     config=f"providers:\n  openai: {{base_url: '{url}', retries: 0}}\n")
    run = evaluate(open_project(root), "qa", EvalOptions(no_cache=True, record=False)).runs[0]
    assert run.summary["provider_errors"] == 4 and run.summary["outage"]
    assert all(c.provider_error for c in run.cases)
    result = CliRunner().invoke(app, ["-C", str(root), "eval", "qa", "--no-cache"])
    assert result.exit_code == 3, result.output
    assert "the provider failed on 4 of 4 calls" in result.output
