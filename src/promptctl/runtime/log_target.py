"""Where the call log goes: the target (given, $PROMPTCTL_CALL_LOG, promptctl.yaml's
`call_log:`, or the default file) and the sink opened for it. Read once when a logger
opens, never per call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import UsageError

ENV_VAR = "PROMPTCTL_CALL_LOG"
DEFAULT_PATH = Path(".promptctl") / "calls.sqlite"


def default_log_path(root: Path | None = None) -> Path:
    return Path(root or ".") / DEFAULT_PATH


def open_sink(target: Any, root: Path | None = None) -> Any:
    """A sink for `target`: a path (.jsonl → JSONL, else SQLite), "otel", "prometheus",
    a sink object (has `write`), a callable taking a list of records, or a list of these."""
    from . import sinks
    if isinstance(target, (list, tuple)):
        return sinks.FanoutSink([open_sink(t, root) for t in target])
    if hasattr(target, "write"):
        return target
    if callable(target):
        return sinks.CallableSink(target)
    if isinstance(target, str) and target in ("otel", "opentelemetry"):
        return sinks.OtelSink()
    if isinstance(target, str) and target == "prometheus":
        return sinks.PrometheusSink()
    if isinstance(target, (str, Path)):
        path = Path(target)
        if not path.is_absolute() and root is not None:
            path = Path(root) / path
        if path.suffix == ".jsonl":
            return sinks.JsonlSink(path)
        from .sqlite_sink import SQLiteSink
        return SQLiteSink(path)
    raise UsageError(f"cannot log calls to {target!r}",
                     fix="give a .sqlite/.db or .jsonl path, 'otel', 'prometheus' or a callable")


def resolve_target(target: Any, root: Path | None = None) -> Any:
    """The explicit target, else $PROMPTCTL_CALL_LOG, else promptctl.yaml's
    `call_log: {path: ...}`, else <root>/.promptctl/calls.sqlite."""
    if target is not None:
        return target
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env
    configured = _configured_path(root)
    return configured if configured is not None else default_log_path(root)


def _configured_path(root: Path | None) -> Path | None:
    # Read once when a logger opens, never per call; `canary analyze` reads the same key.
    from ..config import call_log_settings, load_config
    from ..errors import PromptctlError
    from ..sources import WorkingTree
    try:
        path = call_log_settings(load_config(WorkingTree(Path(root or ".")))).path
    except (OSError, PromptctlError):
        # a broken promptctl.yaml must not break the app: use the default
        return None
    if not path:
        return None
    return Path(path) if Path(path).is_absolute() else Path(root or ".") / path
