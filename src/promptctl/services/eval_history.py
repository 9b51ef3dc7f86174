"""This machine's eval history: where it (and the response cache beside it) lives,
recording a run, `promptctl eval history` and the local passing-run check."""

from __future__ import annotations

from pathlib import Path

from .project import Project

HISTORY_FILE = "history.sqlite"


def state_path(project: Project, key: str, default: str) -> Path:
    """Where the eval history or response cache lives (`eval.history` / `eval.cache`)."""
    from ..config import eval_settings

    configured = getattr(eval_settings(project.config), key)
    return project.root / (configured or f"{project.config.state_dir}/{default}")


def record_run(project: Project, run) -> None:
    """Add a run to this machine's history."""
    from ..evals.history import History

    history = History(state_path(project, "history", HISTORY_FILE))
    try:
        history.record(run)
    finally:
        history.close()


def history(project: Project, name: str | None, limit: int = 20) -> list:
    """`promptctl eval history NAME`: this machine's runs and the attested ones (git notes,
    from any clone), newest first; a run found in both is marked `local+attested`."""
    from ..evals.history import History
    from .evidence import attested_rows

    path = state_path(project, "history", HISTORY_FILE)
    local = []
    if path.exists():
        store = History(path)
        try:
            local = store.rows(name, limit)
        finally:
            store.close()
    return attested_rows(project, name, local)[:limit]


def require_eval(project: Project, name: str, version_digest: str) -> bool:
    """True when this machine's history holds a complete passing run of this content digest.

    Deploy gates do not use it: `--require-eval` trusts only attestations in git notes
    (services.evidence), which every clone can see."""
    from ..evals.history import History

    path = state_path(project, "history", HISTORY_FILE)
    if not path.exists():
        return False
    store = History(path)
    try:
        return store.passing_run(name, version_digest) is not None
    finally:
        store.close()
