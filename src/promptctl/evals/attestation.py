"""Eval attestations: a passing (or failing) run's evidence, kept in git notes on the release tag.

The SQLite history is one machine's memory; an attestation is the team's: CI evaluates a
release, appends one JSON line to the note of its tag object under `refs/notes/promptctl`
(`notes_ref:` in promptctl.yaml), and pushes that ref. Any clone that fetched it can then
gate a deploy on it. `--require-eval` accepts an attestation only when it proves the run
met exactly what the deploy will serve: this content, the suite and dataset as committed
now, and the provider and model of the target environment.

Notes are one blob per object: lines are appended, never rewritten, so the `cat_sort_uniq`
notes merge strategy (what `promptctl sync` uses) joins two clones' notes without conflict.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError as PydanticError

from ..model import Release

DEFAULT_NOTES_REF = "refs/notes/promptctl"
FORMAT = "promptctl-attestation/1"
# Providers that answer without a model: their runs prove the template, not the model.
OFFLINE_PROVIDERS = ("echo", "python")
# The suite field that lets an offline run count for a prompt served by a model API.
OFFLINE_FIELD = "accept_offline_runs"


class GateValue(BaseModel):
    """One gate of the run: its text, the observed value, whether it held."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    gate: str
    value: float | None = None
    passed: bool


class Regression(BaseModel):
    """The baseline comparison of the run, when it had one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    baseline: str | None = None
    regressed: bool = False


class Attestation(BaseModel):
    """One eval run of a released version, as recorded in git notes (one JSON line).

    Unknown keys are ignored so that a newer promptctl can add fields older clones still read.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: str = FORMAT
    prompt: str
    version: str
    tag: str
    prompt_digest: str
    suite: str                        # repo-relative suite path, e.g. evals/x/suite.yaml
    suite_digest: str
    dataset_digest: str
    provider: str
    model: str
    params_digest: str
    gates: list[GateValue] = Field(default_factory=list)
    passed: bool
    regression: Regression | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    score: float = 0.0
    cases: int = 0
    errors: int = 0
    time: str                         # when the run started, ISO 8601 UTC
    recorded: str = ""                # when the note was written (orders runs of one second)
    promptctl_version: str
    ran_at: str                       # a CI run URL, else user@host

    @property
    def offline(self) -> bool:
        return is_offline(self.provider)

    def to_line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def is_offline(provider: str) -> bool:
    return provider.split(":", 1)[0] in OFFLINE_PROVIDERS


def text_digest(text: str) -> str:
    """The digest of one file's text (line endings normalised, as prompt digests are)."""
    return "sha256:" + hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def params_digest(params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def where_it_ran(environ: dict[str, str] | None = None) -> str:
    """The CI run's URL when GitHub Actions' variables are set, else user@host."""
    env = os.environ if environ is None else environ
    server, repo, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                               "GITHUB_RUN_ID"))
    if server and repo and run:
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{server}/{repo}/actions/runs/{run}" + (f"/attempts/{attempt}" if attempt else "")
    import getpass
    import socket
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def from_run(run: Any, release: Release, *, suite: str, suite_digest: str,
             params: dict[str, Any]) -> Attestation:
    """The attestation of a complete run (`evals.results.RunResult`) of `release`."""
    from .. import __version__

    summary = run.summary or {}
    comparison = run.comparison
    gates = [GateValue(gate=g.get("gate", ""), value=g.get("value"), passed=bool(g.get("passed")))
             for g in summary.get("gates", [])]
    return Attestation(
        prompt=run.prompt, version=release.version, tag=release.tag, prompt_digest=run.digest,
        suite=suite, suite_digest=suite_digest, dataset_digest=run.dataset_digest,
        provider=run.provider, model=run.model, params_digest=params_digest(params),
        gates=gates, passed=run.passed,
        regression=None if comparison is None else Regression(
            baseline=comparison.get("baseline_version"),
            regressed=bool(comparison.get("regressed"))),
        metrics={**{k: float(v) for k, v in summary.get("builtins", {}).items()},
                 **{k: float(v["mean"]) for k, v in summary.get("metrics", {}).items()
                    if isinstance(v, dict) and v.get("mean") is not None}},
        score=float(summary.get("score") or 0.0), cases=int(summary.get("cases") or 0),
        errors=int(summary.get("errors") or 0),
        time=run.started or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        recorded=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        promptctl_version=__version__, ran_at=where_it_ran())


def parse_note(text: str | None) -> list[Attestation]:
    """Every attestation in one note; lines that are not ours (a hand-written note) are skipped."""
    found = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            continue
        try:
            found.append(Attestation.model_validate(data))
        except PydanticError:
            continue
    return found


# ---------------------------------------------------------------- reading and writing

