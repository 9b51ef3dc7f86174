"""Response cache in SQLite: re-running an unchanged eval costs nothing.

The key is a sha256 over everything that changes the answer (provider endpoint, model,
params, messages, sample index); API keys are never part of it or of the stored row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from ..providers.base import ProviderSettings, Request, Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY, text TEXT NOT NULL, tokens_in INTEGER, tokens_out INTEGER,
  latency_ms REAL, created REAL, tool_calls TEXT)
"""


def cache_key(settings: ProviderSettings, request: Request, sample: int = 0) -> str:
    # Plain {role, content} messages keep the [role, content] form they always had, and the
    # tools/output part is there only when a prompt has them: existing caches stay valid.
    messages = [[m["role"], m["content"]] if m.keys() == {"role", "content"} else m
                for m in request.messages]
    parts: list = [settings.cache_identity(), request.model, messages, request.params, sample]
    if request.tools or request.tool_choice or request.output:
        parts.append([request.tools, request.tool_choice, request.output])
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
            if "tool_calls" not in columns:   # caches written before tool calls were kept
                self._db.execute("ALTER TABLE responses ADD COLUMN tool_calls TEXT")
        except sqlite3.DatabaseError as exc:
            from .history import unreadable
            self._db.close()
            raise unreadable(path, exc, "response cache") from exc
        self._pending: dict[str, tuple] = {}

    def get(self, key: str) -> Response | None:
        row = self._pending.get(key)
        row = (*row[1:5], row[6]) if row else self._db.execute(
            "SELECT text, tokens_in, tokens_out, latency_ms, tool_calls FROM responses "
            "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Response(text=row[0], tokens_in=row[1] or 0, tokens_out=row[2] or 0,
                        latency_ms=row[3] or 0.0, cached=True,
                        tool_calls=json.loads(row[4]) if row[4] else [])

    def put(self, key: str, response: Response) -> None:
        calls = json.dumps(response.tool_calls, ensure_ascii=False) if response.tool_calls else None
        self._pending[key] = (key, response.text, response.tokens_in, response.tokens_out,
                              response.latency_ms, time.time(), calls)
        if len(self._pending) >= 200:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO responses (key, text, tokens_in, tokens_out, "
                                     "latency_ms, created, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     list(self._pending.values()))
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()
