"""`promptctl doctor`: show and repair what an interrupted write or a crash left behind."""

from __future__ import annotations

import json

import typer

from .common import state


def doctor_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what is wrong; repair nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Finish or undo interrupted writes: staged release.yaml, untagged release commits, stale locks."""
    from ..services.project import open_project
    from ..services.recovery import doctor
    findings = doctor(open_project(state().directory), repair=not dry_run)
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for f in findings:
            fix = f" ({f.fix})" if f.fix else ""
            typer.echo(f"{f.level}: {f.message}{fix}", err=f.level == "problem")
        problems = sum(f.level == "problem" for f in findings)
        repaired = sum(f.level == "repaired" for f in findings)
        typer.echo("doctor: nothing to repair" if not problems and not repaired else
                   f"doctor: {repaired} repaired, {problems} left")
    if any(f.level == "problem" for f in findings):
        raise typer.Exit(1)
