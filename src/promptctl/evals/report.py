"""Eval results as JSON, JUnit XML, Markdown and a single-file HTML page.

Pure functions from result data to text; the CLI renders the terminal table with rich.
JSON and JUnit list every case, so each also comes as a generator of text chunks
(`STREAMERS`) that reads one case at a time: a 100,000-case report is written without
holding it, or its cases, in memory. HTML lists the failing cases and a folded sample of
the passing ones (html_report).
"""

from __future__ import annotations

import json
from typing import Any, Iterator
from xml.etree import ElementTree as ET

from .results import light_cases


def fmt(value: float) -> str:
    return f"{value:.3f}"


def fmt_interval(low: float | None, high: float | None, signed: bool = False) -> str:
    """`[-0.750, -0.250]`: an en dash between negative numbers reads as a minus sign."""
    if low is None or high is None:
        return ""
    spec = "+.3f" if signed else ".3f"
    return f"[{low:{spec}}, {high:{spec}}]"


def failing_cases(run, limit: int | None = None) -> list:
    """Failing cases, errors first, then by their lowest score; sorted on the light copies,
    so only the cases returned are read in full."""
    light = light_cases(run.cases)
    failing = [i for i, c in enumerate(light) if not c.passed]
    failing.sort(key=lambda i: (light[i].error is None, min(light[i].scores.values(), default=0.0),
                                light[i].id, light[i].sample))
    return [run.cases[i] for i in failing[:limit]]


def failing_count(run) -> int:
    return sum(1 for c in light_cases(run.cases) if not c.passed)


def cut_note(shown: int, total: int) -> str:
    """Said under a list that was cut, so a reader knows there is more."""
    return f"(showing {shown} of {total})" if total > shown else ""


def case_label(run, case) -> str:
    """A case's id; with --repeat, which sample (1-based) it was."""
    repeated = any(c.sample > 0 for c in light_cases(run.cases))
    return f"{case.id} (sample {case.sample + 1})" if repeated else case.id


def failure_reason(case) -> str:
    return case.error or "; ".join(f"{k}: {v}" for k, v in case.reasons.items()
                                   if case.scores.get(k, 1.0) < 1.0)


def tag_rows(run) -> list[list[str]]:
    """Per dataset tag: the tag with its case count, then each metric's mean."""
    names = [m.name for m in run.metrics]
    return [[f"{tag} ({int(values['n'])})", *(fmt(values[n]) for n in names)]
            for tag, values in run.summary.get("by_tag", {}).items()]


def metric_rows(run) -> list[dict[str, Any]]:
    """One row per metric and gate: value, interval, the gate and its verdict."""
    summary = run.summary
    gates: dict[str, list[dict]] = {}
    for gate in summary["gates"]:
        gates.setdefault(gate["metric"], []).append(gate)
    rows = []
    for name, m in summary["metrics"].items():
        rows.append({"metric": name, "value": m["mean"], "low": m["low"], "high": m["high"],
                     "gates": gates.get(name, [])})
    for name, value in summary["builtins"].items():
        if name in gates:
            rows.append({"metric": name, "value": value, "low": None, "high": None,
                         "gates": gates[name]})
    return rows


def verdict_line(run) -> str:
    s = run.summary
    failed = [g["gate"] for g in s["gates"] if not g["passed"]]
    if not s["errors_ok"]:
        failed.append(f"errors <= {run.max_errors}")
    if run.comparison is not None and run.comparison.get("regressed"):
        failed.append(f"regression vs {run.comparison['baseline_version']}")
    why = f"; failed: {', '.join(failed)}" if failed else ""
    return (f"{run.prompt}@{run.version}: {'PASSED' if run.passed else 'FAILED'} "
            f"({s['cases']} cases, {s['errors']} errors, score {s['score']:.3f}{why})")


def verdict_lines(report) -> list[str]:
    """One line per run: what a CI log needs when the report went to a file."""
    return [verdict_line(run) for run in report.runs]


def to_json(report) -> str:
    return "".join(iter_json(report))


def iter_json(report) -> Iterator[str]:
    """What json.dumps(report.to_dict(), indent=2) writes, with each run's cases streamed."""
    data = report.to_dict(cases=False)
    markers = []
    for i, run in enumerate(data["runs"]):
        markers.append(f"\x00cases {i}\x00")
        run["cases"] = markers[-1]
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    for marker, run in zip(markers, report.runs, strict=True):
        quoted = json.dumps(marker)
        head, text = text.split(quoted, 1)
        yield head
        yield from _json_list(run.cases, len(head) - head.rfind("\n") - len('"cases": ') - 1)
    yield text


