"""`promptctl eval` from the command line: dispatch, formats, exit codes, messages."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from support.cli import run_cli
from support.cli import invoke
from support.repos import build_file_tree, git_save, repo_state
from promptctl.cli import app

SUITE = """\
dataset: cases.jsonl
metrics:
  - {name: policy, type: icontains, value: never promise refunds}
  - {name: asks, type: contains}
gates: ["policy >= 1.0", "asks >= 0.5"]
"""
CASES = "".join(json.dumps({"id": f"q{i}", "inputs": {"question": f"question {i}"},
                            "expected": f"question {i}" if i % 4 else "absent"}) + "\n"
                for i in range(8))


@pytest.fixture
def repo(prompt_repo):
    build_file_tree(prompt_repo, {"evals/support-refund/suite.yaml": SUITE,
                                  "evals/support-refund/cases.jsonl": CASES})
    git_save(prompt_repo, "suite", tag="support-refund/v1.0.0")
    return prompt_repo


def test_eval_name_prints_table_and_passes(repo):
    result = invoke(repo, "eval", "support-refund")
    assert result.exit_code == 0, result.output
    assert "support-refund@working · echo/echo-1 · 8 cases, 0 errors" in result.output
    assert "policy >= 1 " in result.output and "PASSED" in result.output
    assert "q0: asks: missing 'absent'" in result.output   # the worst cases are shown


def test_version_and_json_format(repo):
    result = invoke(repo, "eval", "support-refund@1.0.0", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    run = data["runs"][0]
    assert data["passed"] and run["version"] == "1.0.0" and len(run["cases"]) == 8
    assert run["summary"]["metrics"]["asks"]["mean"] == 0.75


def test_failing_gate_exits_1(repo):
    (repo / "prompts/_partials/policy.j2").write_text("Be kind.\n")
    result = invoke(repo, "eval", "support-refund", "--format", "markdown")
    assert result.exit_code == 1
    assert "❌ policy >= 1 |" in result.output


def test_regression_against_baseline_exits_1(repo):
    # 8 cases cannot show a 6-case drop once Holm corrects for the two metrics; 16 can.
    many = "".join(json.dumps({"id": f"q{i}", "inputs": {"question": f"question {i}"},
                               "expected": f"question {i}" if i % 4 else "absent"}) + "\n"
                   for i in range(16))
    build_file_tree(repo, {"evals/support-refund/cases.jsonl": many,
                           "prompts/support-refund/prompt.yaml":
                           (repo / "prompts/support-refund/prompt.yaml").read_text()
                           .replace("Question: {{ question }}", "Question: redacted")})
    result = invoke(repo, "eval", "support-refund", "--baseline", "1.0.0")
    assert result.exit_code == 1
    assert "REGRESSION" in result.output and "pass → fail: q1, q2, q3, q5" in result.output


def test_markdown_report_shows_the_baseline_table(repo):
    result = invoke(repo, "eval", "support-refund", "--baseline", "1.0.0", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "Baseline `1.0.0` (8 paired cases)" in result.output
    assert re.search(r"\| policy \| 1\.000 \| 1\.000 \| .* no regression \|", result.output), result.output


@pytest.mark.parametrize("args,message", [
    (["eval", "nope"], "error: prompts/nope/prompt.yaml: prompt 'nope' not found"),
    (["eval", "triage"], "error: evals/triage/suite.yaml: no eval suite for 'triage'"),
    (["eval"], None),
    (["eval", "support-refund", "--format", "xml"], "error: --format: unknown format 'xml'"),
    (["eval", "support-refund", "--shard", "0/2"], "error: --shard: --shard '0/2' is not I/N"),
    (["eval", "support-refund", "--baseline", "qa-env"], "'qa-env' is neither a version nor"),
    (["eval", "support-refund", "--output", "report.txt"], "cannot tell the format"),
    (["eval", "support-refund", "--all"], "give a prompt name or --all, not both"),
    (["eval", "history", "--limit", "0"], "error: --limit: --limit must be at least 1"),
    (["eval", "support-refund", "--repeat", "0"], "error: --repeat: --repeat must be at least 1"),
])
def test_bad_input_exits_2_with_one_line(repo, args, message):
    before = repo_state(repo)
    result = CliRunner().invoke(app, ["-C", str(repo), *args])
    assert result.exit_code == 2, result.output
    if message:
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and message in lines[0], result.stderr
    after = repo_state(repo)
    assert after["head"] == before["head"] and after["tags"] == before["tags"]


def test_bad_suite_names_file_line_field(repo):
    (repo / "evals/support-refund/suite.yaml").write_text("dataset: cases.jsonl\nrepet: 3\n")
    result = invoke(repo, "eval", "support-refund")
    assert result.exit_code == 2
    assert "suite.yaml:2: repet: unknown field" in result.stderr


def test_history_lists_runs(repo):
    assert invoke(repo, "eval", "history", "support-refund").output.startswith("no recorded runs")
    invoke(repo, "eval", "support-refund")
    invoke(repo, "eval", "support-refund@1.0.0")
    result = invoke(repo, "eval", "history", "support-refund", "--json")
    rows = json.loads(result.output)
    assert [r["version"] for r in rows] == ["1.0.0", "working"] and all(r["passed"] for r in rows)
    table = invoke(repo, "eval", "history", "support-refund").output
    assert "1.0.0" in table and "echo-1" in table


def test_shard_and_merge(repo, tmp_path):
    for i in (1, 2):
        result = invoke(repo, "eval", "support-refund", "--shard", f"{i}/2",
                        "--output", str(tmp_path / f"s{i}.json"))
        assert result.exit_code == 0, result.output
    result = invoke(repo, "eval", "merge", str(tmp_path / "s1.json"), str(tmp_path / "s2.json"),
                    "--format", "junit")
    assert result.exit_code == 0, result.output
    tree = ET.fromstring(result.output)
    assert tree.get("tests") == str(8 + 2)
    bad = invoke(repo, "eval", "merge", str(tmp_path / "missing.json"))
    assert bad.exit_code == 2 and "missing.json: file not found" in bad.stderr


def test_github_step_summary_is_appended(repo, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert invoke(repo, "eval", "--all").exit_code == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "### `support-refund@working` — ✅ passed" in text


def test_help_is_readable():
    top = CliRunner().invoke(app, ["eval", "--help"])
    assert top.exit_code == 0 and "history" in top.output and "merge" in top.output
    run = CliRunner().invoke(app, ["eval", "run", "--help"])
    assert "--baseline" in run.output and "--shard" in run.output


def test_real_subprocess_end_to_end(repo, tmp_path):
    out = tmp_path / "report.html"
    result = run_cli("eval", "support-refund", "--output", str(out), cwd=repo)
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("<!doctype html>") and "q7" in out.read_text()
    result = run_cli("eval", "--changed-since", "HEAD", cwd=repo)
    assert result.returncode == 0 and "nothing to evaluate" in result.stderr
    result = run_cli("eval", "history", "support-refund", cwd=repo)
    assert result.returncode == 0 and "working" in result.stdout


def test_check_validates_suites_without_calling_a_model(repo):
    (repo / "evals/support-refund/suite.yaml").write_text(
        "dataset: cases.jsonl\nmetrics:\n  - {type: regex, patern: x}\n")
    result = invoke(repo, "check")
    assert result.exit_code == 1
    assert "evals/support-refund/suite.yaml:3: metrics.0: scorer 'regex' has no param `patern`" \
        in result.output


def test_progress_is_reported_per_case(repo):
    from promptctl.services.evaluate import EvalOptions, evaluate
    from promptctl.services.project import open_project
    seen = []
    evaluate(open_project(repo), "support-refund", EvalOptions(on_progress=lambda *a: seen.append(a)))
    assert seen[0] == ("support-refund@working", 1, 8) and seen[-1] == ("support-refund@working", 8, 8)


@pytest.mark.parametrize("suite,args,message", [
    (SUITE.replace("metrics:\n", "provider: nosuch\nmetrics:\n"), [],
     "error: evals/support-refund/suite.yaml: provider: unknown provider 'nosuch'"),
    (SUITE, ["--provider", "nosuch"], "error: --provider: unknown provider 'nosuch'"),
    (SUITE.replace("gates:", "  - {name: own, type: python, function: nomodule:fn}\ngates:"), [],
     "error: evals/support-refund/suite.yaml: metrics.own.function: cannot import 'nomodule'"),
])
def test_load_errors_name_the_file_that_asked_for_it(repo, suite, args, message):
    # A provider or scorer function that cannot load is the suite's (or flag's) fault: say where.
    (repo / "evals/support-refund/suite.yaml").write_text(suite)
    result = invoke(repo, "eval", "support-refund", *args)
    assert result.exit_code == 2, result.output
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_case_missing_a_required_input_is_bad_input(repo):
    # The dataset does not fit the prompt: say which case and line, before any call; check agrees.
    (repo / "evals/support-refund/cases.jsonl").write_text(
        CASES + json.dumps({"id": "typo", "inputs": {"qeustion": "hi"}}) + "\n")
    before = repo_state(repo)
    result = invoke(repo, "eval", "support-refund")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: evals/support-refund/cases.jsonl:9: inputs: "
                                    "case 'typo' has no input 'question'"), result.stderr
    assert repo_state(repo) == before
    check = invoke(repo, "check")
    assert check.exit_code == 1 and "cases.jsonl:9: inputs: case 'typo'" in check.output


def test_dataset_errors_name_the_file_from_the_repo_root(repo):
    (repo / "evals/support-refund/cases.jsonl").write_text(CASES + "{not json\n")
    result = invoke(repo, "eval", "support-refund")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: evals/support-refund/cases.jsonl:9: invalid JSON")


def test_merge_refuses_missing_shards_and_records_nothing(repo, tmp_path):
    # A merge of shard 1/2 alone must not become a "complete" run that --require-eval trusts.
    invoke(repo, "eval", "support-refund", "--shard", "1/2", "-o", str(tmp_path / "s1.json"))
    invoke(repo, "eval", "support-refund", "--shard", "1/3", "-o", str(tmp_path / "t1.json"))
    rows_before = invoke(repo, "eval", "history", "--json").output
    result = invoke(repo, "eval", "merge", str(tmp_path / "s1.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: support-refund@working: shard 2/2 missing")
    mixed = invoke(repo, "eval", "merge", str(tmp_path / "s1.json"), str(tmp_path / "t1.json"))
    assert mixed.exit_code == 2 and "shards of different splits (1/2, 1/3)" in mixed.stderr
    assert invoke(repo, "eval", "history", "--json").output == rows_before


def test_more_shards_than_cases_pass_empty_and_merge_whole(repo, tmp_path):
    files = []
    for i in range(1, 11):   # 8 cases over 10 shards: shards 9 and 10 are empty
        files.append(str(tmp_path / f"s{i}.json"))
        result = invoke(repo, "eval", "support-refund", "--shard", f"{i}/10", "-o", files[-1])
        if i > 8:
            assert result.exit_code == 0, (i, result.output)
    merged = json.loads(invoke(repo, "eval", "merge", *files, "--format", "json").output)
    assert merged["passed"] and len(merged["runs"][0]["cases"]) == 8


def test_python_scorer_returning_nan_is_a_case_error(repo):
    build_file_tree(repo, {"nanscore.py": "def score(output, case, **kw):\n    return float('nan')\n"})
    (repo / "evals/support-refund/suite.yaml").write_text(
        SUITE.replace("gates:", "  - {name: own, type: python, function: nanscore:score}\ngates:"))
    result = invoke(repo, "eval", "support-refund", "--format", "json")
    assert result.exit_code == 1
    case = json.loads(result.output)["runs"][0]["cases"][0]
    assert case["error"] == "scorer own: ValueError: returned NaN"


def test_bad_changed_since_ref_names_the_flag(repo):
    result = invoke(repo, "eval", "--changed-since", "no-such-ref")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --changed-since: no git revision 'no-such-ref'")


@pytest.mark.parametrize("args", [["eval", "support-refund", "--format", "json", "-o", "{dir}"],
                                  ["report", "-o", "{dir}"], ["eval", "merge", "{dir}"]])
def test_a_folder_as_output_or_input_file_is_one_line_exit_2(repo, tmp_path, args):
    before = repo_state(repo)
    history = invoke(repo, "eval", "history", "--json").output
    result = invoke(repo, *[a.replace("{dir}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(tmp_path) in lines[0]
    assert repo_state(repo) == before and invoke(repo, "eval", "history", "--json").output == history


def test_baseline_env_that_does_not_serve_the_prompt_gates_without_comparison(repo):
    (repo / "release.yaml").write_text("environments:\n  production: {}\n")
    result = invoke(repo, "eval", "support-refund", "--baseline", "production")
    assert result.exit_code == 0, result.output
    assert "baseline: none: support-refund is not deployed in production yet" in result.output
    md = invoke(repo, "eval", "support-refund", "--baseline", "production", "--format", "markdown")
    assert "Baseline: none: support-refund is not deployed in production yet" in md.output


def test_suite_path_is_relative_to_where_the_command_runs(repo):
    folder = repo / "evals/support-refund"
    result = run_cli("eval", "support-refund", "--suite", "suite.yaml", cwd=folder)
    assert result.returncode == 0, result.stderr
    missing = run_cli("eval", "support-refund", "--suite", "nope.yaml", cwd=folder)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: evals/support-refund/nope.yaml: suite file not found")


def test_a_release_named_by_v_prefix_or_tag_is_recorded_as_its_version(repo):
    for ref in ("support-refund@v1.0.0", "support-refund@support-refund/v1.0.0"):
        result = invoke(repo, "eval", ref, "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["runs"][0]["version"] == "1.0.0"
    rows = json.loads(invoke(repo, "eval", "history", "support-refund", "--json").output)
    assert [r["version"] for r in rows] == ["1.0.0", "1.0.0"]


def test_per_tag_aggregates_are_shown_not_only_in_json(repo):
    tagged = "".join(json.dumps({"id": f"t{i}", "inputs": {"question": f"q {i}"},
                                 "expected": f"q {i}" if i < 3 else "absent",
                                 "tags": ["billing" if i < 2 else "shipping"]}) + "\n" for i in range(4))
    (repo / "evals/support-refund/cases.jsonl").write_text(tagged)
    table = invoke(repo, "eval", "support-refund").output
    assert "by tag" in table and re.search(r"shipping \(2\)\s+1\.000\s+0\.500", table), table
    md = invoke(repo, "eval", "support-refund", "--format", "markdown").output
    assert "| tag | policy | asks |" in md and "| billing (2) | 1.000 | 1.000 |" in md


def test_an_unreadable_history_or_cache_is_one_line_before_any_call(repo):
    state = repo / ".promptctl"
    state.mkdir(exist_ok=True)
    (state / "history.sqlite").write_text("not a database")
    for args in (["eval", "support-refund"], ["eval", "history"]):
        result = invoke(repo, *args)
        assert result.exit_code == 2, result.output
        assert "history.sqlite: cannot open the eval history: file is not a database" in result.stderr
    from promptctl.errors import ValidationError
    from promptctl.evals.cache import ResponseCache
    (state / "cache.sqlite").write_text("not a database")
    with pytest.raises(ValidationError, match="cannot open the response cache"):
        ResponseCache(state / "cache.sqlite")


def test_baseline_env_from_a_broken_manifest_is_one_line(repo):
    (repo / "release.yaml").write_text("environments: [production]\n")
    result = invoke(repo, "eval", "support-refund", "--baseline", "production")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: release.yaml:1: environments: ")


@pytest.mark.parametrize("setting,message", [
    ("{timeout: abc}", "providers.echo.timeout: 'abc' is not a number"),
    ("{concurrency: 0}", "providers.echo.concurrency: 0 is out of range (must be >= 1)"),
])
def test_bad_provider_settings_in_config_are_one_line(repo, setting, message):
    # concurrency 0 made remote providers wait forever; a non-number timeout crashed.
    config = repo / "promptctl.yaml"
    before = config.read_text()
    config.write_text(before + f"providers:\n  echo: {setting}\n")
    result = invoke(repo, "eval", "support-refund")
    assert result.exit_code == 2, result.output
    line = before.count("\n") + 2   # the line of `echo:`
    assert result.stderr.startswith(f"error: promptctl.yaml:{line}: {message}"), result.stderr


def test_eval_plan_states_what_the_suite_can_detect_and_what_it_needs(repo):
    from promptctl.evals import stats
    result = invoke(repo, "eval", "plan", "support-refund", "--detect", "0.05")
    assert result.exit_code == 0, result.output
    needed = stats.cases_needed(0.05, 0.025)          # two metrics: Holm tests one at 0.025
    assert "support-refund: 8 cases, 2 metrics, α 0.05" in result.output
    mde = stats.min_detectable_drop(8, 0.025)
    assert 0.8 < mde < 1 and f"detectable now: a drop of {mde:.3f} or more" in result.output
    assert f"to detect a drop of 0.050: {needed} cases ({needed - 8} more)" in result.output
    data = json.loads(invoke(repo, "eval", "plan", "support-refund", "--json").output)
    assert data["cases"] == 8 and data["level"] == 0.025
    bad = invoke(repo, "eval", "plan", "support-refund", "--detect", "1.5")
    assert bad.exit_code == 2 and "--detect" in bad.output
