"""Pausing Python's cyclic garbage collector around batch work that allocates many short-lived objects.

Detection and planning build hundreds of thousands of small acyclic objects (pair scores, candidates, changes).
Each burst of allocations triggers collections that walk the whole heap, the index's photos included, and find
nothing to free: a quarter of a plan's time. Reference counting frees those objects anyway; any cycle left behind
is collected as usual once the pause ends.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block (nesting is fine: only the outermost pause turns it back on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
