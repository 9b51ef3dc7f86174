"""Shell completion of prompt names, versions and environments (Typer's protocol).

Completion runs on every Tab press: it reads only the files it needs, and any problem
(no prompt repo, a broken file) completes nothing rather than printing a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _project(ctx: Any):
    from ..services.project import open_project
    # The root callback does not run while completing, so read `-C DIR` from the context.
    directory = ctx.find_root().params.get("directory") if ctx else None
    return open_project(Path(directory or "."))


def _quiet(func):
    def complete(ctx: Any, incomplete: str) -> list[str]:
        try:
            return [c for c in func(ctx, incomplete) if c.startswith(incomplete)]
        except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
            return []
    complete.__name__ = func.__name__
    return complete


@_quiet
def prompt_names(ctx: Any, incomplete: str) -> list[str]:
    from ..prompt_files import list_prompt_names
    project = _project(ctx)
    return list_prompt_names(project.root, project.config)


@_quiet
def versions(ctx: Any, incomplete: str) -> list[str]:
    """Released versions of the prompt named by the command's NAME argument, newest first."""
    name = ctx.params.get("name")
    if not name:
        return []
    from ..versions import sort_versions  # semver precedence, not string order
    releases = _project(ctx).store.releases(name)
    return sort_versions([r.version for r in releases])[::-1]


@_quiet
def refs(ctx: Any, incomplete: str) -> list[str]:
    """NAME or NAME@VERSION: names first, versions once an `@` is typed."""
    if "@" not in incomplete:
        return prompt_names(ctx, incomplete)
    name = incomplete.split("@", 1)[0]
    releases = _project(ctx).store.releases(name)
    return [f"{name}@working", *(f"{name}@{r.version}" for r in releases)]


@_quiet
def environments(ctx: Any, incomplete: str) -> list[str]:
    from ..manifest import parse_manifest
    project = _project(ctx)
    text = project.working.read(project.config.manifest)
    return sorted(parse_manifest(text).environments) if text else []


# ---------------------------------------------------------------- bash and `@`

# bash splits the word being completed at every character of COMP_WORDBREAKS, which holds
# `@`: `eval support-reply@1<Tab>` reached the completer as the words "support-reply", "@"
# and "1", and bash replaces only the "@1". The script passes the line up to the cursor
# instead; the completer reads it whole and returns only what follows the last break.
BASH_SCRIPT = """
%(complete_func)s() {
    local IFS=$'\\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \\
                   COMP_CWORD=$COMP_CWORD \\
                   _PROMPTCTL_COMP_LINE="${COMP_LINE:0:$COMP_POINT}" \\
                   _PROMPTCTL_COMP_BREAKS="$COMP_WORDBREAKS" \\
                   %(autocomplete_var)s=complete_bash $1 ) )
    return 0
}

complete -o default -F %(complete_func)s %(prog_name)s
"""


def install_bash_fix() -> None:
    """Use BASH_SCRIPT and its reader in Typer's bash completion (kept if Typer moves)."""
    import os

    from typer import _completion_classes as classes
    from typer import _completion_shared as shared

    base = getattr(classes, "BashComplete", None)
    scripts = getattr(shared, "_completion_scripts", None)
    split = getattr(classes, "click_split_arg_string", None)
    if base is None or split is None or not isinstance(scripts, dict) or getattr(base, "_promptctl", False):
        return

    class LineBash(base):   # type: ignore[misc, valid-type]
        _promptctl = True
        source_template = BASH_SCRIPT
        cut = ""

        def get_completion_args(self):
            line = os.environ.get("_PROMPTCTL_COMP_LINE", "")
            if not line:
                return super().get_completion_args()
            words = split(line)
            ended = line[-1:].isspace()
            args, incomplete = (words[1:], "") if ended or len(words) < 2 else (words[1:-1], words[-1])
            breaks = os.environ.get("_PROMPTCTL_COMP_BREAKS", "")
            at = max((incomplete.rfind(c) for c in set(breaks) if not c.isspace()), default=-1)
            # readline keeps `@` and `$` (its special prefixes) in the word it replaces
            self.cut = incomplete[:at] if at >= 0 and incomplete[at] in "@$" else incomplete[:at + 1]
            return args, incomplete

        def format_completion(self, item):
            value = super().format_completion(item)
            return value[len(self.cut):] if self.cut and value.startswith(self.cut) else value

    classes.BashComplete = LineBash  # type: ignore[misc]  # click has no hook for this
    scripts["bash"] = BASH_SCRIPT
