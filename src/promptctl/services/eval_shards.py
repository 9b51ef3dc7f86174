"""`promptctl eval merge`: shard results joined into whole runs, checked complete,
re-summarised, recorded and attested."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, UsageError, ValidationError
from .eval_history import record_run
from .eval_run import load_suite
from .evaluate import EvalReport
from .project import Project, load_version


def merge(project: Project, files: list[Path], record: bool = True) -> EvalReport:
    """`promptctl eval merge`: join shard JSON results into whole runs, re-summarised, and
    record (and attest) them."""
    report = join_shards(files)
    if record:
        record_merged(project, report)
    return report


def join_shards(files: list[Path]) -> EvalReport:
    """Shard JSON results joined into whole runs, re-summarised; needs no repo, so
    `eval merge --no-record` works anywhere."""
    from ..evals.results import RunResult

    groups: dict[tuple, list] = {}
    for file in files:
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
            runs = [RunResult.from_dict(r) for r in data["runs"]]
        except FileNotFoundError as exc:
            raise NotFoundError("file not found", file=str(file)) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"not a promptctl eval JSON result ({exc})", file=str(file),
                                  fix="produce it with `promptctl eval ... --format json`") from exc
        for run in runs:
            key = (run.prompt, run.version, run.digest, run.model, run.dataset_digest)
            groups.setdefault(key, []).append(run)
    report = EvalReport()
    for parts in groups.values():
        _check_complete(parts)
        report.runs.append(_joined(parts))
    return report


def _joined(parts: list) -> Any:
    """The shards of one run as that run: each case once, in suite order."""
    from ..evals.results import summarise

    seen: set = set()
    cases = []
    for part in parts:
        for case in part.cases:
            if case.key not in seen:
                seen.add(case.key)
                cases.append(case)
    cases.sort(key=lambda c: (c.index, c.sample))
    merged = replace(parts[0], cases=cases, shard=None, comparison=None,
                     duration_s=round(max(p.duration_s for p in parts), 3))
    merged.summary = summarise(merged)
    return merged


def record_merged(project: Project, report: EvalReport) -> None:
    """Record merged runs in this machine's history and attest the complete ones."""
    for run in report.runs:
        record_run(project, run)
        _attest_merged(project, run)


def _attest_merged(project: Project, run) -> None:
    """A merged run is complete: attest it like a single run, with the suite as it is here."""
    from .evidence import attest

    if not run.suite or project.working.read(run.suite) is None:
        return     # results written before runs named their suite
    suite, _, dataset_digest = load_suite(project, run.suite)
    if dataset_digest != run.dataset_digest:
        return     # the dataset changed since the shards ran: the run proves nothing of it
    content = load_version(project, run.prompt, run.version)
    if content.digest == run.digest:
        run.attested = [r.tag for r in attest(project, run, run.suite, suite, content)]


def _check_complete(parts: list) -> None:
    """A merged run counts as complete (for gates and --require-eval) only with every shard."""
    specs = {p.shard for p in parts}
    if None in specs:
        return   # an unsharded run is whole by itself
    first = parts[0]
    where = f"{first.prompt}@{first.version}"
    try:
        pairs = {(int(spec.split("/")[0]), int(spec.split("/")[1])) for spec in specs}
    except (ValueError, IndexError, AttributeError) as exc:
        raise UsageError(f"shard {sorted(map(str, specs))} is not I/N", field=where,
                         fix="merge files written by `promptctl eval --shard I/N`") from exc
    totals = {total for _, total in pairs}
    if len(totals) > 1:
        raise UsageError(f"shards of different splits ({', '.join(sorted(specs))})", field=where,
                         fix="merge the files of one `--shard I/N` run")
    total = totals.pop()
    missing = sorted(set(range(1, total + 1)) - {index for index, _ in pairs})
    if missing:
        raise UsageError(f"shard {', '.join(f'{i}/{total}' for i in missing)} missing", field=where,
                         fix="pass the JSON result of every shard")
