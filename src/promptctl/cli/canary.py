"""`promptctl canary analyze` and `promptctl canary watch`: the controller's commands.

They sit beside `canary start` (in `cli.deploy`) in the `canary` group, whose unknown
first word falls through to `start`: `promptctl canary NAME VERSION --weight W`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from .common import state
from .complete import environments, prompt_names


def _fmt(value: float | None, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "error_rate":
        return f"{value * 100:.2f}%"
    if kind == "latency":
        return f"{value:.0f} ms"
    return f"{value:.3g}"


def _interval(metric, kind: str) -> str:
    iv = metric.difference
    if iv is None:
        return "-"
    if not math.isfinite(iv.low) or not math.isfinite(iv.high):
        return "(not enough data)"
    if kind == "error_rate":
        return f"{iv.estimate * 100:+.2f} pts [{iv.low * 100:+.2f}, {iv.high * 100:+.2f}]"
    if kind == "latency":
        return f"{iv.estimate * 100:+.1f}% [{iv.low * 100:+.1f}%, {iv.high * 100:+.1f}%]"
    return f"{iv.estimate:+.3g} [{iv.low:+.3g}, {iv.high:+.3g}]"


def _verdict(metric) -> str:
    """The verdict, with its reason when it is not a plain pass or fail."""
    text = metric.verdict.value
    if metric.verdict.value in ("no_data", "inconclusive") and metric.reason:
        text += f": {metric.reason}"
    return text


def _srm_line(srm) -> str | None:
    if srm is None or srm.verdict == "off":
        return None
    label = "MISMATCH" if srm.mismatch else srm.verdict
    return f"sample ratio (srm): {label}: {srm.reason}"


def render(analysis) -> str:
    """The analysis as text: one line per metric, the sample-ratio check, then the decision
    and why."""
    from ..canary.decide import format_duration

    t, d = analysis.target, analysis.decision
    kinds = {m.name: m.kind.value for m in analysis.policy.metrics}
    where = t.env + (f"/{t.segment}" if t.segment else "")
    lines = [f"{t.name} in {where}: stable {t.stable} vs canary {t.version} at {t.weight:g}% "
             f"({d.stable_calls} / {d.canary_calls} calls, {format_duration(d.elapsed)} "
             "in this step)"]
    if analysis.error:
        lines.append(f"metric source: {analysis.error}")
    rows = [("metric", "stable", "canary", "canary - stable [always-valid interval]", "verdict")]
    for m in d.metrics:
        kind = kinds.get(m.name, "score")
        flag = " (critical)" if m.critical else " (observe only)" if m.observe else ""
        rows.append((m.name + flag, _fmt(m.stable, kind), _fmt(m.canary, kind),
                     _interval(m, kind), _verdict(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    srm = _srm_line(d.srm)
    if srm:
        lines.append(srm)
    target = f" to {d.weight:g}%" if d.action.value in ("advance", "promote") else ""
    lines.append(f"decision: {d.action.value}{target}")
    lines += [f"  - {reason}" for reason in d.reasons]
    return "\n".join(lines)


def as_json(analysis) -> dict:
    from ..services.canary_notify import event
    return {**event(analysis), "error": analysis.error,
            "step_started": analysis.step_started}


def analyze_command(
    name: str = typer.Argument(..., help="Prompt name.", autocompletion=prompt_names),
    env: str = typer.Option(..., "--env", "-e", help="Environment, e.g. production.",
                          autocompletion=environments),
    segment: Optional[str] = typer.Option(None, "--segment", "-s", help="A segment of the env."),
    apply: bool = typer.Option(False, "--apply", help="Carry the decision out (commits release.yaml)."),
    webhook: Optional[str] = typer.Option(None, "--webhook", metavar="URL", help="POST a JSON event on a change."),
    call_log: Optional[Path] = typer.Option(None, "--call-log", help="Call log file to read."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    exit_code: bool = typer.Option(False, "--exit-code",
                                   help="Exit 1 on a rollback decision (0 otherwise)."),
) -> None:
    """Compare a running canary with stable and decide: advance, promote, hold or roll back.
    Exit 3 when the metric source could not be read."""
    from ..services import canary as svc
    from ..services.project import open_project
    project = open_project(state().directory)
    analysis = svc.analyze(project, name, env, segment, call_log=call_log)
    typer.echo(json.dumps(as_json(analysis), indent=2) if json_out else render(analysis))
    if apply:
        from ..errors import PublishError, WebhookError
        try:
            change = svc.apply(project, analysis, webhook=webhook)
        except (WebhookError, PublishError) as exc:   # failed after the commit: report both
            change = exc.change
            if change is not None and not json_out:
                typer.echo(f"applied: {change.summary()}")
            raise
        if change is not None and not json_out:
            typer.echo(f"applied: {change.summary()}")
    if analysis.observations is None:   # the source is down: no verdict on the canary
        raise typer.Exit(3)
    if exit_code and analysis.decision.action.value == "rollback":
        raise typer.Exit(1)


def watch_command(
    env: Optional[str] = typer.Option(None, "--env", "-e", help="Only this environment.",
                                     autocompletion=environments),
    interval: str = typer.Option("60s", "--interval", help="Time between looks, e.g. 60s, 5m."),
    webhook: Optional[str] = typer.Option(None, "--webhook", metavar="URL", help="POST a JSON event on a change."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Analyze only; change nothing."),
    call_log: Optional[Path] = typer.Option(None, "--call-log", help="Call log file to read."),
    once: bool = typer.Option(False, "--once", help="Make one pass and exit (for cron and CI "
                              "schedules); exit 3 if a publish failed."),
    iterations: Optional[int] = typer.Option(None, "--iterations", hidden=True),
) -> None:
    """Analyze every running canary every INTERVAL and apply the decisions, until stopped."""
    from ..canary.decide import parse_duration
    from ..services.canary_watch import watch_events
    seconds = parse_duration(interval, "--interval")
    if seconds <= 0:   # a zero interval would spin a CPU re-reading the log
        from ..errors import UsageError
        raise UsageError(f"{interval!r} must be longer than 0", field="--interval",
                         fix="for example 30s or 5m")
    from ..services.project import open_project
    project = open_project(state().directory)
    try:
        for event in watch_events(project, env=env, interval=seconds,
                                  apply_decisions=not dry_run, webhook=webhook,
                                  call_log=call_log, iterations=1 if once else iterations):
            typer.echo(watch_line(event, interval))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def watch_line(event, interval: str) -> str:
    """One event of `canary watch` as text: every look is stamped, so a log shows it is alive."""
    from datetime import datetime, timezone
    stamp = datetime.fromtimestamp(event.time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if event.kind == "idle":
        return f"{stamp} idle: no running canary (next look in {interval})"
    if event.kind == "look":
        return f"{stamp} look: {event.count} running canar{'y' if event.count == 1 else 'ies'}"
    if event.kind == "analysis":
        return render(event.analysis) + "\n"
    if event.kind == "applied":
        return f"{stamp} applied: {event.change.summary()}"
    if event.error:
        return f"{stamp} publish {event.env} failed again: {event.error}"
    return f"{stamp} published {event.env} (retried)"
