"""The promptctl command line: parse arguments, call a service, render the result.

This package is the only error boundary: known errors become one line on stderr and
the exit code of their class; `--traceback` shows the stack instead.
Command modules import services and rich inside their functions so start-up stays fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from .. import __version__
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


@dataclass
class State:
    directory: Path = Path(".")
    traceback: bool = False


_state = State()


def state() -> State:
    return _state


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
    _state.directory = directory or Path(".")
    _state.traceback = traceback
    from .. import locking
    # a waiting writer names the lock's holder, a recovery says what it repaired: on stderr
    locking.reporter = lambda message: typer.echo(message, err=True)


def command(group: typer.Typer = app, *args, **kwargs):
    """Register a command whose PromptctlErrors become one line on stderr and their exit code."""
    def wrap(func):
        @functools.wraps(func)
        def run(*a, **kw):
            from ..errors import PromptctlError
            try:
                return func(*a, **kw)
            except PromptctlError as exc:
                if _state.traceback:
                    raise
                typer.echo(f"error: {exc.one_line()}", err=True)
                raise typer.Exit(exc.exit_code) from None
            except OSError as exc:   # a path the user gave cannot be read or written
                if _state.traceback or exc.filename is None:
                    raise
                typer.echo(f"error: {exc.filename}: {exc.strerror or exc} "
                           "(check the path and its permissions)", err=True)
                raise typer.Exit(2) from None
        kwargs.setdefault("cls", Command)
        kwargs.setdefault("short_help", summary(func.__doc__))
        return group.command(*args, **kwargs)(run)
    return wrap


def check_output(output: Optional[Path]) -> None:
    """Refuse an --output that cannot be a file before any work (or history) is done."""
    from ..errors import UsageError
    if output is not None and output.is_dir():
        raise UsageError(f"{str(output)!r} is a folder", field="--output",
                         fix="give a file name, e.g. report.html")


def console(stderr: bool = False, width: int | None = None):
    """A rich console for human output; NO_COLOR (no-color.org) turns off every ANSI style.

    rich alone drops only colours under NO_COLOR and keeps bold; users who set it want
    plain text (screen readers, logs), so styling is off entirely.
    """
    import os

    from rich.console import Console
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width,
                   color_system=None if plain else "auto")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="promptctl")


def _register() -> None:
    # Command modules register on `app` when imported; they import nothing heavy at top level.
    # The order here is the order of `promptctl --help`.
    from . import registry, evals, deploy, canary, drift, sync, schema, doctor  # noqa: F401
    from .complete import install_bash_fix
    install_bash_fix()


_register()