def _json_list(cases, indent: int) -> Iterator[str]:
    from dataclasses import asdict

    if not len(cases):
        yield "[]"
        return
    pad = "\n" + " " * (indent + 2)
    yield "["
    for i, case in enumerate(cases):
        item = json.dumps(asdict(case), indent=2, ensure_ascii=False, default=str)
        yield ("," if i else "") + pad + item.replace("\n", pad)
    yield "\n" + " " * indent + "]"


def to_junit(report) -> str:
    """One testsuite per run; a testcase per case (failure = a failed metric or an error)
    and one per gate, so CI test reporters show both."""
    return "".join(iter_junit(report))


def iter_junit(report) -> Iterator[str]:
    """to_junit's text in chunks: a suite's counts come from the light results first, then
    its testcases are serialised one by one."""
    suites = [(_junit_suite(run), run) for run in report.runs]
    root = ET.Element("testsuites", name="promptctl eval")
    for key in ("tests", "failures", "errors"):
        # _junit_suite sets every count, so the default is never used
        root.set(key, str(sum(int(suite.get(key, "0")) for suite, _ in suites)))
    if not suites:
        yield ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
        return
    head = ET.tostring(root, encoding="unicode", xml_declaration=True)
    yield head[:-3] + ">"                  # `<testsuites ... />` opened
    for suite, run in suites:
        yield ET.tostring(suite, encoding="unicode")[:-3] + ">"
        for case in run.cases:
            yield ET.tostring(_junit_case(run, case), encoding="unicode")
        for tc in _junit_gates(run):
            yield ET.tostring(tc, encoding="unicode")
        yield "</testsuite>"
    yield "</testsuites>\n"


