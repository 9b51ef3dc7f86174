"""Fewer garbage-collector passes while thousands of releases are loaded in one go."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

# Young collections every 50,000 allocations (Python's default is 700) still free the
# short-lived cycles of a load; the older generations, where the loaded data piles up,
# are left alone until the thresholds are put back.
BULK_THRESHOLDS = (50_000, 1_000, 1_000)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Loading 10,000 releases allocates millions of objects that all stay alive; with the
    default thresholds the collector scans that growing heap again and again (a fifth of
    `verify`'s CPU at 1,000 prompts, a quarter at 5,000). The thresholds are put back
    afterwards unless something else changed them meanwhile."""
    before = gc.get_threshold()
    bulk = tuple(max(mine, theirs) for mine, theirs in zip(BULK_THRESHOLDS, before, strict=False))
    gc.set_threshold(*bulk)
    try:
        yield
    finally:
        if gc.get_threshold() == bulk:
            gc.set_threshold(*before)
