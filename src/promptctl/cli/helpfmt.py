"""How `--help` reads: whole one-line summaries, usage lines in the usual NAME [OPTIONAL]
form, and `eval --help` showing the options of the `eval run` it stands for."""

from __future__ import annotations

import typing
from pathlib import PurePath

from typer.core import TyperCommand, TyperGroup


def summary(doc: str | None) -> str:
    """The first sentence of a docstring, whole: click cuts it at 45 characters with "…"."""
    first = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def usage_pieces(command, ctx) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = param.metavar or (param.name or "").upper()
        if param.nargs == -1:
            name += "..."
        pieces.append(name if param.required else f"[{name}]")
    return pieces


def readable_metavars(params) -> None:
    """`--env ENV`, `-o FILE`, `--repeat N` instead of `<str>`, `<path>`, `<int>`."""
    for param in params:
        if param.param_type_name != "option" or param.is_flag or param.metavar:
            continue
        kind = _value_type(param)
        longest = max(param.opts, key=len).lstrip("-")
        if kind is not None and issubclass(kind, PurePath):
            param.metavar = "DIR" if longest == "directory" else "FILE"
        elif kind is int:
            param.metavar = "N"
        elif kind is float:
            param.metavar = "NUMBER"
        else:
            param.metavar = longest.upper().replace("-", "_")


def _value_type(param) -> type | None:
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    while typing.get_args(annotation) and not isinstance(annotation, type):
        annotation = next((a for a in typing.get_args(annotation) if a is not type(None)), None)
    return annotation if isinstance(annotation, type) else None


class Command(TyperCommand):
    """A command whose usage line reads `NAME [LEVEL]`, not `{name} [level]`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readable_metavars(self.params)

    def collect_usage_pieces(self, ctx):
        return usage_pieces(self, ctx)


class Group(TyperGroup):
    """A group that lists its commands with their whole first sentence."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readable_metavars(self.params)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, summary(cmd.short_help or cmd.help)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
