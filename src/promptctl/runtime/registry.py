"""The library apps import: fetch a released prompt by name at request time.

    reg = promptctl.Registry.open(".", env="production")          # manifest + git objects
    reg = promptctl.Registry.from_bundle("release.lock.json", env="production")  # no git
    p = reg.get("support-refund", key=user_id); p.render(question=...)

Everything a call needs is prepared when a manifest is loaded: each version is read,
verified against its digest and compiled once per process, and every (prompt, segment)
gets a precomputed route. `get` then only hashes the key and looks up dicts, with no I/O:
a background thread per registry re-checks the source every `refresh_interval` seconds
and swaps in the new state (promptctl.runtime.refresh). Fork-safe: a child gets its own thread,
lock, connections and git processes.
This module must not import typer, rich, the eval engine, or (for bundles) GitPython.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import refresh, routing
from ..errors import NotFoundError, PromptctlError, RenderError, UsageError, ValidationError
from ..manifest import Manifest, Target, parse_manifest
from ..model import Body, PromptContent
from .refresh import LastGood
from ..render import CompiledPrompt, compile_content, tool_dict
from .watch import DEFAULT_FETCH_TIMEOUT
from .watch import watch as _watch

log = logging.getLogger("promptctl.runtime")

STABLE, CANARY, FALLBACK = "stable", "canary", "fallback"


class ResolvedPrompt:
    """One routed prompt version for one call."""

    __slots__ = ("name", "version", "variant", "model", "provider", "params", "digest",
                 "env", "segment", "key", "kind", "bucket", "threshold", "_compiled", "_contract")

    def __init__(self, version: "_Version | None", variant: str, model: str | None, env: str,
                 segment: str | None, key: Any, *, name: str = "", compiled: CompiledPrompt | None = None,
                 bucket: int | None = None, threshold: int | None = None) -> None:
        self.variant = variant
        # The routing decision, logged with the call so a sample-ratio check can find
        # calls whose variant contradicts their bucket. None when no canary runs.
        self.bucket = bucket
        self.threshold = threshold
        self.env = env
        self.segment = segment
        self.key = key
        self.model = model
        if version is None:   # fallback
            if compiled is None:
                raise UsageError(f"{name}: a fallback prompt needs its compiled template",
                                 field="compiled", fix="pass compiled=")
            self.name, self.version, self.provider, self.params, self.digest = name, None, None, {}, None
            self._compiled, self._contract = compiled, _NO_CONTRACT
        else:
            self.name, self.version, self.provider = version.name, version.version, version.provider
            # a copy: apps tweak params per call (max_tokens...); the cached version must not change
            self.params, self.digest, self._compiled = dict(version.params), version.digest, version.compiled
            self._contract = version.contract
        self.kind = "chat" if self._compiled.is_chat else "text"

    def render(self, **inputs: Any) -> str | list[dict[str, Any]]:
        """str for a text prompt, a list of {role, content} for chat (placeholders expanded
        with the `messages` inputs passed); strict about inputs. Every failure is a
        RenderError naming prompt@version."""
        return _guarded(self._compiled.label, self._compiled.render, inputs)

    # Copies on every read: an app that edits what it got must not change the next call's.
    @property
    def tools(self) -> list[dict[str, Any]]:
        """Declared tools: {name, description (a template), parameters (JSON Schema)}."""
        return copy.deepcopy(list(self._contract.tools))

    @property
    def tool_choice(self) -> str | None:
        """auto, none, required, a tool's name, or None when the prompt leaves it to the API."""
        return self._contract.tool_choice

    @property
    def output(self) -> dict[str, Any]:
        """{format: text | json, schema: JSON Schema or None, strict: bool}."""
        return copy.deepcopy(self._contract.output)

    @property
    def config(self) -> dict[str, Any]:
        """The prompt's `config:`, free-form data for the app; never sent to a model."""
        return copy.deepcopy(self._contract.config)

    @property
    def metadata(self) -> dict[str, Any]:
        return copy.deepcopy(self._contract.metadata)

    def render_tools(self, **inputs: Any) -> list[dict[str, Any]]:
        """The tools with their descriptions rendered for these inputs."""
        return _guarded(self._compiled.label, self._compiled.render_tools, inputs)

    def request(self, provider: str | None = None, **inputs: Any) -> dict[str, Any]:
        """Keyword arguments for the vendor SDK: `client.chat.completions.create(**p.request(
        "openai", ...))` or `client.messages.create(**p.request("anthropic", ...))`.

        Model, rendered messages, tools, tool choice, structured output and params; params
        the SDK has no keyword for travel in `extra_body`. `provider` defaults to the
        prompt's own (openai or anthropic).
        """
        from .. import payloads

        kind = provider or self.provider or "openai"
        if kind not in ("openai", "anthropic"):
            raise UsageError(f"no request format for provider {kind!r}", field="provider",
                             fix="pass provider='openai' or provider='anthropic'")
        if not self.model:
            raise UsageError(f"{self.name}: the fallback prompt has no model",
                             fix="pass model in your own call")
        rendered = self.render(**inputs)
        messages = [{"role": "user", "content": rendered}] if isinstance(rendered, str) else rendered
        contract = self._contract
        # deep copies: the app may edit the payload; the cached version must not change
        tools = copy.deepcopy(self.render_tools(**inputs))
        output = self.output if contract.output["format"] == "json" else None
        if kind == "openai":
            body = payloads.openai_body(self.model, messages, dict(self.params), tools=tools,
                                        tool_choice=contract.tool_choice, output=output,
                                        name=self.name)
            return payloads.sdk_kwargs(body, payloads.OPENAI_KEYWORDS)
        body = payloads.anthropic_body(self.model, messages, dict(self.params), tools=tools,
                                       tool_choice=contract.tool_choice, output=output)
        return payloads.sdk_kwargs(body, payloads.ANTHROPIC_KEYWORDS)

    def __repr__(self) -> str:
        return f"ResolvedPrompt({self.name}@{self.version}, {self.variant}, model={self.model})"


