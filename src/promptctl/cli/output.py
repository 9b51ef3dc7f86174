"""Writing a run's report where the user asked: the job summary, the terminal or a file."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import typer


def emit(render: ModuleType, report: Any, fmt: str, output: Optional[Path],
         print_table: Callable[[Any], None]) -> None:
    """Append Markdown to GITHUB_STEP_SUMMARY when set; then a table, or `fmt` to stdout/file.

    `render` is a report module with `to_markdown` and a `RENDERERS` map of format → function.
    """
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(render.to_markdown(report) + "\n")
    if fmt == "table":
        print_table(report)
        return
    # A writer that streams (every case of a big run) is written chunk by chunk.
    stream = getattr(render, "STREAMERS", {}).get(fmt)
    chunks = stream(report) if stream else [render.RENDERERS[fmt](report)]
    if output is None:
        for chunk in chunks:
            typer.echo(chunk, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        fh.writelines(chunks)
    typer.echo(f"wrote {output}", err=True)


_SUFFIXES = {".json": "json", ".xml": "junit", ".md": "markdown", ".html": "html", ".htm": "html"}


def check_format(fmt: str, output: Optional[Path], formats: tuple[str, ...]) -> str:
    """The format to write: `fmt`, or with the default table and a file, the file's suffix."""
    from ..errors import UsageError
    from . import check_output
    check_output(output)
    if fmt not in formats:
        raise UsageError(f"unknown format {fmt!r}", field="--format",
                         fix=f"use one of {', '.join(formats)}")
    if fmt == "table" and output is not None:
        fmt = _SUFFIXES.get(output.suffix.lower(), "")
        if fmt not in formats or fmt == "table":
            choices = "|".join(f for f in formats if f != "table")
            raise UsageError(f"cannot tell the format of {output.name!r}", field="--output",
                             fix=f"pass --format {choices}")
    return fmt
