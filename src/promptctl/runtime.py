"""The library apps import: fetch a released prompt by name at request time.

    reg = promptctl.Registry.open(".", env="production")          # manifest + git objects
    reg = promptctl.Registry.from_bundle("release.lock.json", env="production")  # no git
    p = reg.get("support-refund", key=user_id); p.render(question=...)

Everything a call needs is prepared when a manifest is loaded: each version is read,
verified against its digest and compiled once per process, and every (prompt, segment)
gets a precomputed route. `get` then only hashes the key and looks up dicts; the only
I/O is a stat (or a conditional HTTP GET) at most every `refresh_interval` seconds.
This module must not import typer, rich, the eval engine, or (for bundles) GitPython.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from . import routing
from .errors import NotFoundError, PromptctlError, ValidationError
from .manifest import Manifest, Target, parse_manifest
from .model import PromptContent
from .render import CompiledPrompt
from .watch import watch as _watch

log = logging.getLogger("promptctl.runtime")

STABLE, CANARY, FALLBACK = "stable", "canary", "fallback"


class ResolvedPrompt:
    """One routed prompt version for one call."""

    __slots__ = ("name", "version", "variant", "model", "provider", "params", "digest",
                 "env", "segment", "key", "kind", "_compiled")

    def __init__(self, version: "_Version | None", variant: str, model: str | None, env: str,
                 segment: str | None, key: Any, *, name: str = "", compiled: CompiledPrompt | None = None) -> None:
        self.variant = variant
        self.env = env
        self.segment = segment
        self.key = key
        self.model = model
        if version is None:   # fallback
            self.name, self.version, self.provider, self.params, self.digest = name, None, None, {}, None
            self._compiled = compiled
        else:
            self.name, self.version, self.provider = version.name, version.version, version.provider
            # a copy: apps tweak params per call (max_tokens...); the cached version must not change
            self.params, self.digest, self._compiled = dict(version.params), version.digest, version.compiled
        self.kind = "chat" if self._compiled.is_chat else "text"

    def render(self, **inputs: Any) -> str | list[dict[str, str]]:
        """str for a text prompt, a list of {role, content} for chat; strict about inputs."""
        return self._compiled.render(inputs)

    def __repr__(self) -> str:
        return f"ResolvedPrompt({self.name}@{self.version}, {self.variant}, model={self.model})"


@dataclass(frozen=True, slots=True)
class _Version:
    name: str
    version: str
    digest: str
    provider: str
    model: str
    params: dict
    compiled: CompiledPrompt


@dataclass(frozen=True, slots=True)
class _Route:
    segment: str | None
    stable: _Version
    canary: _Version | None
    limit: int          # canary buckets: weight x 100
    salt: str
    model_pin: str | None


@dataclass(frozen=True, slots=True)
class _State:
    manifest: Manifest
    routes: dict
    origin: str         # commit or source the manifest came from


def compile_version(content: PromptContent, version: str) -> _Version:
    compiled = CompiledPrompt(f"{content.name}@{version}", content.templates, content.bodies,
                              content.spec.inputs)
    model = content.spec.model
    return _Version(content.name, version, content.digest, model.provider, model.name,
                    dict(model.params), compiled)


def build_routes(manifest: Manifest, env: str, versions: Mapping[tuple[str, str], _Version]) -> dict:
    routes: dict = {}
    for name, entry in manifest.environments.get(env, {}).items():
        routes[(name, None)] = _route(name, env, None, entry, versions)
        for segment, target in entry.segments.items():
            routes[(name, segment)] = _route(name, env, segment, target, versions)
    return routes


def _route(name: str, env: str, segment: str | None, target: Target,
           versions: Mapping[tuple[str, str], _Version]) -> _Route:
    canary = target.canary
    if canary is None or not canary.running:
        return _Route(segment, versions[(name, target.active)], None, 0, "", target.model)
    salt = canary.salt or routing.default_salt(name, env, segment, canary.version)
    return _Route(segment, versions[(name, target.active)], versions[(name, canary.version)],
                  routing.threshold(canary.weight), salt, target.model)


# ---------------------------------------------------------------- loaders


class _GitLoader:
    """Manifest from the repo's release.yaml (or a URL); content from release tags only."""

    def __init__(self, root: Path, manifest: str | os.PathLike | None) -> None:
        from .files import WorkingTree, load_config
        from .store import GitStore   # the git path is the only one importing GitPython

        self.config = load_config(WorkingTree(root))
        self.store = GitStore(root, self.config.tag_format)
        self.watch = _watch(manifest or root / self.config.manifest)

    def load(self, text: str, env: str, cache: dict) -> _State:
        from .files import load_prompt

        manifest = parse_manifest(text, str(self.watch.path))
        known = _by_version(cache)
        wanted = [nv for nv in _referenced(manifest, env) if nv not in known]
        releases = {(r.name, r.version): r for r in self.store.releases()} if wanted else {}
        for name, version in wanted:
            release = releases.get((name, version))
            if release is None:
                raise NotFoundError(f"{name} {version} has no release tag", file=str(self.watch.path),
                                    fix=f"release it with `promptctl bump {name}`")
            source = self.store.source_at(release.commit)
            content = load_prompt(source, self._config_at(source), name)
            if content.digest != release.digest:   # None: a lightweight or foreign tag, refused too
                recorded = release.digest or "no digest (not a tag made by `promptctl bump`)"
                raise ValidationError(f"{release.tag}: content hashes to {content.digest}, "
                                      f"the tag records {recorded}", fix="run `promptctl verify`")
            cache[(name, version, content.digest)] = compile_version(content, version)
        return _State(manifest, build_routes(manifest, env, _by_version(cache)), self.store.head())

    def _config_at(self, source: Any) -> Any:
        """promptctl.yaml as released; a first bump may predate committing it (bump commits
        only the prompt's files), so fall back to the repo's current one, as the CLI does."""
        from .files import load_config

        try:
            return load_config(source)
        except NotFoundError:
            return self.config


