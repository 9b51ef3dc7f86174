"""Writing a run's report where the user asked: the job summary, the terminal or a file."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import typer


def emit(render: ModuleType, report: Any, fmt: str, output: Optional[Path],
         print_table: Callable[[Any], None]) -> None:
    """One report in one format; see `emit_all`."""
    emit_all(render, report, [(fmt, output)], print_table)


def emit_all(render: ModuleType, report: Any, plan: list[tuple[str, Optional[Path]]],
             print_table: Callable[[Any], None]) -> None:
    """Append Markdown to GITHUB_STEP_SUMMARY when set; then each (format, file) of `plan`:
    a table, or the format to stdout or the file. After writing files, the one-line verdict
    (`render.verdict_lines`) goes to stdout so a CI log shows the result.

    `render` is a report module with `to_markdown` and a `RENDERERS` map of format → function.
    """
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(render.to_markdown(report) + "\n")
    wrote = False
    for fmt, output in plan:
        if fmt == "table":
            print_table(report)
            continue
        # A writer that streams (every case of a big run) is written chunk by chunk.
        stream = getattr(render, "STREAMERS", {}).get(fmt)
        chunks = stream(report) if stream else [render.RENDERERS[fmt](report)]
        if output is None:
            for chunk in chunks:
                typer.echo(chunk, nl=False)
            continue
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
        typer.echo(f"wrote {output}", err=True)
        wrote = True
    verdict = getattr(render, "verdict_lines", None)
    if wrote and verdict is not None:
        for line in verdict(report):
            typer.echo(line)


def plan_outputs(fmt: str, outputs: list[Path], formats: tuple[str, ...]) -> list[tuple[str, Optional[Path]]]:
    """(format, file) pairs: one run written as several files (`-o r.json -o r.html`) is
    one run, recorded once in history."""
    from ..errors import UsageError
    if len(outputs) <= 1:
        output = outputs[0] if outputs else None
        return [(check_format(fmt, output, formats), output)]
    if fmt != "table":
        raise UsageError(f"--format {fmt} with {len(outputs)} output files", field="--format",
                         fix="leave --format out: each file's suffix (.json, .xml, .md, .html) decides")
    return [(check_format(fmt, output, formats), output) for output in outputs]


_SUFFIXES = {".json": "json", ".xml": "junit", ".md": "markdown", ".html": "html", ".htm": "html"}


def check_format(fmt: str, output: Optional[Path], formats: tuple[str, ...]) -> str:
    """The format to write: `fmt`, or with the default table and a file, the file's suffix."""
    from ..errors import UsageError
    from .common import check_output
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
