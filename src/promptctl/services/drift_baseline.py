"""Which earlier run drift compares a served version with: its accepted baseline.

The baseline is a passing run of exactly what is served — same content, suite text,
dataset, provider, model and params — taken from the release's eval attestations (git
notes, shared by every clone) and this machine's eval history. Eval runs qualify (the
run made at promotion, normally); drift runs only when accepted (`drift --accept`, or
the first drift of a version that had no baseline). The newest qualifying run wins, so
a regression keeps being reported until someone evaluates, promotes or accepts again,
and a run during an outage, of a lenient suite or of another model never becomes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Need:
    """What the served version runs with today; a baseline must match all of it."""

    prompt: str
    digest: str
    suite_digest: str
    dataset_digest: str
    provider: str
    model: str
    params_digest: str


@dataclass(frozen=True)
class BaselineRun:
    """One candidate: an attested run or a recorded one (history carries case scores)."""

    source: str                        # "attestation" or "history"
    started: str
    version: str
    digest: str
    suite_digest: str
    dataset_digest: str
    provider: str
    model: str
    params_digest: str
    passed: bool
    cases: int
    errors: int
    score: float
    metrics: dict[str, float] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "eval"
    accepted: bool = False
    id: int | None = None              # the history run id
    tag: str | None = None             # the release tag whose note holds it

    @property
    def label(self) -> str:
        if self.id is not None:
            return f"run #{self.id}" + (" (accepted)" if self.accepted else "")
        return f"the run attested on {self.tag}"


def unusable(run: BaselineRun, need: Need) -> str | None:
    """Why `run` cannot be the baseline for `need`; None when it can."""
    for attribute in ("digest", "suite_digest", "dataset_digest", "provider", "model",
                      "params_digest"):
        if getattr(run, attribute) != getattr(need, attribute):
            return f"another {attribute.replace('_', ' ')}"
    if not run.passed and not run.accepted:   # accepting a lower level is deliberate
        return "it did not pass"
    if run.cases and 2 * run.errors >= run.cases:
        return "most of its calls failed"
    if run.kind == "drift" and not run.accepted:
        return "a drift run that nobody accepted"
    return None


def choose(candidates: list[BaselineRun], need: Need, since: str | None = None) -> BaselineRun | None:
    """The newest usable candidate (started at or after `since`, when given)."""
    usable = [c for c in candidates if unusable(c, need) is None
              and (since is None or c.started >= since)]
    # an accepted run wins a tie: accepting is the later, deliberate act
    return max(usable, key=lambda c: (c.started, c.accepted, c.id or 0), default=None)


# ---------------------------------------------------------------- the adapters

def from_history(row: Any) -> BaselineRun:
    """A recorded run (evals.history.HistoryRow)."""
    return BaselineRun("history", row.started, row.version, row.digest, row.suite_digest,
                       row.dataset_digest, row.provider, row.model, row.params_digest,
                       row.passed, row.cases, row.errors, row.score, dict(row.metrics),
                       list(row.gates), row.kind, row.accepted, row.id)


def from_attestation(a: Any) -> BaselineRun:
    """An eval attestation in git notes (evals.attestation.Attestation)."""
    return BaselineRun("attestation", a.time, a.version, a.prompt_digest, a.suite_digest,
                       a.dataset_digest, a.provider, a.model, a.params_digest, a.passed,
                       a.cases, a.errors, a.score, dict(a.metrics),
                       [g.model_dump() for g in a.gates], tag=a.tag)


def candidates(history_rows: list[Any], attestations: list[Any]) -> list[BaselineRun]:
    """Both sources, one entry per run: an eval run is recorded and attested alike, and
    the recorded copy keeps its case scores (a paired comparison), so it is preferred."""
    recorded = [from_history(r) for r in history_rows]
    seen = {(r.started, r.model, r.dataset_digest, r.suite_digest) for r in recorded}
    attested = [from_attestation(a) for a in attestations]
    return recorded + [a for a in attested
                       if (a.started, a.model, a.dataset_digest, a.suite_digest) not in seen]


def gather(project: Any, history: Any, name: str, digest: str,
           dataset_digest: str) -> list[BaselineRun]:
    """Every candidate for this content and dataset, from history and the tags' notes."""
    from ..errors import PromptctlError
    from .evidence import attestations

    try:
        attested = [a for a in attestations(project).of_digest(name, digest)
                    if a.dataset_digest == dataset_digest]
    except PromptctlError:
        attested = []     # no git notes readable here: this machine's history still counts
    return candidates(history.runs_of(name, digest, dataset_digest), attested)


__all__ = ["BaselineRun", "Need", "candidates", "choose", "gather", "unusable"]
