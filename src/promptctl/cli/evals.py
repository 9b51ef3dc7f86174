"""The commands of `promptctl eval`: run (its default), history, plan and merge."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import fitted_console, state
from .complete import prompt_names, refs
from .reports import print_comparison, progress

FORMATS = ("table", "json", "junit", "markdown", "html")


def run_cmd(
    target: Optional[str] = typer.Argument(None, metavar="NAME[@VERSION]",
                                           help="Prompt to evaluate; @working (default) or a version.",
                                           autocompletion=refs),
    suite: Optional[str] = typer.Option(None, "--suite", metavar="FILE", help="Suite file (default evals/NAME/suite.yaml)."),
    model: Optional[str] = typer.Option(None, "--model", metavar="MODEL", help="Model name instead of the suite's or prompt's."),
    provider: Optional[str] = typer.Option(None, "--provider", metavar="PROVIDER", help="Provider: openai, anthropic, echo, python:mod:fn."),
    repeat: Optional[int] = typer.Option(None, "--repeat", metavar="N", help="Run each case N times."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", metavar="N", help="Calls in flight at once."),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="VERSION|ENV", help="Compare with a VERSION or the version active in ENV."),
    changed_since: Optional[str] = typer.Option(None, "--changed-since", metavar="REF", help="Only prompts changed since REF."),
    all_: bool = typer.Option(False, "--all", help="Every prompt that has a suite."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Run shard I/N of the cases (merge with `eval merge`)."),
    fmt: str = typer.Option("table", "--format", metavar="FORMAT",
                            help="table, json, junit, markdown or html."),
    output: Optional[List[Path]] = typer.Option(
        None, "--output", "-o", help="Write the report to FILE (repeatable: -o r.json -o r.html)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ignore and do not fill the response cache."),
) -> None:
    """Evaluate a prompt's suite; exit 0 when every gate passes, 1 when not, 2 on bad input."""
    from ..services.evaluate import EvalOptions, evaluate
    from ..services.project import open_project

    plan = _plan(fmt, output)
    if repeat is not None and repeat < 1:
        from ..errors import UsageError
        raise UsageError("--repeat must be at least 1", field="--repeat")
    if concurrency is not None and concurrency < 1:
        from ..errors import UsageError
        raise UsageError("--concurrency must be at least 1", field="--concurrency")
    if suite is not None:   # a path typed in a shell is relative to where it was typed
        suite = str((state().directory / suite).resolve())
    options = EvalOptions(suite=suite, model=model, provider=provider, repeat=repeat,
                          concurrency=concurrency, baseline=baseline, changed_since=changed_since,
                          all=all_, shard=shard, no_cache=no_cache)
    project = open_project(state().directory)
    with progress() as on_progress:
        options.on_progress = on_progress
        report = evaluate(project, target, options)
    _emit(report, plan)


def history_cmd(
    name: Optional[str] = typer.Argument(None, help="Prompt name (default: every prompt).",
                                         autocompletion=prompt_names),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", metavar="N",
                                        help="How many runs to show (default 20; 60 with --chart)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    chart: bool = typer.Option(False, "--chart", help="Chart each metric over time, by version and model."),
) -> None:
    """List recorded eval runs, newest first; --chart shows scores over time."""
    from ..services.eval_history import history
    from ..services.project import open_project

    if limit is not None and limit < 1:
        from ..errors import UsageError
        raise UsageError("--limit must be at least 1", field="--limit")
    rows = history(open_project(state().directory), name, limit or (60 if chart else 20))
    if chart:
        _print_chart(rows, name, as_json)
        return
    if as_json:
        import json
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo("no recorded runs" + (f" for {name}" if name else ""))
        return
    from .tables import fitted_table
    table_rows = []
    for r in rows:
        result = "pass" if r.passed else "FAIL"
        if r.baseline:
            result += f" (vs {r.baseline}{', regressed' if r.regressed else ''})"
        if r.shard:
            result += f" [shard {r.shard}]"
        table_rows.append([r.started, r.prompt, r.version, r.digest.removeprefix("sha256:")[:12],
                           r.model, str(r.cases), str(r.errors), f"{r.score:.3f}", result, r.source])
    headers = ("when", "prompt", "version", "digest", "model", "cases", "errors", "score", "result",
               "source")
    fitted_console().print(fitted_table(headers, table_rows, numeric=(3, 5, 6, 7)))


def _print_chart(rows, name: Optional[str], as_json: bool) -> None:
    from ..evals.trend import trends

    found = trends(rows)
    if as_json:
        import json
        typer.echo(json.dumps([t.to_dict() for t in found.values()], indent=2))
        return
    if not found:
        typer.echo("no recorded runs" + (f" for {name}" if name else ""))
        return
    console = fitted_console()
    for trend in found.values():
        _chart_one(console, trend)


def _chart_one(console, trend) -> None:
    from rich.table import Table

    from ..evals.trend import first_last, sparkline

    points = trend.points
    console.print(f"[bold]{trend.prompt}[/] · {len(points)} runs · "
                  f"{points[0].started[:10]} → {points[-1].started[:10]}")
    table = Table(box=None, pad_edge=False)
    for col in ("", "oldest → newest", "first", "last", "change"):
        table.add_column(col)
    for metric, values in trend.series.items():
        first, last = first_last(values)
        change, style = "", ""
        if first is not None and last is not None:     # both, or neither when no run scored
            change = f"{(last - first) * 100:+.1f} pts"
            style = "red" if last < first - 0.02 else ""
        line = f"[{style}]{sparkline(values)}[/]" if style else sparkline(values)
        table.add_row(metric, line, _pct(first), _pct(last), change)
    for label, attribute in (("version", "version"), ("model", "model")):
        codes, legend = trend.codes(attribute)
        table.add_row(label, codes, "", "", "  ".join(f"{c}={v}" for c, v in legend.items()))
    table.add_row("result", "".join("·" if p.passed else "x" for p in points), "", "", "x = failed")
    console.print(table)
    # The latest runs as bars: the score's level is readable without a legend.
    bars = Table(box=None, pad_edge=False, show_header=False)
    scores = trend.series["score"]
    for point, score in list(zip(points, scores, strict=False))[-8:]:
        width = round((score or 0.0) * 30)
        bars.add_row(point.started[:16].replace("T", " "), point.version, point.model,
                     "█" * width + "·" * (30 - width), _pct(score))
    console.print(bars)
    console.print()


