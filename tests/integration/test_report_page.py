"""`promptctl report`: the HTML page's content, its escaping, and the page in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import run_cli
from support.repos import build_file_tree, git_save
from promptctl.runtime.calllog import open_logger
from promptctl.errors import NotFoundError
from promptctl.runtime.registry import Registry
from promptctl.services import deploy
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project
from promptctl.services.report_page import report_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SUITE = """\
dataset: cases.jsonl
metrics:
  - {name: asks, type: contains}
  - {name: farewell, type: icontains, value: goodbye}
gates: ["asks >= 0.5", "farewell >= 0.9"]
"""
CASES = "".join(f'{{"id": "q{i}", "inputs": {{"question": "q{i}"}}, '
                f'"expected": "{"q" if i % 3 else "absent"}{i}"}}\n' for i in range(9))
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def site(deploy_repo):
    """Three versions evaluated on two models, 1.1.0 active, 2.0.0 a 5% canary whose reason
    carries markup that must come out escaped, calls logged with a score, and an
    uncommitted edit that must not reach the page."""
    root = deploy_repo
    build_file_tree(root, {"evals/support-refund/suite.yaml": SUITE,
                           "evals/support-refund/cases.jsonl": CASES})
    git_save(root, "suite")
    for version, model in (("1.0.0", "echo-1"), ("1.1.0", "echo-1"), ("2.0.0", "echo-2")):
        evaluate(open_project(root), f"support-refund@{version}", EvalOptions(model=model))
    project = open_project(root)
    deploy.promote(project, "support-refund", "1.1.0", "production", why="better")
    deploy.promote(project, "support-refund", "1.0.0", "staging", why="first")
    deploy.canary(project, "support-refund", "2.0.0", "production", 5,
                  why="try kinder <script>alert('x')</script>")
    logger = open_logger(root / ".promptctl/calls.sqlite")
    reg = Registry.open(root, env="production", call_log=logger)
    for i in range(300):
        p = reg.get("support-refund", key=f"user-{i}")
        with reg.track(p) as call:
            call.record(success=not (p.variant == "canary" and i % 2),
                        scores={"thumbs_up": 1.0 if i % 4 else 0.0})
    assert logger.flush()
    path = root / "prompts/support-refund/prompt.yaml"
    path.write_text(path.read_text().replace("Question:", "UNRELEASED EDIT\n  Question:"))
    return root


def test_page_content_and_escaping(site, tmp_path):
    out = tmp_path / "report.html"
    context = report_page(open_project(site), out)
    page = out.read_text()
    assert [p.name for p in context["prompts"]] == ["support-refund", "triage"]
    production = re.search(r'<h3 id="env-production">.*?</table>', page, re.S).group(0)
    assert "1.1.0" in production and "2.0.0" in production and "5%" in production
    assert "staging" in page
    chart = re.search(r'<svg class="chart".*?</svg>', page, re.S).group(0)
    assert chart.count("<polyline") == 3                     # score, asks, farewell
    assert chart.count("<circle") == 9                       # 3 runs x 3 lines
    assert "1.0.0 · echo-1" in chart and "2.0.0 · echo-2" in chart   # version/model markers
    # each served version with its own evidence, not whatever ran last on this machine
    assert re.search(r"<b>production</b> serves 1.1.0:\s*eval of 1.1.0 on echo-1", page)
    assert re.search(r"canary 2.0.0 at 5%:\s*eval of 2.0.0 on echo-2", page)
    assert re.search(r"<b>staging</b> serves 1.0.0:\s*eval of 1.0.0 on echo-1", page)
    assert "farewell &gt;= 0.9" in page
    assert '<td class="fail">FAIL</td>' in page              # `farewell` never holds for echo
    assert "Latest release: 1.1.0 → 2.0.0" in page
    assert "working" not in page and "UNRELEASED EDIT" not in page   # no local tree leaks
    timeline = re.search(r'<table class="timeline">.*?</table>', page, re.S).group(0)
    assert timeline.index("canary") < timeline.index("promote")      # newest first
    assert "2.0.0 @ 5%" in timeline
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in timeline
    assert "<script" not in page.lower() and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")                    # nothing to run, nothing to fetch
    calls = re.search(r'<table class="calls">.*?</table>', page, re.S).group(0)
    assert "<th>thumbs_up</th>" in calls and re.search(r"<td>0\.7\d\d \(n=\d+\)</td>", calls)
    rows = re.findall(r"<td>(\d+)</td><td>([\d.]+)%</td>", calls)
    assert sum(int(n) for n, _ in rows) == 300
    assert any(float(rate) > 20 for _, rate in rows) and any(float(rate) == 0 for _, rate in rows)
    assert "No eval runs recorded." in page                  # triage has none
    # the canary's sample-ratio check, as `canary analyze` makes it
    assert "canary 2.0.0 in production: sample ratio ok" in page and "expected 5.0%" in page


def test_one_env_and_bad_env(site, tmp_path):
    context = report_page(open_project(site), tmp_path / "r.html", env="staging")
    assert list(context["envs"]) == ["staging"]
    with pytest.raises(NotFoundError, match="no environment 'prod'"):
        report_page(open_project(site), tmp_path / "r.html", env="prod")
    result = run_cli("report", "--env", "prod", "-o", str(tmp_path / "x.html"), cwd=site)
    assert result.returncode == 2 and "--env" in result.stderr
    assert not (tmp_path / "x.html").exists()
    ok = run_cli("report", "--env", "staging", "-o", str(tmp_path / "s.html"), cwd=site)
    assert ok.returncode == 0 and "1 prompts, 1 environments" in ok.stderr
    page = (tmp_path / "s.html").read_text()
    assert 'id="env-staging"' in page and 'id="env-production"' not in page


def _browser() -> str | None:
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if found:
        return found
    if os.environ.get("PROMPTCTL_INSTALL_BROWSER") != "1":
        return None
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        subprocess.run(command, capture_output=True, timeout=600,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("chromium")


@pytest.mark.timeout(900)     # room for the apt-get install on a fresh CI machine
def test_page_in_headless_chromium(site, tmp_path):
    browser = _browser()
    if browser is None:
        tried = os.environ.get("PROMPTCTL_INSTALL_BROWSER") == "1"
        pytest.skip("no chromium: " + ("`apt-get install -y chromium` failed here (needs root "
                                       "and Debian's package index)" if tried else
                                       "install Debian's `chromium` package, or set "
                                       "PROMPTCTL_INSTALL_BROWSER=1 to let this test apt-get it"))
    out = tmp_path / "report.html"
    result = run_cli("report", "-o", str(out), cwd=site)
    assert result.returncode == 0, result.stderr
    flags = [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True,
                         timeout=60).stdout
    assert '<h3 id="env-production">production</h3>' in dom
    assert dom.count("<circle") == 9 and "support-refund" in dom
    assert "&lt;script&gt;alert" in dom                     # shown as text, never run
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, "--hide-scrollbars", "--window-size=1280,1800",
                    f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=60)
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000                      # a rendered page, not a blank one


@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_desktop_and_phone_and_labels_never_collide(site, tmp_path, width):
    from support.browser import find_browser, layout_facts
    browser = find_browser()
    if browser is None:
        pytest.skip("no chromium (.ci/run installs Debian's chromium package)")
    # version changes close together in time: the labels that used to overlap
    for ref in ("support-refund@1.0.0", "support-refund@1.1.0", "support-refund@1.0.0"):
        evaluate(open_project(site), ref, EvalOptions(model="a-long-model-name-2024-07-18"))
    out = tmp_path / "report.html"
    report_page(open_project(site), out)
    facts = layout_facts(browser, out, width, tmp_path, ARTIFACTS / f"report-{width}.png")
    assert facts["viewport"] == width
    assert facts["scrollWidth"] <= width, facts
    assert facts["wide"] == [], facts
    assert facts["labels"] >= 8 and facts["overlaps"] == [], facts


def test_the_latest_change_lists_tool_changes(tmp_path):
    from support.releases import release
    from support.tools import make_agent_repo

    root = make_agent_repo(tmp_path / "r", "echo")
    release(root, "agent", "1.0.0")
    prompt = root / "prompts/agent/prompt.yaml"
    text = prompt.read_text()
    prompt.write_text(text[:text.index("  - name: refund")] + text[text.index("tool_choice:"):])
    release(root, "agent", "1.1.0")       # the page shows releases, never the working tree
    page = tmp_path / "page.html"
    report_page(open_project(root), page)
    assert "<li>tool &#39;refund&#39; removed</li>" in page.read_text()
