"""The runtime's background side: the refresh thread, the last good bundle on disk, health.

A registry serves from memory; this thread re-checks its source every `refresh_interval`
seconds (stale-while-revalidate), so a slow or dead source never delays a request. Only
the registry's own module touches the state it produces; this one holds no reference to
a registry beyond a weak one, so a registry that is dropped stops its thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ManifestError, NotFoundError, PromptctlError

CACHE_ENV_VAR = "PROMPTCTL_CACHE_DIR"
MIN_INTERVAL = 0.01
log = logging.getLogger("promptctl.runtime")


def default_cache_dir() -> Path:
    """$PROMPTCTL_CACHE_DIR, else $XDG_CACHE_HOME/promptctl/bundles, else ~/.cache/promptctl/bundles."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "promptctl" / "bundles"


class LastGood:
    """The last bundle a registry accepted, one file per (source, env), written atomically."""

    def __init__(self, folder: str | os.PathLike, source: str, env: str) -> None:
        key = hashlib.sha256(f"{source}\0{env}".encode()).hexdigest()[:20]
        self.path = Path(folder) / f"{key}.json"
        self._saved: bytes | None = None
        self._warned = False

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def save(self, text: str) -> None:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        if digest == self._saved:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)   # several workers may save at once: each rename is whole
            self._saved = digest
        except OSError as exc:   # a read-only home must not stop the app from serving
            tmp.unlink(missing_ok=True)
            if not self._warned:
                self._warned = True
                log.warning("promptctl: cannot keep the last good bundle at %s: %s (pass "
                            "cache_dir= a writable folder)", self.path, exc)


@dataclass
class Status:
    """When the serving state was loaded and last confirmed by its source."""

    loaded_at: float | None = None
    checked_at: float | None = None
    from_disk: bool = False
    served: dict | None = None     # versions per prompt, computed once per accepted state


