"""`promptctl schema KIND`: the JSON Schemas of promptctl's files, for editors and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import state
from ..file_schemas import DESCRIBES, SCHEMA_DIR, shipped_text

def printer(kind: str):
    """The command that prints KIND's schema (one per kind of file, `schema prompt` ...)."""
    def print_schema() -> None:
        typer.echo(shipped_text(kind), nl=False)
    print_schema.__doc__ = f"Print the JSON Schema of {DESCRIBES[kind]}."
    return print_schema


def write_cmd(directory: Optional[Path] = typer.Argument(
        None, help="Folder to write into (default: the prompt repo's .schemas).")) -> None:
    """Write (or refresh) every schema as DIR/KIND.schema.json, where new files point editors."""
    from ..file_schemas import write_all
    for path in write_all(state().directory / directory if directory else _default_dir()):
        typer.echo(f"wrote {path}")


def _default_dir() -> Path:
    # The modelines point at the repo root's .schemas/, wherever in the repo this runs.
    from ..errors import RepoError
    from ..config import find_root
    try:
        return find_root(state().directory) / SCHEMA_DIR
    except RepoError:
        return state().directory / SCHEMA_DIR
