"""Services of what is deployed and how it got there: `status` rows and `history` rows.

Both read the manifest's git history through `manifest_history` (cached per clone); a
rollback without `--to` asks `previous_active` for the version to restore.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import NotFoundError
from ..manifest import Manifest
from .project import Project
from .working_manifest import EMPTY, read_manifest


@dataclass
class HistoryRow:
    commit: str
    date: str
    author: str
    action: str
    active: str | None
    canary: str | None
    weight: float | None
    why: str

    def as_dict(self) -> dict:
        return asdict(self)


def history(project: Project, name: str, env: str, segment: str | None = None) -> list[HistoryRow]:
    """Every commit that changed this entry: newest first."""
    from .manifest_history import manifest_history

    rows = [_row(info, state) for info, state in manifest_history(project).rows(env, name, segment)]
    if not rows:
        _known_env(project, env)
    return list(reversed(rows))


def _known_env(project: Project, env: str) -> None:
    """A typo in --env is an error (exit 2), as in `status`, not an empty answer."""
    known = read_manifest(project).environments
    if env not in known:
        raise NotFoundError(f"no environment {env!r} in {project.config.manifest}",
                            fix=f"known: {', '.join(known) or 'none yet'}")


def _row(info: dict, state: list) -> HistoryRow:
    """A history row from a commit and the entry's [hash, active, canary, weight] after it."""
    trailers = info["trailers"]
    subject = info["subject"]
    action = trailers.get("Promptctl-Action", "edit")
    if "Promptctl-Action" in trailers:
        why = subject.split(": ", 1)[1] if ": " in subject else ""
    else:
        why = subject     # a hand edit: its subject is all we know
    _, active, canary, weight = state
    return HistoryRow(info["commit"], info["date"], info["author"], action, active, canary,
                      weight, why)


def previous_active(project: Project, name: str, env: str, segment: str | None,
                    current: str) -> str | None:
    """The active version this entry had before `current`, from the manifest's git history."""
    for row in history(project, name, env, segment):
        if row.active is not None and row.active != current:
            return row.active
    return None


@dataclass
class StatusRow:
    env: str
    name: str
    segment: str | None
    active: str
    since: str | None
    canary: str | None
    weight: float | None
    canary_started: str | None
    model: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def status(project: Project, env: str | None = None) -> list[StatusRow]:
    from .manifest_history import manifest_history, working_rows

    rel = project.config.manifest
    current = working_rows(project, project.working.read(rel) or EMPTY,
                           lambda manifest: _status_rows(manifest, manifest_history(project)))
    if env is not None and env not in current["envs"]:
        raise NotFoundError(f"no environment {env!r} in {rel}",
                            fix=f"known: {', '.join(current['envs']) or 'none yet'}")
    return [StatusRow(*row) for row in current["rows"] if env is None or row[0] == env]


def _status_rows(manifest: Manifest, history) -> dict:
    """What status shows of a manifest, as JSON (kept by the text's hash and HEAD)."""
    since = history.active_since()
    rows = []
    for env_name, prompts in manifest.environments.items():
        for name, entry in prompts.items():
            for segment, target in [(None, entry), *entry.segments.items()]:
                c = target.canary
                rows.append([env_name, name, segment, target.active,
                             since.get((env_name, name, segment, target.active)),
                             c.version if c else None, c.weight if c else None,
                             c.started.isoformat() if c and c.started else None, target.model])
    return {"envs": list(manifest.environments), "rows": rows}
