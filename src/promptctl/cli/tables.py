"""Tables that fit the terminal: long text folds onto the next line, numbers stay whole.

rich cuts a cell that does not fit with "…"; a metric name or an interval cut that way
(`no_refund_p…  -0.750–-0.…`) cannot be read back, so text columns fold and number
columns are as wide as their widest value.
"""

from __future__ import annotations

import sys
from typing import Iterable, Sequence

PIPE_WIDTH = 160   # piped output (CI logs) keeps whole digests and names
TEXT_MIN = 10      # the narrowest a text column folds to


def width_for(stream=None) -> int | None:
    """The console width: the terminal's on a terminal, else PIPE_WIDTH for pipes and files
    (a COLUMNS inherited from a parent's terminal must not fold a CI log)."""
    stream = stream or sys.stdout
    return None if stream.isatty() else PIPE_WIDTH


def fitted_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
                 numeric: Iterable[int] = (), header: bool = True):
    """A borderless rich table whose text columns fold and whose `numeric` columns never wrap."""
    from rich.table import Table
    from rich.text import Text

    rows = [list(r) for r in rows]
    numeric = set(numeric)
    table = Table(box=None, pad_edge=False, show_header=header)
    for i, name in enumerate(headers):
        widest = max([len(Text.from_markup(str(r[i])).plain) for r in rows] + [len(name)])
        if i in numeric:
            table.add_column(name, no_wrap=True, min_width=widest)
        else:   # folds, but never to a sliver while another text column takes the room
            table.add_column(name, overflow="fold", min_width=min(widest, TEXT_MIN))
    for row in rows:
        table.add_row(*row)
    return table
