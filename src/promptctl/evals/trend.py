"""A prompt's scores over time from eval history: the data behind the chart and the report page.

Pure: history rows in, series out. Every score is in [0, 1], so charts use that fixed
scale and a drop from 0.92 to 0.81 looks like one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BLOCKS = "▁▂▃▄▅▆▇█"
SCORE = "score"


@dataclass
class Point:
    run: int
    started: str
    version: str
    model: str
    passed: bool


@dataclass
class Trend:
    prompt: str
    points: list[Point] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)   # metric -> per point

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "points": [p.__dict__ for p in self.points],
                "series": self.series}

    def codes(self, attribute: str) -> tuple[str, dict[str, str]]:
        """One character per run for its version (or model), and the legend of characters."""
        legend: dict[str, str] = {}
        line = []
        for point in self.points:
            value = getattr(point, attribute)
            if value not in legend:
                legend[value] = _code(len(legend))
            line.append(legend[value])
        return "".join(line), {code: value for value, code in legend.items()}


def _code(i: int) -> str:
    alphabet = "123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return alphabet[i] if i < len(alphabet) else "+"


def trends(rows) -> dict[str, Trend]:
    """Per prompt, its complete (unsharded) runs oldest first, the overall score and each metric."""
    out: dict[str, Trend] = {}
    for row in sorted(rows, key=lambda r: r.id):
        if row.shard:
            continue
        trend = out.setdefault(row.prompt, Trend(row.prompt))
        trend.points.append(Point(row.id, row.started, row.version, row.model, row.passed))
        values = {SCORE: row.score, **row.metrics}
        index = len(trend.points) - 1
        for name in values:
            trend.series.setdefault(name, [None] * index)
        for name, column in trend.series.items():
            column.append(values.get(name))
    return out


def sparkline(values: list[float | None]) -> str:
    """One block per value on a fixed 0..1 scale; a gap where a run lacked the metric."""
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        else:
            level = min(max(float(value), 0.0), 1.0)
            out.append(BLOCKS[min(len(BLOCKS) - 1, int(level * len(BLOCKS)))])
    return "".join(out)


def first_last(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    return (present[0], present[-1]) if present else (None, None)
