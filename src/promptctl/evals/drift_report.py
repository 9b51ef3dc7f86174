"""Drift results as JSON, JUnit XML and Markdown: pure functions from a DriftReport to text.

JUnit reuses the eval writer (a drift run is an eval run whose baseline is its own past);
Markdown leads with one line per served version, so a job summary shows regressions first.
"""

from __future__ import annotations

import json

from . import report as eval_report

ICONS = {"provider errors": "⚠️", "regressed": "❌", "gate failed": "❌", "no baseline": "➖",
         "stable": "✅", "accepted": "🔖"}


def to_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str)


def to_junit(report) -> str:
    return eval_report.to_junit(report)


def headline(item) -> str:
    """`92.0% → 81.0% (−11.0 pts) since 2026-10-20 on gpt-4o-…`: the one-look summary."""
    run, comp = item.run, item.run.comparison
    now = f"{run.summary['score']:.1%}"
    if comp is None:
        return f"score {now} (first recorded run)"
    change = (run.summary["score"] - comp["baseline_score"]) * 100
    return (f"score {comp['baseline_score']:.1%} → {now} ({change:+.1f} pts) since "
            f"{comp['baseline_started'][:10]} on {comp['baseline_model']}")


def to_markdown(report) -> str:
    verdict = "✅ no drift" if report.passed else "❌ drift detected"
    lines = [f"## promptctl drift — {verdict}", "",
             "| prompt | served in | model | status | change |", "|---|---|---|---|---|"]
    order = sorted(report.items, key=lambda i: (not i.failed, i.served.name, i.served.version))
    for item in order:
        status = f"{ICONS[item.status]} {item.status}"
        lines.append(f"| `{item.served.name}@{item.served.version}` | "
                     f"{', '.join(item.served.where)} | `{item.run.model}` | {status} | "
                     f"{headline(item)} |")
    for item in order:
        comp = item.run.comparison
        if not item.failed:
            continue
        lines += ["", f"### `{item.served.name}@{item.served.version}` — {item.status}", ""]
        if item.newly_failing_gates:
            lines.append("Gates now failing: " + ", ".join(f"`{g}`" for g in item.newly_failing_gates))
        if comp is not None:
            label = comp.get("baseline_label") or f"run #{comp['baseline_run']}"
            lines += ["", f"Compared with {label} "
                      f"({comp['method']}, {comp['paired']} paired cases):", "",
                      "| metric | then | now | delta (95%) | p | p (Holm) | verdict |",
                      "|---|---|---|---|---|---|---|"]
            for name, m in comp["metrics"].items():
                lines.append(f"| {name} | {m['baseline']:.3f} | {m['candidate']:.3f} | "
                             f"{m['delta']:+.3f} ({m['low']:+.3f}, {m['high']:+.3f}) | "
                             f"{m['p']:.3g} ({m['test']}) | {eval_report.adjusted_p(m)} | "
                             f"{'❌ ' if m['regression'] else ''}{eval_report.verdict(m)} |")
            lines += ["", eval_report.power_line(comp)]
            if comp["flipped"]:
                lines += ["", "Flipped pass → fail: "
                          + ", ".join(f"`{c}`" for c in comp["flipped"][:20])]
    if report.skipped:
        lines.append("")
    for prompt, why in report.skipped:
        lines.append(f"- skipped `{prompt}`: {why}")
    return "\n".join(lines).rstrip() + "\n"


RENDERERS = {"json": to_json, "junit": to_junit, "markdown": to_markdown}