class AttestationStore:
    """Attestations of one repo, read from and written to git notes through the git store."""

    def __init__(self, store: Any, ref: str = DEFAULT_NOTES_REF) -> None:
        self.store = store         # promptctl.store.GitStore
        self.ref = ref

    def record(self, release: Release, attestation: Attestation) -> None:
        """Append to the note of the release's tag object (a moved tag loses its notes)."""
        self.store.append_note(self.ref, release.tag_sha, attestation.to_line())

    def of_release(self, release: Release) -> list[Attestation]:
        """Attestations on this release's tag, oldest first; only those naming this tag."""
        found = parse_note(self.store.note(self.ref, release.tag_sha))
        return sorted((a for a in found if a.tag == release.tag), key=_order)

    def of_prompt(self, name: str) -> list[Attestation]:
        """Attestations on every release tag of a prompt, oldest first."""
        noted = self.store.noted_objects(self.ref)
        found = []
        for release in self.store.releases(name):
            if release.tag_sha in noted:
                found += self.of_release(release)
        return sorted(found, key=_order)

    def every(self) -> list[Attestation]:
        """Attestations on every release tag of every prompt, oldest first."""
        noted = self.store.noted_objects(self.ref)
        found = []
        for release in self.store.releases():
            if release.tag_sha in noted:
                found += self.of_release(release)
        return sorted(found, key=_order)

    def of_digest(self, name: str, digest: str) -> list[Attestation]:
        """Attestations of exactly this content (a final release and its rc share them)."""
        return [a for a in self.of_prompt(name) if a.prompt_digest == digest]


def _order(attestation: Attestation) -> tuple[str, str]:
    return attestation.time, attestation.recorded


# ---------------------------------------------------------------- matching

@dataclass(frozen=True)
class Requirement:
    """What a deploy would serve, which an attestation must have been run against."""

    prompt: str
    version: str
    prompt_digest: str
    suite: str
    suite_digest: str
    dataset_digest: str
    provider: str
    model: str
    accept_offline: bool = False     # the suite's `accept_offline_runs: true`


def mismatch(attestation: Attestation, need: Requirement) -> str | None:
    """Why this attestation does not prove `need` (None when it does), as a sentence part
    that follows "the last passing run ..."."""
    a = attestation
    if a.prompt_digest != need.prompt_digest:
        return f"evaluated content {a.prompt_digest[:19]}, not {need.prompt_digest[:19]}"
    if a.suite != need.suite:
        return f"used suite {a.suite} (the gate requires {need.suite})"
    if a.suite_digest != need.suite_digest:
        return f"used another revision of {need.suite} (commit the suite, then evaluate again)"
    if a.dataset_digest != need.dataset_digest:
        return (f"used another dataset ({a.dataset_digest[:19]}; {need.suite} as committed "
                f"now reads {need.dataset_digest[:19]})")
    if a.provider != need.provider:
        if not (a.offline and need.accept_offline):
            hint = (f" (set {OFFLINE_FIELD}: true in {need.suite} to accept offline runs)"
                    if a.offline else "")
            return f"used provider {a.provider}, the environment serves {need.provider}{hint}"
    if a.model != need.model:
        return f"used model {a.model}, the environment serves {need.model}"
    return None


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: the accepted attestation, or why none was accepted."""

    accepted: Attestation | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.accepted is not None


def judge(attestations: list[Attestation], need: Requirement) -> Verdict:
    """The newest passing attestation that proves `need`; else the reason naming the field."""
    where = f"{need.prompt}@{need.version}"
    if not attestations:
        return Verdict(None, f"{where} has no passing eval run attested (no attestation on its tag)")
    passing = [a for a in attestations if a.passed]
    for attestation in reversed(passing):
        if mismatch(attestation, need) is None:
            return Verdict(attestation)
    if not passing:
        last = attestations[-1]
        return Verdict(None, f"no passing eval run of {where}: the last run ({last.time}, "
                             f"suite {last.suite}) {_failure(last)}")
    last = passing[-1]
    return Verdict(None, f"{where}: the last passing run ({last.time}) {mismatch(last, need)}")


def _failure(attestation: Attestation) -> str:
    failed = [g.gate for g in attestation.gates if not g.passed]
    if failed:
        return f"failed gate {failed[0]}"
    if attestation.regression and attestation.regression.regressed:
        return f"regressed against {attestation.regression.baseline}"
    return "did not pass"


__all__ = ["Attestation", "AttestationStore", "DEFAULT_NOTES_REF", "GateValue", "OFFLINE_FIELD",
           "Regression", "Requirement", "Verdict", "from_run", "is_offline", "judge", "mismatch",
           "params_digest", "parse_note", "text_digest", "where_it_ran"]