def _guarded(label: str, render: Callable[[dict], Any], inputs: dict[str, Any]) -> Any:
    try:
        return render(inputs)
    except RenderError:
        raise
    except Exception as exc:   # RecursionError, MemoryError, a filter's IndexError...
        raise RenderError(f"{label}: {type(exc).__name__}: {exc}"[:500],
                          fix="check the inputs and the template") from exc


@dataclass(frozen=True, slots=True)
class _Contract:
    """What a version declares beside its templates, as the runtime hands it out."""

    tools: tuple = ()
    tool_choice: str | None = None
    output: dict = field(default_factory=lambda: {"format": "text", "schema": None, "strict": False})
    config: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


_NO_CONTRACT = _Contract()


@dataclass(frozen=True, slots=True)
class _Version:
    name: str
    version: str
    digest: str
    provider: str
    model: str
    params: dict
    compiled: CompiledPrompt
    contract: _Contract = _NO_CONTRACT


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
    spec = content.spec
    compiled = compile_content(content, f"{content.name}@{version}", lazy=True)
    contract = _Contract(tuple(tool_dict(t) for t in spec.tools), spec.tool_choice,
                         {"format": spec.output.format, "schema": spec.output.json_schema,
                          "strict": spec.output.strict},
                         dict(spec.config), dict(spec.metadata))
    return _Version(content.name, version, content.digest, spec.model.provider, spec.model.name,
                    dict(spec.model.params), compiled, contract)


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

    def __init__(self, root: Path, manifest: str | os.PathLike | None,
                 timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        from ..config import load_config
        from ..sources import WorkingTree
        from ..store import GitStore   # the git path is the only one importing GitPython

        self.root = root
        self.config = load_config(WorkingTree(root))
        self.store = GitStore(root, self.config.tag_format)
        self.watch = _watch(manifest or root / self.config.manifest, timeout=timeout)
        self._configs: dict = {}

    def committed(self, text: str, new: "_State", old: "_State") -> bool:
        """The repo's own release.yaml as committed at HEAD (hand edits are not, yet)."""
        try:
            relative = Path(self.watch.path).resolve().relative_to(self.root.resolve())
        except (TypeError, ValueError):   # a URL, or a file outside the repo
            return False
        try:
            at_head = self.store.run_git("show", f"HEAD:./{relative.as_posix()}")
        except PromptctlError:
            return False
        return at_head.rstrip("\n") == text.rstrip("\n")

    def commit_fix(self, env: str) -> str:
        return "if the change is meant, commit release.yaml; a committed change is accepted"

    def after_fork(self) -> None:
        self.store.after_fork()
        self.watch.after_fork()

    def load(self, text: str, env: str, cache: dict) -> _State:
        from ..collect import fewer_collections

        with fewer_collections():
            return self._load(text, env, cache)

    def _load(self, text: str, env: str, cache: dict) -> _State:
        from ..prompt_files import load_prompt

        manifest = parse_manifest(text, str(self.watch.path))
        known = _by_version(cache)
        wanted = [nv for nv in _referenced(manifest, env) if nv not in known]
        releases = {(r.name, r.version): r for r in self.store.releases()} if wanted else {}
        self._preload([releases[nv] for nv in wanted if nv in releases])
        for name, version in wanted:
            release = releases.get((name, version))
            if release is None:
                raise NotFoundError(f"{name} {version} has no release tag", file=str(self.watch.path),
                                    fix=self._missing_fix(name))
            source = self.store.source_at(release.commit)
            content = load_prompt(source, self._config_at(source), name)
            if content.digest != release.digest:   # None: a lightweight or foreign tag, refused too
                recorded = release.digest or "no digest (not a tag made by `promptctl bump`)"
                raise ValidationError(f"{release.tag}: content hashes to {content.digest}, "
                                      f"the tag records {recorded}", fix="run `promptctl verify`")
            cache[(name, version, content.digest)] = compile_version(content, version)
        self.store.forget()     # the compiled versions are kept; their files are not needed
        versions = _by_version(cache)
        _check_pins(manifest, env, versions, str(self.watch.path))
        return _State(manifest, build_routes(manifest, env, versions), self.store.head())

    def _missing_fix(self, name: str) -> str:
        # a tag that exists upstream but was not fetched must not be released again
        if self.store.unfetched(name, self.config.notes_ref):
            return "run git fetch --tags (or promptctl sync): this clone may lack release tags"
        return f"release it with `promptctl bump {name}`"

    def _preload(self, releases: list) -> None:
        """Every wanted version's folder in a few batched git reads, not file by file."""
        base = self.config.prompts_dir
        self.store.preload([(r.commit, f"{base}/{r.name}") for r in releases], base=base)

    def _config_at(self, source: Any) -> Any:
        """promptctl.yaml as released; a first bump may predate committing it (bump commits
        only the prompt's files), so fall back to the repo's current one, as the CLI does."""
        from ..config import CONFIG_FILE, load_config

        text = source.read(CONFIG_FILE)
        if text is None:
            return self.config
        if text not in self._configs:   # one commit per release: parse each distinct text once
            self._configs[text] = load_config(source)
        return self._configs[text]


class _BundleLoader:
    def __init__(self, location: str | os.PathLike, timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        self.watch = _watch(location, timeout=timeout)

    def committed(self, text: str, new: "_State", old: "_State") -> bool:
        # A bundle is built from a committed manifest: one from a new commit may drop an entry
        # on purpose; an env with nothing in it is never what a serving app should switch to.
        return bool(new.routes) and bool(new.origin) and new.origin != old.origin

    def commit_fix(self, env: str) -> str:
        return f"publish a bundle built by `promptctl bundle --env {env}` from a committed manifest"

    def after_fork(self) -> None:
        self.watch.after_fork()

    def load(self, text: str, env: str, cache: dict) -> _State:
        from .bundle import parse_bundle
        from ..collect import fewer_collections

        with fewer_collections():
            bundle = parse_bundle(text, str(self.watch.path), env)
        versions = {}
        for (name, version), content in bundle.contents.items():
            key = (name, version, content.digest)
            if key not in cache:
                cache[key] = compile_version(content, version)
            versions[(name, version)] = cache[key]
        return _State(bundle.manifest, build_routes(bundle.manifest, env, versions), bundle.manifest_commit)


def _check_pins(manifest: Manifest, env: str, versions: Mapping[tuple[str, str], _Version],
                where: str) -> None:
    """A tag re-created on other content must not be served: release.yaml pins each digest."""
    from .bundle import pin_problems

    swapped = pin_problems(manifest, env, {k: v.digest for k, v in versions.items()})
    if swapped:
        raise ValidationError(f"{swapped[0]}: its tag was re-created", file=where,
                              fix="run `promptctl verify`; release the new content as a new version")


def _referenced(manifest: Manifest, env: str) -> list[tuple[str, str]]:
    from .bundle import referenced_versions

    return referenced_versions(manifest, env)


def _by_version(cache: dict) -> dict:
    return {(name, version): v for (name, version, _), v in cache.items()}


# ---------------------------------------------------------------- the registry

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
        self._cache: dict = {}            # (name, version, digest) -> _Version, never evicted
        self._lock = threading.Lock()     # one refresh at a time; get() never takes it
        self._state: _State | None = None
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

        def make() -> _GitLoader:
            return _GitLoader(find_root(Path(repo_path)), manifest, fetch_timeout)
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
        return cls(_Lazy(lambda: _BundleLoader(path, fetch_timeout)), env, refresh_interval, fallback,
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


