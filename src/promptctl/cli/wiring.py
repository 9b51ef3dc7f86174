"""The promptctl command tree, wired in one place: every command and group is added here,
in the order `promptctl --help` lists them.

The command modules only define functions; importing them registers nothing. Each
command is wrapped in the error boundary (`common.guarded`) as it is added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import typer

from .. import __version__
from ..file_schemas import KINDS
from . import canary, deploy, doctor, drift, evals, registry, schema, sync
from .common import guarded, state
from .complete import install_bash_fix, refs
from .groups import DefaultGroup
from .helpfmt import Command, Group, summary

app = typer.Typer(
    cls=Group,
    name="promptctl",
    help="Version, evaluate and deploy LLM prompts as git-native artifacts.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    directory: Optional[Path] = typer.Option(None, "-C", metavar="DIR", help="Run as if started in DIR (like git -C)."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the stack trace on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    state().directory = directory or Path(".")
    state().traceback = traceback
    from .. import locking
    # a waiting writer names the lock's holder, a recovery says what it repaired: on stderr
    locking.reporter = lambda message: typer.echo(message, err=True)


def add(group: typer.Typer, name: str, func: Callable) -> None:
    """Add `func` to `group` as command NAME, its docstring's first sentence as its summary."""
    group.command(name, cls=Command, short_help=summary(func.__doc__))(guarded(func))


class EvalGroup(DefaultGroup):
    default_command = "run"
    # `eval NAME` is how everyone runs it: its options belong on `eval --help`
    default_options_title = "Options of `eval NAME` (eval run)"
    # `promptctl eval sup<Tab>` completes a prompt (the common case) as well as subcommands
    default_completion = refs


class CanaryGroup(DefaultGroup):
    default_command = "start"


# the prompt registry
add(app, "init", registry.init_cmd)
add(app, "new", registry.new_cmd)
add(app, "import", registry.import_cmd)
add(app, "restore", registry.restore_cmd)
add(app, "check", registry.check_cmd)
add(app, "bump", registry.bump_cmd)
add(app, "diff", registry.diff_cmd)
add(app, "show", registry.show_cmd)
add(app, "log", registry.log_cmd)
add(app, "list", registry.list_cmd)
add(app, "verify", registry.verify_cmd)
add(app, "quickstart", registry.quickstart_cmd)

# deployment
add(app, "promote", deploy.promote_cmd)
add(app, "rollback", deploy.rollback_cmd)
add(app, "status", deploy.status_cmd)
add(app, "history", deploy.history_cmd)
add(app, "bundle", deploy.bundle_cmd)

# model drift, the HTML report, carrying a clone's state out, repairs
add(app, "drift", drift.drift_cmd)
add(app, "report", drift.report_cmd)
add(app, "sync", sync.sync_cmd)
add(app, "publish", sync.publish_cmd)
add(app, "doctor", doctor.doctor_cmd)

# groups (Typer lists them after the plain commands)
eval_app = typer.Typer(
    cls=EvalGroup, no_args_is_help=True, rich_markup_mode=None,
    short_help="Run golden-dataset evals and gate on them (eval NAME, eval history, eval merge).",
    help="Run golden-dataset evals and gate on them.\n\n"
         "promptctl eval NAME[@VERSION|@working] [options] is short for `promptctl eval run ...`.")
add(eval_app, "run", evals.run_cmd)
add(eval_app, "history", evals.history_cmd)
add(eval_app, "plan", evals.plan_cmd)
add(eval_app, "merge", evals.merge_cmd)
app.add_typer(eval_app, name="eval")

canary_app = typer.Typer(cls=CanaryGroup, no_args_is_help=True,
                         help="Start, re-weight or stop a canary (and analyze/watch it).")
add(canary_app, "start", deploy.canary_cmd)
add(canary_app, "analyze", canary.analyze_command)
add(canary_app, "watch", canary.watch_command)
app.add_typer(canary_app, name="canary")

schema_app = typer.Typer(no_args_is_help=True, help="Print JSON Schemas of promptctl's files.")
for kind in KINDS:
    add(schema_app, kind, schema.printer(kind))
add(schema_app, "write", schema.write_cmd)
app.add_typer(schema_app, name="schema")

install_bash_fix()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="promptctl")
