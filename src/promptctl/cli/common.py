"""What every command shares: the global options' state, the error boundary, consoles.

Nothing heavy at import time: rich and the services load inside the functions that use them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer


@dataclass
class State:
    directory: Path = Path(".")
    traceback: bool = False


_state = State()


def state() -> State:
    return _state


def guarded(func):
    """`func` with its PromptctlErrors turned into one line on stderr and their exit code."""
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
    return run


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


def fitted_console(stderr: bool = False):
    """A console fitted to where it writes: the terminal's width, or the fixed pipe width."""
    import sys

    from .tables import width_for
    return console(stderr, width_for(sys.stderr if stderr else sys.stdout))
