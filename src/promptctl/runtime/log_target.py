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
OTEL_NAMES = ("otel", "opentelemetry")
NAMED_SINKS = (*OTEL_NAMES, "prometheus")   # targets that are not files


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
    if isinstance(target, str) and target in OTEL_NAMES:
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
    """The explicit target, else a sink named by $PROMPTCTL_CALL_LOG (`otel`), else the
    call log file (`log_path`)."""
    if target is not None:
        return target
    if os.environ.get(ENV_VAR) in NAMED_SINKS:
        return os.environ[ENV_VAR]
    return log_path(root, None if os.environ.get(ENV_VAR) else _configured_path(root))


def log_path(root: Path | None, configured: str | None) -> Path:
    """The call log file, as the app writes it and `canary analyze` reads it:
    $PROMPTCTL_CALL_LOG, else `configured` (promptctl.yaml's `call_log: {path}`), else
    <root>/.promptctl/calls.sqlite; a relative path is relative to the repo's root."""
    chosen = os.environ.get(ENV_VAR) or configured
    if not chosen:
        return default_log_path(root)
    path = Path(chosen)
    return path if path.is_absolute() else Path(root or ".") / path


def _configured_path(root: Path | None) -> str | None:
    # Read once when a logger opens, never per call.
    from ..config import call_log_settings, load_config
    from ..errors import PromptctlError
    from ..sources import WorkingTree
    try:
        return call_log_settings(load_config(WorkingTree(Path(root or ".")))).path
    except (OSError, PromptctlError):
        # a broken promptctl.yaml must not break the app: use the default
        return None
