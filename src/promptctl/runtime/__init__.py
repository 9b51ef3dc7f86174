"""What apps import: the registry (`get`, `render`, `track`), and beside it how it routes
(`routing`), logs calls (`calllog`, `sinks`, `sqlite_sink`), loads bundles (`bundle`) and keeps its
manifest fresh (`watch`, `refresh`). Nothing here imports the CLI, rich or the eval engine.

`promptctl.runtime.Registry` and the registry's other names resolve lazily, so reading
the call log does not load the renderer.
"""

from __future__ import annotations


import importlib

_SUBMODULES = {"bundle", "call_records", "calllog", "log_target", "refresh", "registry", "routing",
               "sinks", "sqlite_sink", "watch"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if not name.startswith("_"):
        registry = importlib.import_module(f"{__name__}.registry")
        if hasattr(registry, name):
            return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
