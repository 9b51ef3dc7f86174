"""`promptctl report`: one self-contained HTML page of what runs where and how it scores.

The page has no scripts, fonts or images to fetch: CSS and SVG charts are inline, so it
opens from a CI artifact or an email attachment with no network. Every value goes
through Jinja's autoescape; this module computes numbers and plain strings only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, PromptctlError
from .evaluate import HISTORY_FILE, state_path
from .project import Project, open_project

TEMPLATE = "report/report.html.j2"
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
WIDTH, HEIGHT, PAD = 640, 200, 36


@dataclass
class PromptSection:
    name: str
    chart: dict[str, Any] | None = None
    last_run: Any = None                         # evals.history.HistoryRow
    diff: dict[str, Any] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    srm: list[dict[str, Any]] = field(default_factory=list)     # running canaries' split check


def report_page(directory: Path | str, output: Path, env: str | None = None) -> dict[str, Any]:
    """Write the page to `output`; returns the context it was rendered from."""
    project = open_project(directory)
    context = build_context(project, env)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(context), encoding="utf-8")
    return context


def build_context(project: Project, env: str | None = None) -> dict[str, Any]:
    from ..files import list_prompt_names
    from .deploy import read_manifest, status

    manifest = read_manifest(project)
    if env is not None and env not in manifest.environments:
        raise NotFoundError(f"no environment {env!r}", file=project.config.manifest,
                            field="--env",
                            fix=f"known: {', '.join(manifest.environments) or 'none yet'}")
    rows = status(project, env)
    envs: dict[str, list] = {}
    for row in rows:
        envs.setdefault(row.env, []).append(row)
    names = sorted({r.name for r in rows} if env else
                   {r.name for r in rows} | set(list_prompt_names(project.root, project.config)))
    history = _history_rows(project)
    calls = _call_stats(project)
    srm = _srm_checks(project, env) if calls else []
    sections = []
    for name in names:
        own = [r for r in history if r.prompt == name]
        sections.append(PromptSection(name=name, chart=score_chart(own), last_run=_last(own),
                                      diff=_diff_summary(project, name),
                                      calls=[c for c in calls if c["name"] == name],
                                      srm=[c for c in srm if c["name"] == name]))
    return {"title": f"promptctl report — {project.root.name}", "env": env,
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "envs": envs, "prompts": sections, "call_log": bool(calls)}


def render(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    jinja = Environment(loader=PackageLoader("promptctl", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True),
                        trim_blocks=True, lstrip_blocks=True)
    return jinja.get_template(TEMPLATE).render(**context)


# ---------------------------------------------------------------- eval history

def _history_rows(project: Project) -> list:
    from ..evals.history import History

    path = state_path(project, "history", HISTORY_FILE)
    if not path.exists():
        return []
    store = History(path)
    try:
        return store.rows(None, 100_000)
    finally:
        store.close()


def _last(rows: list):
    complete = [r for r in rows if not r.shard]
    return max(complete, key=lambda r: r.id) if complete else None


def score_chart(rows: list, width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any] | None:
    """SVG geometry for a prompt's runs: one line per metric on a fixed 0..1 axis, and a
    dashed marker where the version or the model changes."""
    from ..evals.trend import trends

    trend = next(iter(trends(rows).values()), None)
    if trend is None:
        return None
    points = trend.points
    step = (width - 2 * PAD) / max(len(points) - 1, 1)
    x = [round(PAD + i * step, 1) for i in range(len(points))]

    def y(value: float) -> float:
        return round(height - PAD - min(max(value, 0.0), 1.0) * (height - 2 * PAD), 1)

    lines = []
    for i, (metric, values) in enumerate(trend.series.items()):
        dots = [{"x": x[j], "y": y(v), "title": f"{metric} {v:.1%} · {p.version} · {p.model} · "
                 f"{p.started[:16].replace('T', ' ')}"}
                for j, (v, p) in enumerate(zip(values, points)) if v is not None]
        lines.append({"name": metric, "colour": COLOURS[i % len(COLOURS)],
                      "points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots,
                      "last": values[-1]})
    markers = []
    for j, point in enumerate(points):
        before = points[j - 1] if j else None
        if before is None or (point.version, point.model) != (before.version, before.model):
            # Labels past the middle end at their marker, so the last one is not cut off.
            right = x[j] > width / 2
            markers.append({"x": x[j], "label": f"{point.version} · {point.model}",
                            "anchor": "end" if right else "start",
                            "text_x": x[j] - 3 if right else x[j] + 3})
    ticks = [{"y": y(v), "label": f"{v:.0%}"} for v in (0.0, 0.5, 1.0)]
    return {"width": width, "height": height, "pad": PAD, "lines": lines, "markers": markers,
            "ticks": ticks, "runs": len(points), "first": points[0].started[:10],
            "last": points[-1].started[:10]}


# ---------------------------------------------------------------- diff

def _diff_summary(project: Project, name: str) -> dict[str, Any] | None:
    """The working tree against the latest release when it differs, else the latest
    release against the one before it."""
    from ..versions import sort_versions
    from .prompts import diff

    try:
        versions = sort_versions([r.version for r in project.store.releases(name)])
        result = diff(project, name) if versions else None
        if result is not None and not result.changed and len(versions) > 1:
            result = diff(project, name, versions[-2], versions[-1])
    except PromptctlError as exc:       # a broken working copy: say so, keep the page
        return {"error": exc.one_line()}
    if result is None or not result.changed:
        return None
    return {"from": result.old_label, "to": result.new_label, "level": result.level.label,
            "reasons": list(result.reasons),
            "inputs": [f"{c.name}: {c.change}" for c in result.inputs],
            "model": list(result.model), "output": list(result.output),
            "tools": list(result.tools), "config": list(result.config),
            "files": {path: text for path, text in result.files.items()}}


# ---------------------------------------------------------------- call log

_CALLS = """
SELECT name, COALESCE(env, ''), COALESCE(segment, ''), version, variant, COUNT(*),
       AVG(1.0 - success), AVG(latency_ms)
