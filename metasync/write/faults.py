"""Fault-injection points for the crash-safety tests: die like `kill -9` at a named step.

`METASYNC_FAULT=apply:write` kills the process the first time that point is reached, `apply:write@2` the second
time. Unset (every normal run), a fault point costs one environment lookup.
"""
from __future__ import annotations

import logging
import os
import signal
from collections import Counter

log = logging.getLogger(__name__)

ENV = "METASYNC_FAULT"
_hits: Counter[str] = Counter()


def fault_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition("@")
    if wanted != name:
        return
    _hits[name] += 1
    if _hits[name] == int(nth or 1):
        log.warning("fault injection: killing the process at %s", spec)
        os.kill(os.getpid(), signal.SIGKILL)
