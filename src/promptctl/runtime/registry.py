"""The library apps import: fetch a released prompt by name at request time.

    reg = promptctl.Registry.open(".", env="production")          # manifest + git objects
    reg = promptctl.Registry.from_bundle("release.lock.json", env="production")  # no git
    p = reg.get("support-refund", key=user_id); p.render(question=...)

Everything a call needs is prepared when a manifest is loaded (`loaders`, `route_table`):
each version is read, verified against its digest and compiled once per process, and every
(prompt, segment) gets a precomputed route. `get` then only hashes the key and looks up
dicts, with no I/O: a background thread per registry re-checks the source every
`refresh_interval` seconds and swaps in the new state (promptctl.runtime.refresh). Fork-safe: a child gets its own thread,
lock, connections and git processes.
This module must not import typer, rich, the eval engine, or (for bundles) GitPython.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Mapping

from . import refresh, routing
from ..errors import NotFoundError, PromptctlError
from ..manifest import Manifest
from ..model import Body
from .loaders import BundleLoader, GitLoader
from .refresh import LastGood
from ..render import CompiledPrompt
from .resolved_prompt import ResolvedPrompt
from .route_table import RouteState
from .watch import DEFAULT_FETCH_TIMEOUT

log = logging.getLogger("promptctl.runtime")

STABLE, CANARY, FALLBACK = "stable", "canary", "fallback"


_DEFAULT = object()   # "cache_dir not given": the documented default folder


class Registry(refresh.Refreshing):
    """Thread-safe and fork-safe; share one per process. See the module docstring."""

    def __init__(self, loader: Any, env: str, refresh_interval: float | None = 1.0,
                 fallback: str | list | Mapping | None = None, call_log: Any = None, *,
                 last_good: LastGood | None = None, fetch_timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        self.env = env
        self._call_log = call_log
        self.refresh_interval = refresh_interval
        self._loader = loader
        self._cache: dict = {}            # (name, version, digest) -> CompiledVersion, never evicted
        self._lock = threading.Lock()     # one refresh at a time; get() never takes it
        self._state: RouteState | None = None
        self._status = refresh.Status()
        self._last_good = last_good
        self._stale_after = 3 * (refresh_interval or 1.0) + 2 * fetch_timeout
        self._fallback = _compile_fallback(fallback) if fallback is not None else None
        self._logger = None
        self._closed = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: PromptctlError | None = None
        try:
            with self._lock:
                self._load_first()
        except PromptctlError as exc:
            if self._fallback is None:
                raise
            self.last_error = exc
            log.error("promptctl: cannot load the registry, serving the fallback: %s", exc)
        ref = weakref.ref(self)

        def after_fork() -> None:
            registry = ref()
            if registry is not None:
                registry._after_fork()

        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=after_fork)
        if refresh_interval is not None:
            self._thread = refresh.start(self, refresh_interval)

    @classmethod
    def open(cls, repo_path: str | os.PathLike = ".", env: str = "production", *,
             refresh_interval: float | None = 1.0, fallback: Any = None,
             manifest: str | os.PathLike | None = None, call_log: Any = None,
             fetch_timeout: float = DEFAULT_FETCH_TIMEOUT) -> "Registry":
        """Manifest from the repo (or `manifest=` path/URL), content from git tags."""
        from ..config import find_root

        def make() -> GitLoader:
            return GitLoader(find_root(Path(repo_path)), manifest, fetch_timeout)
        return cls(_Lazy(make), env, refresh_interval, fallback, call_log, fetch_timeout=fetch_timeout)

    @classmethod
    def from_bundle(cls, path: str | os.PathLike, env: str = "production", *,
                    refresh_interval: float | None = 1.0, fallback: Any = None,
                    call_log: Any = None, cache_dir: Any = _DEFAULT,
                    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT) -> "Registry":
        """Everything from one bundle file or URL: no git, no GitPython. The last good bundle
        is kept in `cache_dir` (default: `refresh.default_cache_dir()`; None keeps none)."""
        folder = refresh.default_cache_dir() if cache_dir is _DEFAULT else cache_dir
        last_good = None
        if folder is not None:
            text = os.fspath(path)
            source = text if text.startswith(("http://", "https://")) else str(Path(text).absolute())
            last_good = LastGood(folder, source, env)
        return cls(_Lazy(lambda: BundleLoader(path, fetch_timeout)), env, refresh_interval, fallback,
                   call_log, last_good=last_good, fetch_timeout=fetch_timeout)

    # ------------------------------------------------------------ serving

    def get(self, name: str, key: Any = None, segment: str | None = None) -> ResolvedPrompt:
        state = self._state           # memory only: the refresh thread swaps this reference
        if state is None:
            return self._serve_fallback(name, key, segment)
        route = state.routes.get((name, segment))
        if route is None:
            route = state.routes.get((name, None))
            if route is None:
                if self._fallback is not None:
                    return self._serve_fallback(name, key, segment)
                raise NotFoundError(f"{name} is not deployed in {self.env}",
                                    fix=f"run `promptctl promote {name} VERSION --env {self.env}`")
        version = route.stable
        variant = STABLE
        bucket = threshold = None
        if route.canary is not None:
            bucket, threshold = routing.draw(route.salt, key), route.limit
            if bucket < threshold:
                version, variant = route.canary, CANARY
        return ResolvedPrompt(version, variant, route.model_pin or version.model, self.env,
                              route.segment, key, bucket=bucket, threshold=threshold)

    def versions(self) -> dict:
        """(name, segment) -> (stable version, canary version or None, weight buckets)."""
        state = self._state
        if state is None:
            return {}
        return {k: (r.stable.version, r.canary.version if r.canary else None, r.limit / 100)
                for k, r in state.routes.items()}

    @property
    def manifest(self) -> Manifest | None:
        return self._state.manifest if self._state else None

    def health(self) -> dict:
        """ok / stale / fallback, source, manifest commit, loaded-at, age, last error and the
        versions served per prompt; reads memory only, for a readiness probe."""
        state = self._state
        inner = self._loader.inner
        source = str(inner.watch.path) if inner is not None else "(not opened)"
        return refresh.health_report(env=self.env, source=source, origin=state.origin if state else None,
                                     status=self._status, last_error=self.last_error,
                                     serving=state is not None, stale_after=self._stale_after)

    def refresh(self) -> bool:
        """Re-check the source now, in this thread; True when a new state was loaded."""
        with self._lock:
            return self._refresh_locked()

    def close(self) -> None:
        """Stop the refresh thread (the registry keeps serving what it has)."""
        self._closed = True
        self._wake.set()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ call log

    def track(self, resolved: ResolvedPrompt):
        """`with reg.track(p) as call: ...`; the tracker lives in promptctl.calllog."""
        return self._call_logger().track(resolved, env=self.env, segment=resolved.segment,
                                         key=resolved.key)

    def log_call(self, resolved: ResolvedPrompt | None = None, **fields: Any):
        """Log a call you timed yourself; any field you pass (env, key, name...) wins."""
        defaults = {"env": self.env, "segment": getattr(resolved, "segment", None),
                    "key": getattr(resolved, "key", None)}
        return self._call_logger().log_call(resolved, **{**defaults, **fields})

    def attach(self, call_id: str, scores: dict[str, float]) -> None:
        """A quality signal that arrives later (thumbs down, escalation), joined by call id."""
        self._call_logger().attach(call_id, scores)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every logged call reached its sink; True when all did in time."""
        return self._logger.flush(timeout) if self._logger is not None else True

    def _call_logger(self):
        if self._logger is None:
            from . import calllog

            root = getattr(self._loader.inner, "store", None)
            self._logger = calllog.open_logger(self._call_log, root.root if root else None)
        return self._logger

    def _serve_fallback(self, name: str, key: Any, segment: str | None) -> ResolvedPrompt:
        if self._fallback is None:
            raise NotFoundError(f"{name}: the registry could not load", fix=str(self.last_error))
        compiled = self._fallback.get(name) or self._fallback.get(None)
        if compiled is None:
            raise NotFoundError(f"{name}: the registry could not load and no fallback is given for it")
        return ResolvedPrompt(None, FALLBACK, None, self.env, segment, key, name=name, compiled=compiled)


class _Lazy:
    """Builds the loader on first use, so a registry with a fallback survives a missing repo."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self.inner = None

    def get(self):
        if self.inner is None:
            self.inner = self._make()
        return self.inner


def _compile_fallback(fallback: str | list | Mapping) -> dict:
    """A template (str), chat messages (list of {role, content}) or a {name: either} map."""
    if isinstance(fallback, Mapping):
        return {name: _compile_one(name, body) for name, body in fallback.items()}
    return {None: _compile_one("fallback", fallback)}


def _compile_one(name: str, body: str | list) -> CompiledPrompt:
    if isinstance(body, str):
        return CompiledPrompt(f"{name}@fallback", {"t": body}, (Body("text", "t"),), {})
    templates = {f"m{i}": m["content"] for i, m in enumerate(body)}
    bodies = tuple(Body(m["role"], f"m{i}") for i, m in enumerate(body))
    return CompiledPrompt(f"{name}@fallback", templates, bodies, {})
