"""Eval history in SQLite: every run, so gates, drift and `--require-eval` can look back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import RunResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  prompt TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL,
  provider TEXT, model TEXT, dataset_digest TEXT,
  cases INTEGER, errors INTEGER, score REAL,
  metrics TEXT, gates TEXT, passed INTEGER NOT NULL,
  baseline TEXT, regressed INTEGER, shard TEXT,
  started TEXT, duration_s REAL);
CREATE INDEX IF NOT EXISTS runs_prompt ON runs (prompt, started);
CREATE INDEX IF NOT EXISTS runs_digest ON runs (digest);
"""


@dataclass(frozen=True)
class HistoryRow:
    id: int
    prompt: str
    version: str
    digest: str
    provider: str
    model: str
    dataset_digest: str
    cases: int
    errors: int
    score: float
    metrics: dict[str, float]
    gates: list[dict[str, Any]]
    passed: bool
    baseline: str | None
    regressed: bool
    shard: str | None
    started: str
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class History:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.executescript(SCHEMA)

    def record(self, run: RunResult) -> int:
        summary = run.summary
        comparison = run.comparison or {}
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO runs (prompt, version, digest, provider, model, dataset_digest, "
                "cases, errors, score, metrics, gates, passed, baseline, regressed, shard, "
                "started, duration_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.prompt, run.version, run.digest, run.provider, run.model, run.dataset_digest,
                 summary.get("cases", 0), summary.get("errors", 0), summary.get("score", 0.0),
                 json.dumps({k: v["mean"] for k, v in summary.get("metrics", {}).items()}),
                 json.dumps(summary.get("gates", [])), int(run.passed),
                 comparison.get("baseline_version"), int(bool(comparison.get("regressed"))),
                 run.shard, run.started, run.duration_s))
        return int(cursor.lastrowid)

    def rows(self, prompt: str | None = None, limit: int = 50) -> list[HistoryRow]:
        query = "SELECT * FROM runs"
        args: tuple = ()
        if prompt:
            query += " WHERE prompt = ?"
            args = (prompt,)
        query += " ORDER BY id DESC LIMIT ?"
        return [_row(r) for r in self._db.execute(query, (*args, limit))]

    def passing_run(self, prompt: str, digest: str) -> HistoryRow | None:
        """The latest complete (unsharded) passing run of exactly this content."""
        row = self._db.execute("SELECT * FROM runs WHERE prompt = ? AND digest = ? AND passed = 1 "
                               "AND shard IS NULL ORDER BY id DESC LIMIT 1",
                               (prompt, digest)).fetchone()
        return _row(row) if row else None

    def close(self) -> None:
        self._db.close()


def _row(r: tuple) -> HistoryRow:
    return HistoryRow(id=r[0], prompt=r[1], version=r[2], digest=r[3], provider=r[4] or "",
                      model=r[5] or "", dataset_digest=r[6] or "", cases=r[7] or 0,
                      errors=r[8] or 0, score=r[9] or 0.0, metrics=json.loads(r[10] or "{}"),
                      gates=json.loads(r[11] or "[]"), passed=bool(r[12]), baseline=r[13],
                      regressed=bool(r[14]), shard=r[15], started=r[16] or "",
                      duration_s=r[17] or 0.0)
