"""What apps import: the registry (`get`, `render`, `track`) and the prompt it returns
(`resolved_prompt`), and beside it how it loads and routes (`loaders`, `route_table`,
`routing`, `bundle`), logs calls (`calllog`, `call_records`, `log_target`, `sinks`,
`sqlite_sink`) and keeps its manifest fresh (`watch`, `refresh`). Nothing here imports the
CLI, rich or the eval engine.

`promptctl.runtime.Registry` and the registry's other names resolve lazily, so reading
the call log does not load the renderer.
"""

from __future__ import annotations


import importlib

_SUBMODULES = {"bundle", "call_records", "calllog", "loaders", "log_target", "refresh", "registry",
               "resolved_prompt", "route_table", "routing", "sinks", "sqlite_sink", "watch"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if not name.startswith("_"):
        registry = importlib.import_module(f"{__name__}.registry")
        if hasattr(registry, name):
            return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
