"""`eval --format html` as a reviewer reads it: summary first, failing cases first with what
was expected, what came back and why it failed, passing ones folded; and its layout in
headless Chromium at a desktop and a phone width."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.browser import find_browser, layout_facts
from support.repos import build_file_tree, git_save
from support.releases import release
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.evals.html_report import to_html
from promptctl.services.project import open_project

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SUITE = """\
dataset: cases.jsonl
metrics:
  - {name: names_the_question_in_the_reply, type: contains}
gates: ["names_the_question_in_the_reply >= 0.9"]
"""


@pytest.fixture
def repo(prompt_repo):
    """support-refund 1.0.0 echoes every question; the working tree drops it for 7 of 24."""
    cases = "".join(json.dumps({"id": f"a-rather-long-case-identifier-{i:02d}",
                                "inputs": {"question": f"question {i}"},
                                "expected": f"question {i}"}) + "\n" for i in range(24))
    build_file_tree(prompt_repo, {"evals/support-refund/suite.yaml": SUITE,
                                  "evals/support-refund/cases.jsonl": cases})
    git_save(prompt_repo, "suite")
    release(prompt_repo, "support-refund", "1.0.0")
    path = prompt_repo / "prompts/support-refund/prompt.yaml"
    path.write_text(path.read_text().replace(
        "Question: {{ question }}",
        "Question: {{ question if not question.endswith(('1', '5', '9')) else 'elided' }}"))
    return prompt_repo


def page_of(repo) -> tuple[str, object]:
    report = evaluate(open_project(repo), "support-refund", EvalOptions(baseline="1.0.0", record=False))
    # a second, passing prompt: the failing one must still come first
    other = evaluate(open_project(repo), "support-refund@1.0.0", EvalOptions(record=False))
    report.runs = [*other.runs, *report.runs]
    return to_html(report), report


def test_summary_first_then_failing_cases_with_reasons_and_passing_folded(repo):
    page, report = page_of(repo)
    summary = page.index("id='summary'")
    assert summary < page.index("<h3>Baseline 1.0.0")
    assert page.index("support-refund@working <span") < page.index("support-refund@1.0.0 <span")
    table = re.search(r"<table class='baseline'>.*?</table>", page, re.S).group(0)
    assert "<td class='num'>-0.292</td>" in table and re.search(r"\[-0\.\d{3}, -0\.\d{3}\]", table)
    assert "<td>regression</td>" in table and "<th>p (Holm)</th>" in table
    failing = re.search(r"<h3>Failing cases \(7\)</h3>.*?</table>", page, re.S).group(0)
    for i in ("01", "05", "09", "11", "15", "19", "21"):
        assert f"a-rather-long-case-identifier-{i}" in failing
    assert "names_the_question_in_the_reply 0.00: " in failing
    assert "<pre>question 1</pre>" in failing                   # the expected value
    assert "Question: elided" in failing                        # the output excerpt
    assert "<details><summary>Passing cases (17)</summary>" in page
    assert "flipped pass → fail" in page and "flipped: </p>" not in page
    passing_run = page[page.index("support-refund@1.0.0 <span"):]
    assert "flipped" not in passing_run                         # nothing flipped: nothing said


@pytest.mark.parametrize("width", [1280, 390])
def test_eval_page_fits_desktop_and_phone_in_chromium(repo, tmp_path, width):
    browser = find_browser()
    if browser is None:
        pytest.skip("no chromium (.ci/run installs Debian's chromium package)")
    page, _ = page_of(repo)
    path = tmp_path / "eval.html"
    path.write_text(page)
    facts = layout_facts(browser, path, width, tmp_path, ARTIFACTS / f"eval-{width}.png")
    assert facts["viewport"] == width
    assert facts["scrollWidth"] <= width, facts
    assert facts["wide"] == [], facts
