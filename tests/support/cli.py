"""The real `promptctl`: in-process through Typer's CliRunner, or the installed command in a
subprocess; and which modules a fresh interpreter loads for an import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner


def invoke(root: Path, *args: str, columns: int | None = None, **kwargs):
    """The CLI app in-process, run in `root` (`-C root ...`), optionally `columns` wide."""
    from promptctl.cli import app
    if columns is not None:
        kwargs["env"] = {**kwargs.get("env", {}), "COLUMNS": str(columns)}
    return CliRunner().invoke(app, ["-C", str(root), *args], **kwargs)


def modules_loaded_by(imports: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has in sys.modules after `import {imports}`."""
    code = (f"import sys, {imports}; "
            f"print(','.join(m for m in {candidates!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in result.stdout.strip().split(",") if m]


def promptctl_exe() -> list[str]:
    """The installed console script, or the module when only the checkout is on the path."""
    exe = shutil.which("promptctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "promptctl"]


def run_cli(*args: str, cwd: Path, check: bool = False, env: dict | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `promptctl` in a subprocess."""
    return subprocess.run([*promptctl_exe(), *args], cwd=cwd, capture_output=True, text=True,
                          check=check, env={**os.environ, **(env or {})}, input=input)