FROM calls GROUP BY name, env, segment, version, variant ORDER BY name, env, segment, variant
"""


def _call_stats(project: Project) -> list[dict[str, Any]]:
    """Per variant: calls, error rate, mean latency, from the SQLite call log when present."""
    try:
        from .. import calllog
    except ImportError:                 # a build without the call log module
        return []
    target = calllog.resolve_target(None, project.root)
    if not isinstance(target, (str, Path)) or str(target).endswith(".jsonl"):
        return []
    path = Path(target)
    path = path if path.is_absolute() else project.root / path
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(_CALLS).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError:       # not a call log, or another schema: leave it out
        return []
    return [{"name": r[0], "env": r[1], "segment": r[2], "version": r[3], "variant": r[4],
             "calls": r[5], "error_rate": r[6] or 0.0, "latency_ms": r[7]} for r in rows]


def _srm_checks(project: Project, env: str | None) -> list[dict[str, Any]]:
    """The sample-ratio check of every running canary, as `canary analyze` makes it."""
    from ..errors import PromptctlError
    from . import canary

    out = []
    try:
        targets = canary.running_canaries(project, env)
    except PromptctlError:
        return []
    for target in targets:
        try:
            decision = canary.analyze_target(project, target, datetime.now(timezone.utc).timestamp(),
                                       None, 0).decision
        except PromptctlError:
            continue
        if decision.srm is not None and decision.srm.verdict != "off":
            where = target.env + (f"/{target.segment}" if target.segment else "")
            out.append({"name": target.name, "where": where, "version": target.version,
                        "verdict": decision.srm.verdict, "reason": decision.srm.reason})
    return out


__all__ = ["build_context", "render", "report_page", "score_chart"]
