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
from .eval_history import HISTORY_FILE, state_path
from .project import Project

TEMPLATE = "report/report.html.j2"
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
WIDTH, HEIGHT, PAD = 640, 200, 36


@dataclass
class PromptSection:
    name: str
    chart: dict[str, Any] | None = None
    served: list[dict[str, Any]] = field(default_factory=list)    # per env: version + evidence
    diff: dict[str, Any] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # manifest decisions
    srm: list[dict[str, Any]] = field(default_factory=list)     # running canaries' split check


def report_page(project: Project, output: Path, env: str | None = None) -> dict[str, Any]:
    """Write the page to `output`; returns the context it was rendered from."""
    context = build_context(project, env)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(context), encoding="utf-8")
    return context


def build_context(project: Project, env: str | None = None) -> dict[str, Any]:
    from ..prompt_files import list_prompt_names
    from .deploy_status import status
    from .working_manifest import read_manifest

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
        served = [r for r in rows if r.name == name]
        sections.append(PromptSection(name=name, chart=score_chart(own),
                                      served=[_served(r, own) for r in served],
                                      diff=_diff_summary(project, name),
                                      calls=[c for c in calls if c["name"] == name],
                                      timeline=_timeline(project, name, served),
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
    """This machine's runs joined with the attested ones (git notes), oldest first."""
    from ..evals.history import History
    from .evidence import attested_rows

    path = state_path(project, "history", HISTORY_FILE)
    local = []
    if path.exists():
        store = History(path)
        try:
            local = store.rows(None, 100_000)
        finally:
            store.close()
    return sorted(attested_rows(project, None, local), key=lambda r: r.started)


def evidence_for(rows: list, version: str | None):
    """The run that speaks for a served version: its newest attested run, else its newest
    local one. A working-tree run never speaks for a release."""
    runs = [r for r in rows if not r.shard and r.version == version]
    attested = [r for r in runs if "attested" in (r.source or "")]
    pool = attested or runs
    return max(pool, key=lambda r: r.started) if pool else None


def _served(row, rows: list) -> dict[str, Any]:
    return {"env": row.env, "segment": row.segment, "active": row.active,
            "evidence": evidence_for(rows, row.active),
            "canary": row.canary if row.canary and row.weight else None, "weight": row.weight,
            "canary_evidence": evidence_for(rows, row.canary) if row.canary and row.weight else None}


def _timeline(project: Project, name: str, served: list, limit: int = 30) -> list[dict[str, Any]]:
    """The manifest's decisions for this prompt (promote, canary, weight, rollback) from its
    git log, newest first: when, by whom, the numbers, and why."""
    from .deploy_status import history

    out = []
    for where in sorted({(r.env, r.segment) for r in served}):
        try:
            changes = history(project, name, where[0], where[1])
        except PromptctlError:
            continue
        for change in changes:
            out.append({"env": where[0] + (f"/{where[1]}" if where[1] else ""),
                        "date": change.date[:16].replace("T", " "), "action": change.action,
                        "active": change.active or "", "canary": change.canary or "",
                        "weight": change.weight, "author": change.author, "why": change.why})
    out.sort(key=lambda c: c["date"], reverse=True)
    return out[:limit]


CHAR_PX = 6.6      # width of one 11 px label character, generously
LANE_PX = 12       # height of one row of version labels


def score_chart(rows: list, width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any] | None:
    """SVG geometry for a prompt's runs: one line per metric on a fixed 0..1 axis against
    time, a dashed marker where the version or the model changes (labels stacked in rows
    so they never collide), and date ticks along the bottom."""
    from ..evals.trend import trends

    trend = next(iter(trends(rows).values()), None)
    if trend is None:
        return None
    points = trend.points
    x = _time_positions([p.started for p in points], width)
    markers, lanes = _markers(points, x, width)
    top = PAD + lanes * LANE_PX       # the plot starts below the label rows

    def y(value: float) -> float:
        return round(height - PAD - min(max(value, 0.0), 1.0) * (height - PAD - top), 1)

    lines = []
    count = len(trend.series)
    for i, (metric, values) in enumerate(trend.series.items()):
        dots = [{"x": x[j], "y": y(v), "title": f"{metric} {v:.1%} · {p.version} · {p.model} · "
                 f"{p.started[:16].replace('T', ' ')}"}
                for j, (v, p) in enumerate(zip(values, points, strict=False)) if v is not None]
        # earlier series are drawn wider, so a series with the same values as a later one
        # still shows as a band around it instead of vanishing under it
        lines.append({"name": metric, "colour": COLOURS[i % len(COLOURS)],
                      "width": 2 + 2.5 * (count - 1 - i), "radius": 3 + 1.5 * (count - 1 - i),
                      "points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots,
                      "last": values[-1]})
    for m in markers:
        m["y1"] = top - 4
    ticks = [{"y": y(v), "label": f"{v:.0%}"} for v in (0.0, 0.5, 1.0)]
    return {"width": width, "height": height, "pad": PAD, "top": top, "lines": lines,
            "markers": markers, "ticks": ticks, "dates": _date_ticks(points, x, width),
            "runs": len(points), "first": points[0].started[:10], "last": points[-1].started[:10]}


def _time_positions(started: list[str], width: int) -> list[float]:
    """x of each run by its time; evenly spaced when the times cannot be read or all agree."""
    try:
        stamps = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in started]
    except ValueError:
        stamps = []
    span = (max(stamps) - min(stamps)) if stamps else 0.0
    if span <= 0:
        step = (width - 2 * PAD) / max(len(started) - 1, 1)
        return [round(PAD + i * step, 1) for i in range(len(started))]
    return [round(PAD + (t - stamps[0]) / span * (width - 2 * PAD), 1) for t in stamps]


def _markers(points, x: list[float], width: int) -> tuple[list[dict[str, Any]], int]:
    """A marker per change of version or model; each label goes to the first row where it
    does not touch the previous label of that row."""
    markers: list[dict[str, Any]] = []
    lane_ends: list[float] = []
    for j, point in enumerate(points):
        before = points[j - 1] if j else None
        if before is not None and (point.version, point.model) == (before.version, before.model):
            continue
        label = f"{point.version} · {point.model}"
        size = len(label) * CHAR_PX
        right = x[j] + 3 + size > width - 2       # would run past the edge: end at the marker
        start = x[j] - 3 - size if right else x[j] + 3
        lane = next((i for i, end in enumerate(lane_ends) if start > end + 6), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(0.0)
        lane_ends[lane] = start + size
        markers.append({"x": x[j], "label": label, "anchor": "end" if right else "start",
                        "text_x": x[j] - 3 if right else x[j] + 3,
                        "text_y": PAD - 4 + lane * LANE_PX})
    return markers, max(len(lane_ends) - 1, 0)


def _date_ticks(points, x: list[float], width: int) -> list[dict[str, Any]]:
    """Dates under the plot, at least 90 px apart, from the first run to the last."""
    ticks: list[dict[str, Any]] = []
    for j, point in enumerate(points):
        label = point.started[:10]
        if not ticks or (label != ticks[-1]["label"] and x[j] - ticks[-1]["x"] >= 90):
            ticks.append({"x": x[j], "label": label})
    last = points[-1].started[:10]
    if ticks[-1]["label"] != last:
        tick = {"x": x[-1], "label": last}
        if len(ticks) > 1 and x[-1] - ticks[-1]["x"] < 90:
            ticks[-1] = tick
        elif x[-1] - ticks[-1]["x"] >= 90:
            ticks.append(tick)
    for tick in ticks:
        tick["anchor"] = ("start" if tick["x"] < PAD + 40 else
                          "end" if tick["x"] > width - PAD - 40 else "middle")
    return ticks


# ---------------------------------------------------------------- diff

def _diff_summary(project: Project, name: str) -> dict[str, Any] | None:
    """The latest release against the one before it. Never the working tree: the page is
    about what was released and served, not one machine's uncommitted edits."""
    from ..versions import sort_versions
    from .prompts import diff

    try:
        versions = sort_versions([r.version for r in project.store.releases(name)])
        result = diff(project, name, versions[-2], versions[-1]) if len(versions) > 1 else None
    except PromptctlError as exc:       # a release that does not load: say so, keep the page
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
        from ..runtime import log_target
    except ImportError:                 # a build without the call log module
        return []
    target = log_target.resolve_target(None, project.root)
    if not isinstance(target, (str, Path)) or str(target).endswith(".jsonl"):
        return []
    path = Path(target)        # relative to the repo's root already
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(_CALLS).fetchall()
            scores = _score_means(db)
        finally:
            db.close()
    except sqlite3.DatabaseError:       # not a call log, or another schema: leave it out
        return []
    return [{"name": r[0], "env": r[1], "segment": r[2], "version": r[3], "variant": r[4],
             "calls": r[5], "error_rate": r[6] or 0.0, "latency_ms": r[7],
             "scores": scores.get(tuple(r[:5]), {})} for r in rows]


# A score's value per call: the latest feedback carrying it (attach), else the call's own.
_SCORES = """
WITH keys AS (
  SELECT c.call_id, s.key FROM calls c, json_each(COALESCE(c.scores, '{}')) s
  UNION
  SELECT f.call_id, s.key FROM feedback f, json_each(f.scores) s
), valued AS (
  SELECT c.name, COALESCE(c.env, '') AS env, COALESCE(c.segment, '') AS segment, c.version,
         c.variant, k.key,
         COALESCE((SELECT json_extract(f.scores, '$."' || k.key || '"') FROM feedback f
                   WHERE f.call_id = c.call_id
                     AND json_extract(f.scores, '$."' || k.key || '"') IS NOT NULL
                   ORDER BY f.ts DESC LIMIT 1),
                  json_extract(c.scores, '$."' || k.key || '"')) AS v
  FROM keys k JOIN calls c ON c.call_id = k.call_id
)
SELECT name, env, segment, version, variant, key, AVG(v), COUNT(v) FROM valued
GROUP BY 1, 2, 3, 4, 5, 6
"""


def _score_means(db) -> dict[tuple, dict[str, dict[str, float]]]:
    """Per (name, env, segment, version, variant): each recorded score's mean and count."""
    try:
        rows = db.execute(_SCORES).fetchall()
    except sqlite3.DatabaseError:       # an older log without scores or feedback
        return {}
    out: dict[tuple, dict[str, dict[str, float]]] = {}
    for *group, key, mean, count in rows:
        if mean is not None:
            out.setdefault(tuple(group), {})[key] = {"mean": float(mean), "n": count}
    return out


def _srm_checks(project: Project, env: str | None) -> list[dict[str, Any]]:
    """The sample-ratio check of every running canary, as `canary analyze` makes it."""
    from ..errors import PromptctlError
    from .canary import analyze_target
    from .canary_targets import running_canaries

    out = []
    try:
        targets = running_canaries(project, env)
    except PromptctlError:
        return []
    for target in targets:
        try:
            decision = analyze_target(project, target, datetime.now(timezone.utc).timestamp(),
                                      None, 0).decision
        except PromptctlError:
            continue
        if decision.srm is not None and decision.srm.verdict != "off":
            where = target.env + (f"/{target.segment}" if target.segment else "")
            out.append({"name": target.name, "where": where, "version": target.version,
                        "verdict": decision.srm.verdict, "reason": decision.srm.reason})
    return out


__all__ = ["build_context", "render", "report_page", "score_chart"]
