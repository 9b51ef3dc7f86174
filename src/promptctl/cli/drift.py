"""`promptctl drift` (model drift of served versions) and `promptctl report` (the HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import check_output, fitted_console, state
from .reports import print_comparison, progress

DRIFT_FORMATS = ("table", "json", "junit", "markdown")


def drift_cmd(
    env: Optional[str] = typer.Option(None, "--env", help="Only this environment (default: all)."),
    model: Optional[str] = typer.Option(None, "--model", help="Run on this model instead of the pinned one."),
    provider: Optional[str] = typer.Option(None, "--provider", help="Provider instead of the suite's or prompt's."),
    since: Optional[str] = typer.Option(None, "--since", help="Compare only with runs recorded since DATE."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Calls in flight at once."),
    fmt: str = typer.Option("table", "--format", help="table, json, junit or markdown."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json (like every read command)."),
    accept: bool = typer.Option(False, "--accept", help="Make today's runs the accepted baselines."),
) -> None:
    """Re-run the suites of every served version on the live model (never the cache) and
    compare with its accepted baseline; exit 1 on a significant regression or failed gate,
    3 when the provider failed."""
    from ..errors import UsageError
    from ..services.drift import DriftOptions, drift

    if as_json:
        if fmt not in ("table", "json"):
            raise UsageError(f"--json and --format {fmt} disagree", field="--json",
                             fix="pass one of them")
        fmt = "json"
    fmt = _check_format(fmt, output)
    if concurrency is not None and concurrency < 1:
        raise UsageError("--concurrency must be at least 1", field="--concurrency")
    options = DriftOptions(env=env, model=model, provider=provider, since=since,
                           concurrency=concurrency, accept=accept)
    with progress() as on_progress:
        options.on_progress = on_progress
        report = drift(state().directory, options)
    _emit(report, fmt, output)


def _check_format(fmt: str, output: Optional[Path]) -> str:
    from .output import check_format
    return check_format(fmt, output, DRIFT_FORMATS)


def _emit(report, fmt: str, output: Optional[Path]) -> None:
    from ..evals import drift_report as render
    from .output import emit

    emit(render, report, fmt, output, _print_table)
    if not report.items:
        typer.echo("no served version has a suite" if report.skipped else
                   "the manifest serves nothing yet (promote a version first)", err=True)
    if not report.passed:
        failed = [item for item in report.items if item.failed]
        for item in failed:
            if item.outage:
                s = item.run.summary
                typer.echo(f"{item.served.name}@{item.served.version}: the provider failed on "
                           f"{s['provider_errors']} of {s['cases']} calls: no verdict on the "
                           "prompt (retry later)", err=True)
        raise typer.Exit(3 if all(item.outage for item in failed) else 1)


def _print_table(report) -> None:
    from rich.table import Table

    from ..evals.drift_report import headline

    console = fitted_console()
    if not report.items:
        for prompt, why in report.skipped:
            console.print(f"skipped {prompt}: {why}", markup=False)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("prompt", "served in", "model", "status", "change"):
        table.add_column(col)
    colours = {"provider errors": "red", "regressed": "red", "gate failed": "red",
               "no baseline": "yellow", "stable": "green", "accepted": "cyan"}
    for item in sorted(report.items, key=lambda i: (not i.failed, i.served.name)):
        status = f"[{colours[item.status]}]{item.status}[/]"
        table.add_row(f"{item.served.name}@{item.served.version}", ", ".join(item.served.where),
                      item.run.model, status, headline(item))
    console.print(table)
    for item in report.items:
        if item.failed:
            console.print(f"\n[bold]{item.served.name}@{item.served.version}[/]: {item.status}")
            if item.newly_failing_gates:
                console.print("gates now failing: " + ", ".join(item.newly_failing_gates),
                              markup=False)
            comp = item.run.comparison
            if comp is not None:
                how = f"{comp['paired']} paired cases" if comp["method"] == "paired" else "unpaired"
                label = comp.get("baseline_label") or f"run #{comp['baseline_run']}"
                print_comparison(console, comp, f"vs {label} of "
                                  f"{comp['baseline_started'][:16]} on {comp['baseline_model']} ({how}):")
    for prompt, why in report.skipped:
        console.print(f"skipped {prompt}: {why}", markup=False)
    console.print("[green]NO DRIFT[/]" if report.passed else "[red]DRIFT[/]")


def report_cmd(
    env: Optional[str] = typer.Option(None, "--env", help="Only this environment (default: all)."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
) -> None:
    """Write one self-contained HTML page: what runs where, eval score history, gates,
    the latest diff, and canary call metrics when a call log is present."""
    from ..services.report_page import report_page

    check_output(output)
    context = report_page(state().directory, output, env)
    typer.echo(f"wrote {output} ({len(context['prompts'])} prompts, "
               f"{len(context['envs'])} environments)", err=True)
