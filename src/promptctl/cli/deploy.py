"""Commands of deployment: promote, canary (start), rollback, status, history, bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .common import state
from .complete import environments, prompt_names, versions


_ENV = typer.Option(..., "--env", "-e", metavar="ENV", help="Environment, e.g. production.",
                    autocompletion=environments)
_SEGMENT = typer.Option(None, "--segment", "-s", metavar="SEGMENT", help="A segment of the environment.")
_WHY = typer.Option("", "-m", "--message", metavar="WHY", help="Why: lands in the commit and in `history`.")
_EVAL = typer.Option(None, "--require-eval/--no-require-eval",
                     help="Refuse unless the version passed its eval gate (default: promptctl.yaml).")


def _project():
    from ..services.project import open_project
    return open_project(state().directory)


def _done(change) -> None:
    previous = f" (was {change.previous})" if change.previous else ""
    typer.echo(f"{change.summary()}{previous}")


def _deploy(call) -> None:
    """Run a manifest write; a failed publish after its commit still reports the commit."""
    from ..errors import PublishError
    try:
        change = call()
    except PublishError as exc:
        if exc.change is not None:
            _done(exc.change)
        raise
    _done(change)


def promote_cmd(name: str = typer.Argument(..., help="Prompt name.", autocompletion=prompt_names),
                version: str = typer.Argument(..., help="Released version, e.g. 2.1.0.",
                                             autocompletion=versions),
                env: str = _ENV, segment: Optional[str] = _SEGMENT, why: str = _WHY,
                require_eval: Optional[bool] = _EVAL,
                create_env: bool = typer.Option(False, "--create-env",
                                                help="Allow an environment not declared yet.")) -> None:
    """Make a released version the active one in an environment (clears its canary)."""
    from ..services import deploy
    _deploy(lambda: deploy.promote(_project(), name, version, env, segment=segment, why=why,
                                   require_eval=require_eval, create_env=create_env))


def canary_cmd(name: str = typer.Argument(..., help="Prompt name.", autocompletion=prompt_names),
               version: str = typer.Argument(..., help="Released version to try.",
                                            autocompletion=versions),
               env: str = _ENV,
               weight: float = typer.Option(..., "--weight", "-w",
                                            help="Percent of traffic, 0 < PCT <= 100; 0 stops it."),
               segment: Optional[str] = _SEGMENT, why: str = _WHY,
               require_eval: Optional[bool] = _EVAL,
               restart: bool = typer.Option(False, "--restart",
                                            help="Start a new measurement window for a running canary.")) -> None:
    """Start or re-weight a canary; --weight 0 stops it and keeps the record."""
    from ..services import deploy
    _deploy(lambda: deploy.canary(_project(), name, version, env, weight, segment=segment,
                                  why=why, require_eval=require_eval, restart=restart))


def rollback_cmd(name: str = typer.Argument(..., help="Prompt name.", autocompletion=prompt_names),
                 env: str = _ENV, segment: Optional[str] = _SEGMENT,
                 to: Optional[str] = typer.Option(None, "--to", help="Released version to restore."),
                 why: str = _WHY) -> None:
    """Stop a running canary; else restore the previous active version (or --to VERSION)."""
    from ..services import deploy
    _deploy(lambda: deploy.rollback(_project(), name, env, segment=segment, to=to, why=why))


def status_cmd(env: Optional[str] = typer.Option(None, "--env", "-e", help="Only this environment.",
                                                autocompletion=environments),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """What runs where: active, canary and weight, since when, model pin."""
    from ..services.deploy_status import status
    rows = status(_project(), env)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo("nothing deployed yet")
        return
    table = []
    for r in rows:
        canary = f"{r.canary} @ {r.weight:g}%" if r.canary and r.weight else (
            f"{r.canary} (stopped)" if r.canary else "-")
        table.append((r.env, r.name, r.segment or "-", r.active,
                      (r.since or "-")[:16].replace("T", " "), canary, r.model or "-"))
    headers = ("env", "prompt", "segment", "active", "since", "canary", "model")
    # a column that says "-" on every row (no segments, no model pins) only costs width
    keep = [i for i in range(len(headers)) if i in (0, 1, 3) or any(row[i] != "-" for row in table)]
    _print_table(tuple(headers[i] for i in keep), [tuple(row[i] for i in keep) for row in table],
                 numeric=[n for n, i in enumerate(keep) if i in (3, 4)])


def _print_table(headers: tuple, rows: list[tuple], numeric=()) -> None:
    import sys

    if not sys.stdout.isatty():
        # Piped: plain aligned columns, never truncated, easy to grep, and fast at thousands
        # of rows (rich's layout took seconds at 5,000 prompts); --json is there for machines.
        table = [headers, *rows]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
        typer.echo("\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
                             for row in table))
        return
    # On a terminal: folded, never cut: a long model name moves to the next line of its column.
    from rich.markup import escape

    from .common import console
    from .tables import fitted_table, width_for
    cells = [[escape(str(c)) for c in row] for row in rows]
    console(width=width_for(sys.stdout)).print(fitted_table(headers, cells, numeric=numeric))


def history_cmd(name: str = typer.Argument(..., help="Prompt name.", autocompletion=prompt_names), env: str = _ENV,
                segment: Optional[str] = _SEGMENT,
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every change of a prompt's entry in an env: version, who, when, why (newest first)."""
    from ..services.deploy_status import history
    rows = history(_project(), name, env, segment)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo(f"no history for {name} in {env}" + (f"/{segment}" if segment else ""))
        return
    table = [(r.date[:16].replace("T", " "), r.commit[:7], r.action, r.active or "-",
              f"{r.canary} @ {r.weight:g}%" if r.canary else "-", r.author, r.why or "")
             for r in rows]
    _print_table(("when", "commit", "action", "active", "canary", "by", "why"), table,
                 numeric=(0, 1, 2, 3, 4))


def bundle_cmd(env: Optional[str] = typer.Option(None, "--env", "-e", autocompletion=environments,
                                               help="Environment, e.g. production (not needed with --verify)."),
               output: Path = typer.Option(Path("release.lock.json"), "-o", "--output",
                                           help="Where to write the bundle."),
               verify: bool = typer.Option(False, "--verify",
                                           help="Check an existing bundle against the tags instead.")) -> None:
    """Write every version ENV references, with content and digests, for git-less apps."""
    from ..services import bundle
    project = _project()
    target = state().directory / output     # relative to -C DIR, as git -C does
    if verify:
        bundle.check_bundle(project, target)
        typer.echo(f"{target}: ok")
        return
    if env is None:
        from ..errors import UsageError
        raise UsageError("missing option", field="--env", fix="name the environment to bundle, e.g. --env production")
    data = bundle.bundle(project, env, target)
    typer.echo(f"wrote {target} ({len(data['versions'])} versions, manifest {data['manifest_commit'][:8]})")