def _pct(value) -> str:
    return "" if value is None else f"{value:.1%}"


def plan_cmd(
    name: str = typer.Argument(..., help="Prompt whose suite to size.", autocompletion=prompt_names),
    detect: Optional[float] = typer.Option(None, "--detect",
                                           help="The drop to detect, e.g. 0.05 for five points."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """How small a drop the suite can detect, and how many cases a drop of --detect needs."""
    from ..services.eval_plan import check_detect, describe, plan
    from ..services.project import open_project

    check_detect(detect)
    result = plan(open_project(state().directory), name, detect)
    if as_json:
        import json
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo("\n".join(describe(result)))


def merge_cmd(
    files: List[Path] = typer.Argument(..., help="JSON results of `eval --shard I/N --format json`."),
    fmt: str = typer.Option("table", "--format", metavar="FORMAT",
                            help="table, json, junit, markdown or html."),
    output: Optional[List[Path]] = typer.Option(
        None, "--output", "-o", help="Write the report to FILE (repeatable)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the merged run in history."),
) -> None:
    """Merge shard results into whole runs, re-check the gates, and record them."""
    from ..services.eval_shards import join_shards, record_merged
    from ..services.project import open_project

    plan = _plan(fmt, output)
    report = join_shards(files)
    if not no_record and report.runs:   # only recording needs the repo
        record_merged(open_project(state().directory), report)
    _emit(report, plan)


def _plan(fmt: str, outputs: Optional[List[Path]]):
    from .output import plan_outputs
    return plan_outputs(fmt, list(outputs or []), FORMATS)


def _emit(report, plan) -> None:
    from ..evals import report as render
    from .output import emit_all

    emit_all(render, report, plan, _print_table)
    if not report.runs:
        typer.echo("nothing to evaluate" + "".join(f"\n  {p}: {why}" for p, why in report.skipped),
                   err=True)
    if not report.passed:
        raise typer.Exit(failure_code([r for r in report.runs if not r.passed]))


def failure_code(failed_runs) -> int:
    """3 when every failing run failed because the provider did (an outage says nothing
    about the prompt: retry later), else 1."""
    outages = [r for r in failed_runs if r.summary.get("outage")]
    for run in outages:
        s = run.summary
        typer.echo(f"{run.prompt}@{run.version}: the provider failed on {s['provider_errors']} "
                   f"of {s['cases']} calls (max_errors {run.max_errors}): no quality verdict",
                   err=True)
    return 3 if failed_runs and len(outages) == len(failed_runs) else 1


def _print_table(report) -> None:
    from ..evals.report import fmt as f
    from ..evals.report import fmt_interval, metric_rows
    from .tables import fitted_table

    console = fitted_console()
    for run in report.runs:
        s = run.summary
        cached = f", {s['cached']} cached" if s["cached"] else ""
        console.print(f"[bold]{run.prompt}@{run.version}[/] · {run.provider}/{run.model} · "
                      f"{s['cases']} cases, {s['errors']} errors{cached} · {run.duration_s:.2f}s",
                      soft_wrap=False)
        rows = []
        for row in metric_rows(run):
            for gate in row["gates"] or [None]:
                mark = "" if gate is None else ("[green]pass[/]" if gate["passed"] else "[red]FAIL[/]")
                rows.append([row["metric"], f(row["value"]), fmt_interval(row["low"], row["high"]),
                             gate["gate"] if gate else "", mark])
        if not s["errors_ok"]:
            rows.append(["errors", str(s["errors"]), "", f"<= {run.max_errors}", "[red]FAIL[/]"])
        console.print(fitted_table(("metric", "value", "95% interval", "gate", ""), rows,
                                   numeric=(1, 2, 4)))
        _print_tags(console, run)
        if run.comparison is not None:
            print_comparison(console, run.comparison)
        elif run.baseline_note:
            console.print(f"baseline: {run.baseline_note}", markup=False, soft_wrap=False)
        _print_worst(console, run)
        verdict = "[green]PASSED[/]" if run.passed else "[red]FAILED[/]"
        console.print(f"{verdict}\n")
    for prompt, why in report.skipped:
        console.print(f"skipped {prompt}: {why}", markup=False)


def _print_worst(console, run, limit: int = 5) -> None:
    from ..evals.report import case_label, cut_note, failing_cases, failing_count, failure_reason

    total = failing_count(run)
    if not total:
        return
    note = cut_note(min(limit, total), total)
    console.print(f"worst cases{' ' + note if note else ''}:", markup=False)
    for case in failing_cases(run, limit):
        why = " ".join(str(failure_reason(case)).split())
        console.print(f"  {case_label(run, case)}: {why[:150]}", markup=False, soft_wrap=False)


def _print_tags(console, run) -> None:
    from ..evals.report import tag_rows
    from .tables import fitted_table
    rows = tag_rows(run)
    if not rows:
        return
    metrics = [m.name for m in run.metrics]
    console.print(fitted_table(("by tag", *metrics), rows, numeric=range(1, len(metrics) + 1)))
