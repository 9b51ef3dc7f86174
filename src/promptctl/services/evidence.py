"""Eval evidence across clones: attest runs of released content, and gate deploys on it.

`attest` runs after an eval: a complete run of content some release tag carries becomes
an attestation in git notes on that tag. `require` is `--require-eval`: it builds what the
target environment would serve (content, suite and dataset as committed at HEAD, provider,
model pin) and accepts only an attestation of exactly that.
"""

from __future__ import annotations

from typing import Any

from ..errors import CheckFailed, PromptctlError, RepoError
from ..model import PromptContent, Release
from .project import Project


def attestations(project: Project):
    from ..evals.attestation import AttestationStore
    return AttestationStore(project.store, project.config.notes_ref)


def attest(project: Project, run: Any, suite_file: str, suite: Any,
           content: PromptContent) -> list[Release]:
    """Record a complete run on every release tag of its content; returns those releases.

    A shard proves nothing alone (its merge is the complete run), and content no release
    carries (an edited working tree) has no tag to hold the note."""
    from ..evals.attestation import from_run, text_digest

    if run.shard is not None:
        return []
    try:
        releases = [r for r in project.store.releases(run.prompt)
                    if r.annotated and r.digest == run.digest]
    except RepoError:
        return []   # not a git repo: nothing is released, nothing to attest
    if not releases:
        return []
    suite_digest = text_digest(project.working.read(suite_file) or "")
    params = dict(content.spec.model.params if suite.params is None else suite.params)
    store = attestations(project)
    for release in releases:
        store.record(release, from_run(run, release, suite=suite_file, suite_digest=suite_digest,
                                       params=params))
    return releases


def requirement(project: Project, name: str, version: str, content: PromptContent,
                env: str | None, segment: str | None = None):
    """What an attestation must match to let `name@version` serve in `env`."""
    from ..evals.attestation import Requirement, text_digest
    from ..evals.datasets import load_cases
    from ..evals.suite import parse_suite, suite_path

    suite_file = suite_path(project.config.evals_dir, name)
    committed = project.store.source_at("HEAD")
    text = committed.read(suite_file)
    if text is None:
        raise CheckFailed(f"{name} has no eval suite committed", file=suite_file,
                          fix="commit the suite, evaluate the release, or drop --require-eval")
    suite = parse_suite(text, suite_file)
    folder = suite_file.rsplit("/", 1)[0]
    _, dataset_digest = load_cases(lambda p: committed.read(f"{folder}/{p}"), suite.datasets,
                                   suite_file)
    return Requirement(prompt=name, version=version, prompt_digest=content.digest,
                       suite=suite_file, suite_digest=text_digest(text),
                       dataset_digest=dataset_digest, provider=content.spec.model.provider,
                       model=_served_model(project, name, content, env, segment),
                       accept_offline=suite.accept_offline_runs)


def _served_model(project: Project, name: str, content: PromptContent, env: str | None,
                  segment: str | None) -> str:
    """The env's model pin for this entry, else the prompt's own model (what the runtime does)."""
    if env is not None:
        from .working_manifest import read_manifest
        try:
            target = read_manifest(project).exact(env, name, segment)
        except PromptctlError:
            target = None     # the deploy itself reports a broken manifest
        if target is not None and target.model:
            return target.model
    return content.spec.model.name


def require(project: Project, name: str, version: str, content: PromptContent,
            env: str | None, segment: str | None = None):
    """The accepted attestation; CheckFailed (exit 1) naming what is missing or which field
    differs when none proves what `env` would serve."""
    from ..evals.attestation import judge

    need = requirement(project, name, version, content, env, segment)
    verdict = judge(attestations(project).of_digest(name, content.digest), need)
    if verdict.ok:
        return verdict.accepted
    raise CheckFailed(verdict.reason, fix=_fix(name, version, verdict.reason))


def _fix(name: str, version: str, reason: str) -> str:
    run = f"promptctl eval {name}@{version}"
    if "no attestation on its tag" in reason:
        return (f"run `{run}` (CI does it on main and pushes the note), then `promptctl sync`; "
                "or drop --require-eval")
    return f"run `{run}` with the committed suite and the served model, or drop --require-eval"


def attested_rows(project: Project, name: str | None, local: list) -> list:
    """Local history rows joined with attestations as rows, newest first (for `eval history`).
    A run is the same in both when prompt, content, start time, provider and model agree."""
    from dataclasses import replace

    try:
        store = attestations(project)
        found = store.of_prompt(name) if name else store.every()
    except RepoError:
        found = []     # not a git repo: local runs only
    attested = {(a.prompt, a.prompt_digest, a.time, a.provider, a.model): a for a in found}
    rows = []
    for row in local:
        same = attested.pop((row.prompt, row.digest, row.started, row.provider, row.model), None)
        rows.append(replace(row, source="local+attested") if same else row)
    rows += [_as_row(a) for a in attested.values()]
    return sorted(rows, key=lambda r: r.started, reverse=True)


def _as_row(a):
    from ..evals.history import HistoryRow

    return HistoryRow(
        id=0, prompt=a.prompt, version=a.version, digest=a.prompt_digest, provider=a.provider,
        model=a.model, dataset_digest=a.dataset_digest, cases=a.cases, errors=a.errors,
        score=a.score, metrics=dict(a.metrics),
        gates=[{"gate": g.gate, "value": g.value, "passed": g.passed} for g in a.gates],
        passed=a.passed, baseline=a.regression.baseline if a.regression else None,
        regressed=bool(a.regression and a.regression.regressed), shard=None, started=a.time,
        duration_s=0.0, source="attested")
