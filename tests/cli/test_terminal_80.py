"""An 80-column terminal: tables fold instead of cutting, intervals read as numbers, help
shows what a newcomer needs, and a run written to files still says how it went."""

from __future__ import annotations

import json
import re
from functools import partial

import pytest

from support.cli import invoke as invoke_app
from support.repos import build_file_tree, git, git_save
from support.releases import release
from support.shells import run_in_pty

invoke = partial(invoke_app, columns=80)     # every in-process run is 80 columns unless told

LONG = "no_refund_promise_in_the_reply"
PROMPT = """\
name: refunds
model: {provider: echo, name: a-very-long-model-name-pinned-to-a-dated-snapshot-2024-07-18}
inputs:
  question: string
template: |
  Q: {{ question }}
  MARKER
"""
SUITE = f"""\
dataset: cases.jsonl
metrics:
  - {{name: {LONG}, type: contains, value: MARKER}}
gates: ["{LONG} >= 0.5"]
"""
CASES = "".join(json.dumps({"id": f"case-{i}", "inputs": {"question": f"q{i}"}}) + "\n"
                for i in range(8))


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    build_file_tree(root, {"promptctl.yaml": "{}\n", "release.yaml": "environments: {}\n",
                           ".gitignore": ".promptctl/\n", "prompts/refunds/prompt.yaml": PROMPT,
                           "evals/refunds/suite.yaml": SUITE, "evals/refunds/cases.jsonl": CASES})
    git_save(root, "initial")
    release(root, "refunds", "1.0.0")
    path = root / "prompts/refunds/prompt.yaml"
    path.write_text(PROMPT.replace("  MARKER\n", "  (no marker)\n"))
    return root


def terminal(root, *args, columns=80) -> str:
    """What a terminal `columns` wide shows (a real pseudo-terminal, not a pipe)."""
    return run_in_pty(["-C", str(root), *args], root, columns=columns)


def assert_fits(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    # what stays on screen: escape sequences removed, each line as its last \r left it
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    wide = [line for line in (raw.split("\r")[-1] for raw in plain.split("\n"))
            if len(line.rstrip()) > width]
    assert not wide, "\n".join(wide)


def test_baseline_table_folds_names_and_keeps_intervals_whole(repo):
    out = terminal(repo, "eval", "refunds", "--baseline", "1.0.0")
    assert_fits(out)
    assert "[-1.000, -1.000]" in out            # not "-1.000–-1.000"
    assert "–" not in out
    # the long metric name is all there, folded over lines of its own column
    assert LONG in re.sub(r"\s+", "", out)
    assert "REGRESSION" in out and "[0.000, " in out


def test_worst_cases_say_when_the_list_was_cut_and_what_exact_got(repo):
    (repo / "evals/refunds/suite.yaml").write_text(
        "dataset: cases.jsonl\nmetrics:\n  - {type: exact}\n")
    lines = "".join(json.dumps({"id": f"c{i}", "inputs": {"question": f"q{i}"},
                                "expected": "billing"}) + "\n" for i in range(6))
    (repo / "evals/refunds/cases.jsonl").write_text(lines)
    out = invoke(repo, "eval", "refunds").stdout
    assert "worst cases (showing 5 of 6):" in out
    assert "exact: expected 'billing', got 'Q: q0 (no marker)'" in out


def test_repeated_cases_name_their_sample(repo):
    out = invoke(repo, "eval", "refunds", "--repeat", "2").stdout
    assert "case-0 (sample 1):" in out and "case-0 (sample 2):" in out


def test_status_and_history_fold_at_80_columns_with_headers(repo):
    release(repo, "refunds", "2.0.0")
    for args in (["promote", "refunds", "1.0.0"], ["canary", "refunds", "2.0.0", "--weight", "5"]):
        assert invoke(repo, *args, "--env", "production", "-m",
                      "a reason long enough to need folding at eighty columns").exit_code == 0
    status = terminal(repo, "status")
    assert_fits(status)
    assert status.split()[:4] == ["env", "prompt", "active", "since"]
    history = terminal(repo, "history", "refunds", "--env", "production")
    assert_fits(history)
    assert history.split()[:7] == ["when", "commit", "action", "active", "canary", "by", "why"]
    assert "2.0.0 @ 5%" in history
    words = history.split()
    assert all(w in words for w in "a reason long enough to need folding at eighty columns".split())


def test_help_shows_run_options_whole_summaries_and_plain_metavars(repo):
    top = invoke(repo, "--help").stdout
    assert_fits(top)
    assert "Release a prompt: commit its files and create an immutable\n" in top
    assert "-C DIR" in top
    ev = invoke(repo, "eval", "--help").stdout
    for option in ("--baseline VERSION|ENV", "--repeat N", "--changed-since REF", "-o, --output FILE"):
        assert option in ev, ev
    assert "Usage: promptctl eval run [OPTIONS] [NAME[@VERSION]]" in invoke(repo, "eval", "run", "--help").stdout
    assert "Usage: promptctl bump [OPTIONS] NAME [LEVEL]" in invoke(repo, "bump", "--help").stdout
    assert "{" not in invoke(repo, "promote", "--help").stdout
    assert "--env ENV" in invoke(repo, "promote", "--help").stdout


def test_output_files_print_the_verdict_and_make_one_history_run(repo, tmp_path):
    result = invoke(repo, "eval", "refunds", "-o", str(tmp_path / "r.json"),
                    "-o", str(tmp_path / "r.html"), "-o", str(tmp_path / "r.xml"))
    assert result.exit_code == 1, result.output
    assert re.search(r"^refunds@working: FAILED \(8 cases, 0 errors, score 0\.000; failed: "
                     rf"{LONG} >= 0\.5\)$", result.stdout, re.M), result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["prompt"] == "refunds"
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")
    runs = json.loads(invoke(repo, "eval", "history", "refunds", "--json").stdout)
    assert len(runs) == 1
    refused = invoke(repo, "eval", "refunds", "--format", "json", "-o", "a.json", "-o", "b.json")
    assert refused.exit_code == 2 and "each file's suffix" in refused.output


def test_progress_bar_shows_rate_and_eta_on_a_terminal(repo):
    text = run_in_pty(["eval", "refunds", "--repeat", "20", "--no-cache"], repo, columns=100)
    assert re.search(r"\d+(\.\d)?/s", text), text[:500]
    assert "eta" in text
