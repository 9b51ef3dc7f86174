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
    from ..files import list_prompt_names
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
