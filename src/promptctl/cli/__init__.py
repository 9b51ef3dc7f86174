"""The promptctl command line: parse arguments, call a service, render the result.

`wiring` builds the command tree in one place; the command modules (registry, deploy,
canary, evals, drift, sync, schema, doctor) only define the functions it adds.
This package is the only error boundary: known errors become one line on stderr and
the exit code of their class; `--traceback` shows the stack instead.
Command modules import services and rich inside their functions so start-up stays fast.
"""

from __future__ import annotations

from .common import console, state
from .wiring import app, main

__all__ = ["app", "console", "main", "state"]
