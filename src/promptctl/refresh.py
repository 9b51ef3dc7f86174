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

from .errors import ManifestError

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
