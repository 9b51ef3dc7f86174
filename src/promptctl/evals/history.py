"""Eval history in SQLite: every run, so gates, drift and `--require-eval` can look back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import RunResult, light_cases

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
# Added after the first release: per-case scores, so drift can pair cases with a later run.
# Listings never select it: a history of thousands of runs should not load every case.
CASE_SCORES = "case_scores"
# Added with drift's accepted baseline: what a run was (eval or drift), whether it was
# accepted as the baseline, and the suite and params it ran with.
ADDED = (("kind", "TEXT"), ("accepted", "INTEGER"), ("suite_digest", "TEXT"),
         ("params_digest", "TEXT"), ("provider_errors", "INTEGER"))
COLUMNS = ("id, prompt, version, digest, provider, model, dataset_digest, cases, errors, score, "
           "metrics, gates, passed, baseline, regressed, shard, started, duration_s, "
           "kind, accepted, suite_digest, params_digest, provider_errors")


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
    source: str = "local"     # "local", "attested" (git notes), or "local+attested"
    kind: str = "eval"                 # "eval" or "drift"
    accepted: bool = False             # `drift --accept` (or a first drift) made it the baseline
    suite_digest: str = ""
    params_digest: str = ""
    provider_errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class History:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        try:
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise unreadable(path, exc, "eval history") from exc
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        for name, kind in ((CASE_SCORES, "TEXT"), *ADDED):
            if name not in columns:
                try:
                    with self._db:
                        self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError:
                    pass    # another process added it between our check and the ALTER

    def record(self, run: RunResult, *, kind: str = "eval", accepted: bool = False) -> int:
        summary = run.summary
        comparison = run.comparison or {}
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO runs (prompt, version, digest, provider, model, dataset_digest, "
                "cases, errors, score, metrics, gates, passed, baseline, regressed, shard, "
                "started, duration_s, case_scores, kind, accepted, suite_digest, params_digest, "
                "provider_errors) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.prompt, run.version, run.digest, run.provider, run.model, run.dataset_digest,
                 summary.get("cases", 0), summary.get("errors", 0), summary.get("score", 0.0),
                 json.dumps({k: v["mean"] for k, v in summary.get("metrics", {}).items()}),
                 json.dumps(summary.get("gates", [])), int(run.passed),
                 comparison.get("baseline_version"), int(bool(comparison.get("regressed"))),
                 run.shard, run.started, run.duration_s, _case_scores_json(run),
                 kind, int(accepted), run.suite_digest, run.params_digest,
                 summary.get("provider_errors", 0)))
        return int(cursor.lastrowid)  # type: ignore[arg-type]  # set by the INSERT above

    def runs_of(self, prompt: str, digest: str, dataset_digest: str) -> list[HistoryRow]:
        """Every complete run of exactly this content on exactly this dataset, oldest first."""
        rows = self._db.execute(f"SELECT {COLUMNS} FROM runs WHERE prompt = ? AND digest = ? "
                                "AND dataset_digest = ? AND shard IS NULL ORDER BY id",
                                (prompt, digest, dataset_digest))
        return [_row(r) for r in rows]

    def rows(self, prompt: str | None = None, limit: int = 50) -> list[HistoryRow]:
        query = f"SELECT {COLUMNS} FROM runs"
        args: tuple = ()
        if prompt:
            query += " WHERE prompt = ?"
            args = (prompt,)
        query += " ORDER BY id DESC LIMIT ?"
        return [_row(r) for r in self._db.execute(query, (*args, limit))]

    def passing_run(self, prompt: str, digest: str) -> HistoryRow | None:
        """The latest complete (unsharded) passing run of exactly this content."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM runs WHERE prompt = ? AND digest = ? "
                               "AND passed = 1 AND shard IS NULL ORDER BY id DESC LIMIT 1",
                               (prompt, digest)).fetchone()
        return _row(row) if row else None

    def last_run(self, prompt: str, digest: str, dataset_digest: str,
                 since: str | None = None) -> HistoryRow | None:
        """The latest complete run of exactly this content on exactly this dataset."""
        query = (f"SELECT {COLUMNS} FROM runs WHERE prompt = ? AND digest = ? AND dataset_digest = ? "
                 "AND shard IS NULL")
        args: list = [prompt, digest, dataset_digest]
        if since:
            query += " AND started >= ?"
            args.append(since)
        row = self._db.execute(query + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return _row(row) if row else None

    def case_scores(self, run_id: int) -> list[dict[str, Any]] | None:
        """[{id, sample, error, scores}] of a run; None for runs recorded before they were kept."""
        row = self._db.execute(f"SELECT {CASE_SCORES} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def close(self) -> None:
        self._db.close()


def _row(r: tuple) -> HistoryRow:
    return HistoryRow(id=r[0], prompt=r[1], version=r[2], digest=r[3], provider=r[4] or "",
                      model=r[5] or "", dataset_digest=r[6] or "", cases=r[7] or 0,
                      errors=r[8] or 0, score=r[9] or 0.0, metrics=json.loads(r[10] or "{}"),
                      gates=json.loads(r[11] or "[]"), passed=bool(r[12]), baseline=r[13],
                      regressed=bool(r[14]), shard=r[15], started=r[16] or "",
                      duration_s=r[17] or 0.0, kind=r[18] or "eval", accepted=bool(r[19]),
                      suite_digest=r[20] or "", params_digest=r[21] or "",
                      provider_errors=r[22] or 0)


def _case_scores_json(run: RunResult) -> str:
    """json.dumps of [{id, sample, error, scores}], written case by case: a list of
    100,000 dicts next to its JSON text was the peak of recording a big run."""
    items = ", ".join(json.dumps({"id": c.id, "sample": c.sample, "error": bool(c.error),
                                  "scores": c.scores}) for c in light_cases(run.cases))
    return f"[{items}]"


def unreadable(path: Path, exc: Exception, what: str):
    from ..errors import ValidationError
    return ValidationError(f"cannot open the {what}: {exc}", file=str(path),
                           fix="move the file away; promptctl starts a new one")