class _BundleLoader:
    def __init__(self, location: str | os.PathLike) -> None:
        self.watch = _watch(location)

    def load(self, text: str, env: str, cache: dict) -> _State:
        from .bundle import parse_bundle

        bundle = parse_bundle(text, str(self.watch.path), env)
        versions = {}
        for (name, version), content in bundle.contents.items():
            key = (name, version, content.digest)
            if key not in cache:
                cache[key] = compile_version(content, version)
            versions[(name, version)] = cache[key]
        return _State(bundle.manifest, build_routes(bundle.manifest, env, versions), bundle.manifest_commit)


def _referenced(manifest: Manifest, env: str) -> list[tuple[str, str]]:
    from .bundle import referenced_versions

    return referenced_versions(manifest, env)


def _by_version(cache: dict) -> dict:
    return {(name, version): v for (name, version, _), v in cache.items()}


# ---------------------------------------------------------------- the registry


class Registry:
    """Thread-safe; share one per process. See the module docstring."""

    def __init__(self, loader: Any, env: str, refresh_interval: float = 1.0,
                 fallback: str | list | Mapping | None = None, call_log: Any = None) -> None:
        self.env = env
        self._call_log = call_log
        self.refresh_interval = refresh_interval
        self._loader = loader
        self._cache: dict = {}            # (name, version, digest) -> _Version, never evicted
        self._lock = threading.Lock()
        self._state: _State | None = None
        self._next_check = 0.0
        self._fallback = _compile_fallback(fallback) if fallback is not None else None
        self._logger = None
        self.last_error: PromptctlError | Exception | None = None
        try:
            self._load_first()
        except Exception as exc:
            if self._fallback is None:
                raise
            self.last_error = exc
            log.error("promptctl: cannot load the registry, serving the fallback: %s", exc)

    @classmethod
    def open(cls, repo_path: str | os.PathLike = ".", env: str = "production", *,
             refresh_interval: float = 1.0, fallback: Any = None,
             manifest: str | os.PathLike | None = None, call_log: Any = None) -> "Registry":
        """Manifest from the repo (or `manifest=` path/URL), content from git tags."""
        from .files import find_root

        def make() -> _GitLoader:
            return _GitLoader(find_root(Path(repo_path)), manifest)
        return cls(_Lazy(make), env, refresh_interval, fallback, call_log)

    @classmethod
    def from_bundle(cls, path: str | os.PathLike, env: str = "production", *,
                    refresh_interval: float = 1.0, fallback: Any = None,
                    call_log: Any = None) -> "Registry":
        """Everything from one bundle file or URL: no git, no GitPython."""
        return cls(_Lazy(lambda: _BundleLoader(path)), env, refresh_interval, fallback, call_log)

    # ------------------------------------------------------------ serving

    def get(self, name: str, key: Any = None, segment: str | None = None) -> ResolvedPrompt:
        if time.monotonic() >= self._next_check:
            self._maybe_refresh()
        state = self._state
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
        if route.canary is not None and _pick_canary(route, key):
            version, variant = route.canary, CANARY
        return ResolvedPrompt(version, variant, route.model_pin or version.model, self.env,
                              route.segment, key)

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

    def refresh(self) -> bool:
        """Re-check the manifest now; True when a new one was loaded."""
        with self._lock:
            return self._refresh_locked()

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

    # ------------------------------------------------------------ internals

    def _maybe_refresh(self) -> None:
        if not self._lock.acquire(blocking=False):
            return     # another thread is checking; keep serving the current state
        try:
            self._refresh_locked()
        finally:
            self._lock.release()

    def _load_first(self) -> None:
        with self._lock:
            loader = self._loader.get()
            text = loader.watch.poll()
            if text is None:
                raise NotFoundError(f"{loader.watch.path} not found")
            state = loader.load(text, self.env, self._cache)
            known = state.manifest.environments
            if self.env not in known:   # a typo in env= should fail at start-up, not on every get
                raise NotFoundError(f"no environment {self.env!r} in {loader.watch.path}",
                                    fix=f"known: {', '.join(known) or 'none yet'}; "
                                        f"run `promptctl promote NAME VERSION --env {self.env}`")
            self._state = state
            self._next_check = time.monotonic() + self.refresh_interval

    def _refresh_locked(self) -> bool:
        self._next_check = time.monotonic() + self.refresh_interval
        try:
            loader = self._loader.get()
            text = loader.watch.poll()
            if text is None:
                return False
            self._state = loader.load(text, self.env, self._cache)
        except Exception as exc:   # refuse the change, keep serving the last good state
            if str(exc) != str(self.last_error):   # once per distinct problem, not every interval
                log.error("promptctl: refused a changed manifest, keeping the last good one: %s", exc)
            self.last_error = exc
            return False
        self.last_error = None
        log.info("promptctl: loaded a new manifest for %s", self.env)
        return True

    def _serve_fallback(self, name: str, key: Any, segment: str | None) -> ResolvedPrompt:
        if self._fallback is None:
            raise NotFoundError(f"{name}: the registry could not load", fix=str(self.last_error))
        compiled = self._fallback.get(name) or self._fallback.get(None)
        if compiled is None:
            raise NotFoundError(f"{name}: the registry could not load and no fallback is given for it")
        return ResolvedPrompt(None, FALLBACK, None, self.env, segment, key, name=name, compiled=compiled)


def _pick_canary(route: _Route, key: Any) -> bool:
    if route.limit >= routing.BUCKETS:
        return True
    if key is None:
        return routing._random.randrange(routing.BUCKETS) < route.limit
    return routing.bucket(route.salt, str(key)) < route.limit


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
        return CompiledPrompt(f"{name}@fallback", {"t": body}, (("text", "t"),), {})
    templates = {f"m{i}": m["content"] for i, m in enumerate(body)}
    bodies = tuple((m["role"], f"m{i}") for i, m in enumerate(body))
    return CompiledPrompt(f"{name}@fallback", templates, bodies, {})


