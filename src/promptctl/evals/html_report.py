"""`eval --format html`: a page a reviewer reads top-down.

Summary first (one row per prompt: verdict, gates, baseline), then each run with failing
runs first: its gates, the baseline table (deltas, intervals, p and adjusted p when the
run has them), its failing cases with input, expected, an output excerpt and the reasons,
and its passing cases folded. Self-contained: inline CSS, no scripts, everything escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .report import (adjusted_p, case_label, failing_cases, fmt, fmt_interval, metric_rows,
                     power_line, shown_output, verdict, verdict_line)
from .results import light_cases

EXCERPT = 400          # characters of an output shown for a case
PASSING_SHOWN = 500    # passing cases listed per run (the rest are counted)

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:72rem;color:#111;
 line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;overflow-wrap:anywhere}
h3{font-size:1rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.pass{background:#e3f6e3}.fail{background:#fde2e2}
.id{white-space:nowrap;font-family:ui-monospace,monospace}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;max-width:32rem;font-size:.85rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-weight:600}
.badge.pass{color:#14532d}.badge.fail{color:#7f1d1d}
details{margin:.5rem 0}summary{cursor:pointer}
""".strip()


def to_html(report) -> str:
    e = html.escape
    runs = sorted(report.runs, key=lambda r: r.passed)     # failing runs first
    verdict = "passed" if report.passed else "failed"
    failed = sum(1 for r in report.runs if not r.passed)
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>promptctl eval — {verdict}</title><style>{CSS}</style></head><body>",
             f"<h1>promptctl eval — {verdict}</h1>",
             f"<p>{len(report.runs)} run(s), {failed} failed.</p>"]
    parts += _summary(runs)
    for index, run in enumerate(runs):
        parts += _run(run, index)
    for prompt, why in report.skipped:
        parts.append(f"<p>skipped {e(prompt)}: {e(why)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _badge(ok: bool, yes: str = "passed", no: str = "failed") -> str:
    return f"<span class='badge {'pass' if ok else 'fail'}'>{yes if ok else no}</span>"


def _summary(runs) -> list[str]:
    e = html.escape
    rows = ["<h2 id='summary'>Summary</h2><div class='scroll'><table class='summary'>",
            "<tr><th>prompt</th><th>verdict</th><th>gates</th><th>baseline</th></tr>"]
    for index, run in enumerate(runs):
        gates = "<br>".join(f"{'pass' if g['passed'] else 'FAIL'}: {e(g['gate'])} "
                            f"({fmt(g['value'])})" for g in run.summary["gates"]) or "–"
        rows.append(f"<tr class='{'pass' if run.passed else 'fail'}'>"
                    f"<td><a href='#run-{index}'>{e(run.prompt)}@{e(run.version)}</a></td>"
                    f"<td>{_badge(run.passed)}</td><td>{gates}</td>"
                    f"<td>{_baseline_cell(run)}</td></tr>")
    rows.append("</table></div>")
    return rows


def _baseline_cell(run) -> str:
    e = html.escape
    comp = run.comparison
    if comp is None:
        return e(run.baseline_note or "–")
    state = "regressed" if comp["regressed"] else "no regression"
    return f"vs {e(comp['baseline_version'])}: {state}"


def _run(run, index: int) -> list[str]:
    e = html.escape
    s = run.summary
    parts = [f"<h2 id='run-{index}'>{e(run.prompt)}@{e(run.version)} {_badge(run.passed)}</h2>",
             f"<p>{e(verdict_line(run))}<br>model {e(run.model)} ({e(run.provider)}), "
             f"digest <code>{e(run.digest[:19])}</code></p>",
             "<div class='scroll'><table class='gates'><tr><th>metric</th><th>value</th>"
             "<th>95% interval</th><th>gate</th></tr>"]
    for row in metric_rows(run):
        ok = all(g["passed"] for g in row["gates"])
        gates = ", ".join(e(g["gate"]) for g in row["gates"])
        parts.append(f"<tr class='{'pass' if ok else 'fail'}'><td>{e(row['metric'])}</td>"
                     f"<td class='num'>{fmt(row['value'])}</td>"
                     f"<td class='num'>{fmt_interval(row['low'], row['high'])}</td>"
                     f"<td>{gates}</td></tr>")
    if not s["errors_ok"]:
        parts.append(f"<tr class='fail'><td>errors</td><td class='num'>{s['errors']}</td><td></td>"
                     f"<td>&lt;= {run.max_errors}</td></tr>")
    parts.append("</table></div>")
    if run.comparison is not None:
        parts += _baseline_table(run.comparison)
    parts += _cases(run)
    return parts


def _baseline_table(comp: dict) -> list[str]:
    e = html.escape
    head = ("<tr><th>metric</th><th>baseline</th><th>candidate</th><th>delta</th>"
            "<th>95% interval</th><th>p</th><th>p (Holm)</th><th>verdict</th></tr>")
    parts = [f"<h3>Baseline {e(comp['baseline_version'])} ({comp['paired']} paired cases)</h3>",
             f"<div class='scroll'><table class='baseline'>{head}"]
    for name, m in comp["metrics"].items():
        cells = [e(name), fmt(m["baseline"]), fmt(m["candidate"]), f"{m['delta']:+.3f}",
                 fmt_interval(m["low"], m["high"], signed=True), f"{m['p']:.3g} ({e(m['test'])})",
                 e(adjusted_p(m)), e(verdict(m))]
        tds = "".join(f"<td>{c}</td>" if i in (0, 7) else f"<td class='num'>{c}</td>"
                      for i, c in enumerate(cells))
        parts.append(f"<tr class='{'fail' if m['regression'] else ''}'>{tds}</tr>")
    parts.append(f"</table></div><p>{e(power_line(comp))}</p>")
    flipped = comp["flipped"]
    if flipped:
        shown = ", ".join(e(c) for c in flipped[:50])
        more = f" (showing 50 of {len(flipped)})" if len(flipped) > 50 else ""
        parts.append(f"<p>{len(flipped)} case(s) flipped pass → fail: {shown}{more}</p>")
    return parts


def _cases(run) -> list[str]:
    failing = failing_cases(run)
    # indexes from the light copies: only the passing cases listed are read in full
    passing = [i for i, c in enumerate(light_cases(run.cases)) if c.passed]
    parts = []
    if failing:
        parts.append(f"<h3>Failing cases ({len(failing)})</h3>")
        parts += _case_table(run, failing, with_reasons=True)
    if passing:
        shown = [run.cases[i] for i in passing[:PASSING_SHOWN]]
        more = f", {len(shown)} listed" if len(shown) < len(passing) else ""
        parts.append(f"<details><summary>Passing cases ({len(passing)}{more})</summary>")
        parts += _case_table(run, shown, with_reasons=False)
        parts.append("</details>")
    return parts


def _case_table(run, cases, with_reasons: bool) -> list[str]:
    e = html.escape
    head = "<tr><th>case</th><th>input</th><th>expected</th><th>output</th>"
    head += "<th>why it failed</th></tr>" if with_reasons else "</tr>"
    rows = [f"<div class='scroll'><table class='cases'>{head}"]
    for case in cases:
        out = case.error if case.error else shown_output(case)
        excerpt = out if len(out) <= EXCERPT else out[:EXCERPT] + f"… ({len(out)} chars)"
        cells = (f"<td class='id'>{e(case_label(run, case))}</td>"
                 f"<td><pre>{e(_json(case.inputs))}</pre></td>"
                 f"<td><pre>{e(_json(case.expected)) if case.expected is not None else '–'}</pre></td>"
                 f"<td><pre>{e(excerpt)}</pre></td>")
        if with_reasons:
            cells += f"<td>{_reasons(case)}</td>"
        rows.append(f"<tr class='{'pass' if case.passed else 'fail'}'>{cells}</tr>")
    rows.append("</table></div>")
    return rows


def _reasons(case) -> str:
    e = html.escape
    if case.error:
        return f"error: {e(case.error)}"
    failed = [(k, v) for k, v in case.scores.items() if v < 1.0]
    return "<br>".join(f"{e(k)} {v:.2f}: {e(case.reasons.get(k, ''))}" for k, v in failed) or "–"


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=None, default=str)
