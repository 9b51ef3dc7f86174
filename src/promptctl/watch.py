"""Change detection for the runtime: a file by (mtime, size, inode), a URL by conditional GET.

`poll()` returns the new text when the source changed since the last poll, else None, so
an unchanged manifest costs one stat (or one 304) and no parsing.
"""

from __future__ import annotations

import os
from pathlib import Path


class FileWatch:
    """Yields the file's text when its (mtime, size, inode) changed since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sig: tuple | None = None

    def poll(self) -> str | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self._sig:
            return None
        self._sig = sig
        return self.path.read_text(encoding="utf-8")


class HttpWatch:
    """Conditional GET (ETag / Last-Modified): a 304 costs one round trip and no parsing."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        import httpx

        self.path = url
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        self._etag: str | None = None
        self._modified: str | None = None

    def poll(self) -> str | None:
        headers = {}
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._modified:
            headers["If-Modified-Since"] = self._modified
        response = self._client.get(self.path, headers=headers)
        if response.status_code == 304:
            return None
        response.raise_for_status()
        self._etag = response.headers.get("etag")
        self._modified = response.headers.get("last-modified")
        return response.text


def watch(location: str | os.PathLike) -> "FileWatch | HttpWatch":
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return HttpWatch(text)
    return FileWatch(Path(text))
