"""A command group with a default subcommand: `promptctl eval NAME` is `eval run NAME`,
`promptctl canary NAME VERSION …` is `canary start NAME VERSION …`."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

from .helpfmt import Group


class DefaultGroup(Group):
    """A group whose first argument, when it is not one of its subcommands, starts the
    arguments of `default_command`, so the common case needs no subcommand word.

    Subclasses name the default; they may also list its options on the group's `--help`
    (`default_options_title`) and complete its first argument beside the subcommand names
    (`default_completion`), for a default so common its options belong on the group.
    """

    default_command: ClassVar[str]
    default_options_title: ClassVar[Optional[str]] = None
    default_completion: ClassVar[Optional[Callable[[Any, str], list[str]]]] = None

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_options(self, ctx, formatter):
        super().format_options(ctx, formatter)
        default = self.commands.get(self.default_command)
        if self.default_options_title is None or default is None:
            return
        records = [r for p in default.get_params(ctx) if p.param_type_name == "option"
                   and (r := p.get_help_record(ctx)) and not r[0].startswith("--help")]
        with formatter.section(self.default_options_title):
            formatter.write_dl(records)

    def shell_complete(self, ctx, incomplete):
        found = super().shell_complete(ctx, incomplete)
        complete = type(self).default_completion
        if complete is None:
            return found
        from click.shell_completion import CompletionItem
        return [*found, *(CompletionItem(value) for value in complete(ctx, incomplete))]