def _junit_suite(run) -> ET.Element:
    light = light_cases(run.cases)
    gates = _junit_gates(run)
    errors = sum(1 for c in light if c.error)
    failures = sum(1 for c in light if not c.error and not c.passed)
    failures += sum(1 for tc in gates if tc.find("failure") is not None)
    suite = ET.Element("testsuite", name=f"{run.prompt}@{run.version}", timestamp=run.started,
                       time=f"{run.duration_s:.3f}")
    suite.set("tests", str(len(light) + len(gates)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return suite


def _junit_case(run, case) -> ET.Element:
    name = case.id if case.sample == 0 else f"{case.id}#{case.sample}"
    tc = ET.Element("testcase", classname=f"{run.prompt}.cases", name=name,
                    time=f"{case.latency_ms / 1000:.3f}")
    if case.error:
        ET.SubElement(tc, "error", message=case.error[:500]).text = case.error
    elif not case.passed:
        failed = [f"{k}={v:.3f}: {case.reasons.get(k, '')}" for k, v in case.scores.items()]
        ET.SubElement(tc, "failure", message="; ".join(failed)[:500]).text = \
            f"output: {shown_output(case)[:2000]}"
    return tc


def _junit_gates(run) -> list[ET.Element]:
    out = []
    for gate in run.summary["gates"]:
        tc = ET.Element("testcase", classname=f"{run.prompt}.gates", name=gate["gate"], time="0.000")
        if not gate["passed"]:
            ET.SubElement(tc, "failure", message=f"{gate['metric']} = {fmt(gate['value'])}")
        out.append(tc)
    if not run.summary["errors_ok"]:
        tc = ET.Element("testcase", classname=f"{run.prompt}.gates",
                        name=f"errors <= {run.max_errors}", time="0.000")
        ET.SubElement(tc, "failure", message=f"{run.summary['errors']} errors")
        out.append(tc)
    if run.comparison is not None:
        tc = ET.Element("testcase", classname=f"{run.prompt}.baseline",
                        name=f"no regression vs {run.comparison['baseline_version']}", time="0.000")
        if run.comparison["regressed"]:
            ET.SubElement(tc, "failure", message=_regression_line(run.comparison))
        out.append(tc)
    return out


def adjusted_p(row: dict) -> str:
    """Holm-adjusted p (runs recorded before the correction have only the raw one)."""
    return f"{row['p_adjusted']:.3g}" if "p_adjusted" in row else "-"


def verdict(row: dict) -> str:
    return row.get("verdict") or ("regression" if row["regression"] else "no regression")


def power_line(comparison: dict) -> str:
    """What the comparison could have found: the smallest drop it detects at its size."""
    metrics = comparison.get("metrics") or {}
    cases = max((m.get("n", 0) for m in metrics.values()), default=comparison.get("paired", 0))
    where = f"{cases} cases, α {comparison['alpha']:g}, Holm over {len(metrics)} metrics"
    if "min_detectable" not in comparison:
        return where
    mde = comparison["min_detectable"]
    if mde is None:
        return f"no drop is detectable with {where}"
    # pure breaks (no case fixed) are the easiest drop to see: a noisier one needs more
    return f"smallest detectable drop: {mde:.3f} at best ({where}, 80% power)"


def _regression_line(comparison: dict) -> str:
    bad = [f"{k} {v['delta']:+.3f} (p={v['p']:.3g}, Holm {adjusted_p(v)})"
           for k, v in comparison["metrics"].items() if v["regression"]]
    return "regressed: " + ", ".join(bad)


def to_markdown(report) -> str:
    lines = []
    for run in report.runs:
        outcome = "✅ passed" if run.passed else "❌ failed"
        lines += [f"### `{run.prompt}@{run.version}` — {outcome}", "",
                  f"{run.summary['cases']} cases, {run.summary['errors']} errors, model "
                  f"`{run.model}` ({run.provider}), digest `{run.digest[:19]}`", "",
                  "| metric | value | 95% interval | gate |", "|---|---|---|---|"]
        for row in metric_rows(run):
            interval = fmt_interval(row["low"], row["high"])
            gate = ", ".join(f"{'✅' if g['passed'] else '❌'} {g['gate']}" for g in row["gates"])
            lines.append(f"| {row['metric']} | {fmt(row['value'])} | {interval} | {gate} |")
        tags = tag_rows(run)
        if tags:
            names = [m.name for m in run.metrics]
            lines += ["", "| tag | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
            lines += ["| " + " | ".join(row) + " |" for row in tags]
        if run.comparison is not None:
            comp = run.comparison
            lines += ["", f"Baseline `{comp['baseline_version']}` ({comp['paired']} paired cases):",
                      "", "| metric | baseline | candidate | delta (95%) | p | p (Holm) | verdict |",
                      "|---|---|---|---|---|---|---|"]
            for name, m in comp["metrics"].items():
                lines.append(f"| {name} | {fmt(m['baseline'])} | {fmt(m['candidate'])} | "
                             f"{m['delta']:+.3f} {fmt_interval(m['low'], m['high'], signed=True)} | "
                             f"{m['p']:.3g} | {adjusted_p(m)} | "
                             f"{'❌ ' if m['regression'] else ''}{verdict(m)} |")
            lines += ["", power_line(comp)]
            if comp["flipped"]:
                note = cut_note(min(20, len(comp["flipped"])), len(comp["flipped"]))
                lines += ["", "Flipped pass → fail: " + ", ".join(f"`{c}`" for c in comp["flipped"][:20])
                          + (f" {note}" if note else "")]
        elif run.baseline_note:
            lines += ["", f"Baseline: {run.baseline_note}"]
        total = failing_count(run)
        if total:
            note = cut_note(min(5, total), total)
            lines += ["", f"Worst cases{' ' + note if note else ''}:", ""]
            for case in failing_cases(run, 5):
                lines.append(f"- `{case_label(run, case)}`: {_one_line(failure_reason(case))}")
        lines.append("")
    for prompt, why in report.skipped:
        lines.append(f"- skipped `{prompt}`: {why}")
    return "\n".join(lines).rstrip() + "\n"


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def to_html(report) -> str:
    """A self-contained page, summary first (see html_report)."""
    from .html_report import to_html as render
    return render(report)


def shown_output(case: Any) -> str:
    """A case's answer as people read it: the text, then one line per tool call."""
    calls = [f"-> {c.get('name')}({json.dumps(c.get('arguments'), ensure_ascii=False)})"
             for c in getattr(case, "tool_calls", None) or []]
    return "\n".join([case.output or "", *calls] if case.output else calls)


RENDERERS = {"json": to_json, "junit": to_junit, "markdown": to_markdown, "html": to_html}
STREAMERS = {"json": iter_json, "junit": iter_junit}
