"""Change detection for the runtime: a file by stat, a URL by (conditional) GET.

`poll()` returns the new text when the source's content changed since the last text it
returned, else None; it raises a PromptctlError naming the source when the source cannot
be read. It runs in the registry's refresh thread, never on a request.

Validators with one-second resolution (mtime on coarse file systems, `Last-Modified`, the
ETag nginx derives from them) cannot tell two writes of the same second apart. As git
does for its index, a validator is trusted only once the source was seen at least two
seconds after its last change; until then every poll reads the whole content and
compares its hash, so a second publish within the same second is never missed.
"""

from __future__ import annotations

import hashlib
import os
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from ..errors import FetchError, NotFoundError, PromptctlError

RACY_SECONDS = 2.0
DEFAULT_FETCH_TIMEOUT = 5.0
MAX_BYTES = 64 * 1024 * 1024


def _decode(data: bytes, where: str) -> str:
    from ..sources import decode_text

    return decode_text(data, where)


class _Seen:
    """The hash of the last content handed out: a rewrite with the same bytes is no change."""

    def __init__(self) -> None:
        self.digest: bytes | None = None

    def changed(self, data: bytes) -> bool:
        digest = hashlib.sha256(data).digest()
        if digest == self.digest:
            return False
        self.digest = digest
        return True


class FileWatch:
    """A file: one stat per poll while (mtime, size, inode) stay put and are not racy."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sig: tuple | None = None
        self._seen = _Seen()

    def poll(self) -> str | None:
        try:
            st = os.stat(self.path)
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            if sig == self._sig:
                return None
            data = self.path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"{self.path} is missing", fix="restore it or fix the path") from exc
        except OSError as exc:
            raise FetchError(f"cannot read {self.path}: {exc.strerror or exc}",
                             fix="the last good one keeps serving; check the file's permissions") from exc
        # A file changed less than RACY_SECONDS ago may change again within its mtime tick.
        racy = time.time_ns() - st.st_mtime_ns < RACY_SECONDS * 1e9
        self._sig = None if racy else sig
        if not self._seen.changed(data):
            return None
        return _decode(data, str(self.path))

    def forget(self) -> None:
        """Hand out the current content again at the next poll (after a refused change)."""
        self._sig = None
        self._seen = _Seen()

    def after_fork(self) -> None:
        pass


class HttpWatch:
    """GET with a total deadline and a size cap; conditional only when the validators are safe."""

    def __init__(self, url: str, timeout: float = DEFAULT_FETCH_TIMEOUT,
                 max_bytes: int = MAX_BYTES) -> None:
        self.path = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: Any = None   # an httpx.Client once the first fetch runs
        self._validators: dict[str, str] = {}
        self._seen = _Seen()

    def poll(self) -> str | None:

        try:
            status, headers, body = self._fetch()
        except PromptctlError:
            raise
        except Exception as exc:   # any transport failure (httpx, ssl, a bad URL) is the source's
            raise FetchError(f"cannot fetch {self.path}: {type(exc).__name__}: {exc}".rstrip(": "),
                             fix=_FIX) from exc
        if status == 304:
            return None
        if status >= 400:
            raise FetchError(f"cannot fetch {self.path}: HTTP {status}", fix=_FIX)
        self._validators = _safe_validators(headers)
        if not self._seen.changed(body):
            return None
        return _decode(body, self.path)

    def _fetch(self) -> tuple[int, dict, bytes]:
        import httpx

        # httpx's timeout bounds each read; the deadline below bounds the whole answer, so a
        # server dripping a byte a second cannot hold a refresh (or a start-up) for minutes.
        deadline = time.monotonic() + self.timeout
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=True)
        with self._client.stream("GET", self.path, headers=self._validators) as response:
            if response.status_code == 304 or response.status_code >= 400:
                return response.status_code, {}, b""
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(f"cannot fetch {self.path}: larger than {self.max_bytes} bytes",
                                     fix="is this the bundle URL?")
                if time.monotonic() > deadline:
                    raise FetchError(f"cannot fetch {self.path}: no complete answer within "
                                     f"{self.timeout:g} s", fix=_FIX)
                chunks.append(chunk)
            return response.status_code, dict(response.headers), b"".join(chunks)

    def forget(self) -> None:
        self._validators = {}
        self._seen = _Seen()

    def after_fork(self) -> None:
        # The parent's pooled connections are its sockets: a child opens its own.
        self._client = None


_FIX = "the last good copy keeps serving; check the URL and the server"


def _safe_validators(headers: dict) -> dict[str, str]:
    """Conditional-request headers for the next poll, or none while they could be racy."""
    etag, modified = headers.get("etag"), headers.get("last-modified")
    if modified:
        seen_at = _http_time(headers.get("date")) or time.time()
        changed_at = _http_time(modified)
        if changed_at is None or seen_at - changed_at < RACY_SECONDS:
            return {}
    found = {}
    if etag:
        found["If-None-Match"] = etag
    if modified:
        found["If-Modified-Since"] = modified
    return found


def _http_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def watch(location: str | os.PathLike, *, timeout: float = DEFAULT_FETCH_TIMEOUT) -> "FileWatch | HttpWatch":
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return HttpWatch(text, timeout)
    return FileWatch(Path(text))
