"""`promptctl sync` and `promptctl publish`: the commands that carry a clone's state out."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .common import state
from .complete import environments


def _project():
    from ..services.project import open_project
    return open_project(state().directory)


def sync_cmd(remote: Optional[str] = typer.Argument(None, help="Remote (default: the branch's, else origin)."),
             push: bool = typer.Option(False, "--push", help="Also push local release tags, "
                                       "eval notes and manifest commits."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Fetch release tags, eval attestations and the manifest branch (fast-forward only)."""
    from ..services.sync import sync
    report = sync(_project(), remote, push=push)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    tags = report.fetched_tags
    shown = ", ".join(tags[:5]) + (f" (+{len(tags) - 5} more)" if len(tags) > 5 else "")
    typer.echo(f"tags: {len(tags)} new from {report.remote}" + (f": {shown}" if tags else ""))
    if report.unshallowed:
        typer.echo("history: fetched in full (the clone was shallow)")
    typer.echo(f"notes: {report.notes}")
    typer.echo(f"manifest ({report.branch or 'detached HEAD'}): {report.manifest}")
    if push:
        typer.echo(f"pushed: {', '.join(report.pushed) if report.pushed else 'nothing new'}")


def publish_cmd(env: str = typer.Option(..., "--env", "-e", help="Environment, e.g. production.",
                                        autocompletion=environments),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Write ENV's bundle from the committed manifest and run its `publish:` targets."""
    from ..services.publish import publish
    report = publish(_project(), env)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    typer.echo(f"published {env} (manifest {report.manifest_commit[:8]}): "
               f"{'; '.join(report.done)}")
