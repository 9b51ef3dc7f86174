"""Services of the prompt registry's read commands: diff, show, log, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..model import PromptContent, Release
from ..prompt_files import list_prompt_names
from ..versions import sort_versions
from . import project as _project
from .project import WORKING, Project, latest_release, load_release, load_working


def diff(project: Project, name: str, a: str | None = None, b: str | None = None,
         render_vars: dict[str, Any] | None = None):
    from ..diffing import diff_prompts
    if a is None:
        latest = latest_release(project, name)
        old = load_release(project, latest) if latest else None
        a_label = latest.version if latest else "(none)"
    else:
        old, a_label = _project.load_version(project, name, a), a
    b_label = b or WORKING
    new = _project.load_version(project, name, b)
    result = diff_prompts(old, new, a_label, b_label)
    if render_vars is not None:
        result.rendered = _rendered_diff(old, new, a_label, b_label, render_vars)
    return result


def _rendered_diff(old: PromptContent | None, new: PromptContent, a: str, b: str,
                   variables: dict[str, Any]) -> str:
    import difflib
    before = render_text(old, a, variables) if old else ""
    after = render_text(new, b, variables)
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"{a} (rendered)", f"{b} (rendered)"))


def render_text(content: PromptContent, label: str, variables: dict[str, Any]) -> str:
    """The rendered prompt as text: chat messages become `[role]` blocks."""
    from ..render import compile_content
    out = compile_content(content, f"{content.name}@{label}").render(variables)
    if isinstance(out, str):
        return out if out.endswith("\n") else out + "\n"
    return "".join(f"[{m['role']}]\n{_message_text(m).rstrip()}\n\n" for m in out)


def _message_text(message: dict[str, Any]) -> str:
    """A rendered message as text: parts one per line, tool calls as name(arguments)."""
    content = message.get("content")
    if isinstance(content, list):
        lines = [p["text"] if p.get("type") == "text" else f"<image {p['image_url']['url']}>"
                 for p in content]
    else:
        lines = [content] if content else []
    lines += [f"-> {c.get('function', c).get('name')}({c.get('function', c).get('arguments')})"
              for c in message.get("tool_calls") or []]
    return "\n".join(lines)


def show(project: Project, ref: str) -> tuple[PromptContent, Release | None]:
    name, version = _project.split_ref(ref)
    content = _project.load_version(project, name, version)
    release = None
    if version not in (None, WORKING):
        release = project.store.release(name, version.removeprefix("v"))
    return content, release


def log(project: Project, name: str) -> list[Release]:
    releases = {r.version: r for r in project.store.releases(name)}
    if not releases:
        load_working(project, name)  # a clear not-found error for unknown prompts
    return [releases[v] for v in reversed(sort_versions(list(releases)))]


def clone_advice(project: Project, name: str | None = None) -> str | None:
    """A warning for listings (`log`) when this clone may not see every release."""
    problem = project.store.unfetched(name, project.config.notes_ref)
    return f"{problem}; run git fetch --tags (or promptctl sync)" if problem else None


@dataclass
class PromptStatus:
    name: str
    latest: str | None
    releases: int
    unreleased: bool | None
    kind: str | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def list_prompts(project: Project) -> list[PromptStatus]:
    from ..versions import latest as latest_of
    from ..workcache import WorkingCache
    by_name: dict[str, list[Release]] = {}
    for release in project.store.releases():
        by_name.setdefault(release.name, []).append(release)
    working = list_prompt_names(project.root, project.config)
    cache = WorkingCache(project.root / project.config.state_dir, project.working, project.config)
    rows = []
    for name in sorted(set(working) | set(by_name)):
        releases = by_name.get(name, [])
        top = latest_of([r.version for r in releases])
        digest = next((r.digest for r in releases if r.version == top), None)
        rows.append(_status(cache, name, top, len(releases), digest))
    cache.save(keep=set(working))
    return rows


def _status(cache, name: str, top: str | None, count: int, digest: str | None) -> PromptStatus:
    from ..errors import NotFoundError
    try:
        working_digest, kind = cache.summary(name)
    except NotFoundError:
        return PromptStatus(name, top, count, None, error="removed from the working tree")
    except ValidationError as exc:
        return PromptStatus(name, top, count, None, error=str(exc.message))
    return PromptStatus(name, top, count, working_digest != digest, kind=kind)