def served_versions(routes: dict) -> dict:
    """{name: {stable, canary, canary_weight, segments: {segment: {...}}}} for health()."""
    out: dict[str, dict] = {}
    for (name, segment), route in sorted(routes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        entry = {"stable": route.stable.version,
                 "canary": route.canary.version if route.canary else None,
                 "canary_weight": route.limit / 100 if route.canary else 0}
        if segment is None:
            out.setdefault(name, {"segments": {}}).update(entry)
        else:
            out.setdefault(name, {"segments": {}})["segments"][segment] = entry
    return out


def health_report(*, env: str, source: str, origin: str | None, status: Status,
                  last_error: Any, serving: bool, stale_after: float) -> dict:
    now = time.time()
    confirmed = status.checked_at is not None and now - status.checked_at <= stale_after
    if not serving:
        state = "fallback"
    elif last_error is None and confirmed and not status.from_disk:
        state = "ok"
    else:
        state = "stale"
    return {
        "status": state, "env": env, "source": source, "manifest_commit": origin or None,
        "loaded_at": _iso(status.loaded_at),
        "age_seconds": round(now - status.loaded_at, 3) if status.loaded_at else None,
        "checked_at": _iso(status.checked_at), "from_disk": status.from_disk,
        "last_error": str(last_error) if last_error is not None else None,
        "versions": status.served or {},
    }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds")


def refuse_shrinking(old_routes: dict, new_routes: dict, *, source: str, env: str,
                     committed: Any, fix: str) -> None:
    """A refresh that empties the env, or drops an entry being served, is usually a truncated
    or half-written file: refuse it unless `committed()` says it is a committed change."""
    if not old_routes:
        return
    dropped = sorted(set(old_routes) - set(new_routes), key=lambda k: (k[0], k[1] or ""))
    if new_routes and not dropped:
        return
    if committed():
        return
    if not new_routes:
        what = f"has no prompts for {env} (empty, comment-only or truncated?)"
    else:
        what = "drops " + ", ".join(n if s is None else f"{n} (segment {s})" for n, s in dropped)
    raise ManifestError(f"{source}: refused: the new manifest {what}; the last good one keeps "
                        f"serving", fix=fix)


# ---------------------------------------------------------------- the registry's loading side


class Refreshing:
    """Loading, refreshing and fork handling of `runtime.Registry` (which holds the state:
    `_loader`, `_state`, `_status`, `_lock`, `last_error`...). Runs at open and in the
    refresh thread; nothing here runs on a request."""

    # declared here for the type checker; runtime.Registry.__init__ sets them
    env: str
    refresh_interval: float | None
    last_error: PromptctlError | None
    _loader: Any
    _cache: Any
    _state: Any
    _status: Status
    _lock: threading.Lock
    _wake: threading.Event
    _last_good: Any   # LastGood | None; set whenever a state came from disk
    _closed: bool
    _thread: threading.Thread | None

    def _load_first(self) -> None:
        try:
            loader = self._loader.get()
            text = loader.watch.poll()
            state = loader.load(text, self.env, self._cache)
            self._check_env(state, loader)
        except Exception as exc:
            error = _promptctl_error(exc)
            if self._loader.inner is not None:
                self._loader.inner.watch.forget()   # judge the source's content afresh next time
            state = self._from_disk()
            if state is None:
                raise error from exc
            self._accept(state, None, from_disk=True)
            self.last_error = error
            log.warning("promptctl: %s; serving the last good bundle from %s (stale)", error,
                        self._last_good.path)
            return
        self._accept(state, text)

    def _check_env(self, state: Any, loader: Any) -> None:
        known = state.manifest.environments
        if self.env not in known:   # a typo in env= should fail at start-up, not on every get
            raise NotFoundError(f"no environment {self.env!r} in {loader.watch.path}",
                                fix=f"known: {', '.join(known) or 'none yet'}; "
                                    f"run `promptctl promote NAME VERSION --env {self.env}`")

    def _from_disk(self) -> Any:
        text = self._last_good.read() if self._last_good is not None else None
        if text is None:
            return None
        try:
            state = self._loader.get().load(text, self.env, self._cache)
            self._check_env(state, self._loader.get())
        except Exception as exc:   # a damaged copy is no copy: report the source's error
            log.warning("promptctl: the last good bundle at %s does not load: %s",
                        self._last_good.path, exc)
            return None
        return state

    def _background_refresh(self) -> None:
        if self._lock.acquire(blocking=False):   # an explicit refresh() is running: skip a turn
            try:
                self._refresh_locked()
            finally:
                self._lock.release()

    def _refresh_locked(self) -> bool:
        if self._state is None:   # never loaded (serving the fallback): keep trying
            try:
                self._load_first()
            except PromptctlError as exc:
                self._note(exc)
                return False
            return True
        loader = self._loader.get()
        try:
            text = loader.watch.poll()
        except Exception as exc:   # the source is down or unreadable: keep serving
            self._note(_promptctl_error(exc))
            return False
        if text is None:
            self._status.checked_at = time.time()
            self.last_error = None
            return False
        try:
            state = loader.load(text, self.env, self._cache)
            refuse_shrinking(self._state.routes, state.routes, source=str(loader.watch.path),
                                     env=self.env, committed=lambda: loader.committed(text, state, self._state),
                                     fix=loader.commit_fix(self.env))
        except Exception as exc:   # refuse the change, keep serving the last good state
            loader.watch.forget()  # look again next time: a commit may make it acceptable
            self._note(_promptctl_error(exc), refused=True)
            return False
        self._accept(state, text)
        log.info("promptctl: loaded a new manifest for %s", self.env)
        return True

    def _accept(self, state: Any, text: str | None, *, from_disk: bool = False) -> None:
        self._state = state
        now = time.time()
        self._status = Status(loaded_at=now, checked_at=None if from_disk else now,
                                      from_disk=from_disk, served=served_versions(state.routes))
        self.last_error = None
        if text is not None and self._last_good is not None:
            self._last_good.save(text)

    def _note(self, exc: PromptctlError, refused: bool = False) -> None:
        if str(exc) != str(self.last_error):   # once per distinct problem, not every interval
            what = "refused a changed manifest, keeping the last good one" if refused else \
                "cannot refresh, keeping the last good state"
            log.error("promptctl: %s: %s", what, exc)
        self.last_error = exc

    def _after_fork(self) -> None:
        # The parent's refresh thread, its lock holder and its pipes stay in the parent.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        inner = self._loader.inner
        if inner is not None:
            inner.after_fork()
        if self._thread is not None and not self._closed:
            self._thread = start(self, self.refresh_interval)  # type: ignore[arg-type]  # a thread implies an interval


def _promptctl_error(exc: Exception) -> PromptctlError:
    """What the app sees in `last_error` or at open is always a promptctl error."""
    if isinstance(exc, PromptctlError):
        return exc
    error = PromptctlError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


# ---------------------------------------------------------------- the thread


def start(registry: Any, interval: float) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(weakref.ref(registry), max(interval, MIN_INTERVAL)),
                              name="promptctl-refresh", daemon=True)
    thread.start()
    return thread


def _run(ref: "weakref.ref", interval: float) -> None:
    while True:
        registry = ref()
        if registry is None or registry._closed:
            return
        wake = registry._wake
        del registry            # hold no strong reference while asleep: a dropped registry ends us
        wake.wait(interval)
        registry = ref()
        if registry is None or registry._closed:
            return
        registry._background_refresh()
        del registry
