"""What `eval` and `drift` both show while and after they run: the progress bar on
stderr and the comparison of a run with its baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .common import fitted_console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class progress:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        import sys
        self.bar: Progress | None = None
        if not sys.stderr.isatty():
            return None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        from rich.table import Column

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                speed = task.finished_speed or task.speed
                if speed is None:
                    return Text("")
                return Text(f"{speed:.0f}/s" if speed >= 10 else f"{speed:.1f}/s")

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       Rate(table_column=Column(no_wrap=True)), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                       console=fitted_console(stderr=True), transient=True)
        bar.start()
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in self.tasks:
                self.tasks[label] = bar.add_task(label, total=total)
            bar.update(self.tasks[label], completed=done)
        return update

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def print_comparison(console, comp: dict, title: str | None = None) -> None:
    from ..evals.report import adjusted_p, cut_note, fmt_interval
    from .tables import fitted_table
    console.print(title or f"vs baseline {comp['baseline_version']} ({comp['paired']} paired):",
                  markup=False, soft_wrap=False)
    from ..evals.report import power_line, verdict
    rows = []
    for name, m in comp["metrics"].items():
        mark = verdict(m)
        mark = ("[red]REGRESSION[/]" if m["regression"] else
                f"[yellow]{mark}[/]" if mark.startswith("not detectable") else mark)
        rows.append([name, f"{m['baseline']:.3f}", f"{m['candidate']:.3f}", f"{m['delta']:+.3f}",
                     fmt_interval(m["low"], m["high"], signed=True), f"{m['p']:.2g}",
                     adjusted_p(m), mark])
    # short headers: eight columns must fit 80 (base/cand. are the baseline's and candidate's means)
    headers = ("metric", "base", "cand.", "delta", "95% interval", "p", "Holm p", "")
    console.print(fitted_table(headers, rows, numeric=range(1, 7)))
    tests = sorted({m["test"] for m in comp["metrics"].values()})
    console.print(f"p: {', '.join(tests)} test; {power_line(comp)}", markup=False, soft_wrap=False)
    flipped = comp["flipped"]
    if flipped:
        note = cut_note(min(20, len(flipped)), len(flipped))
        console.print("pass → fail: " + ", ".join(flipped[:20]) + (f" {note}" if note else ""),
                      markup=False, soft_wrap=False)
