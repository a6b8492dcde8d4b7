"""Fault injection for the crash-and-resume tests: die abruptly at a named point of the cycle.

`PERFCYCLE_FAULT=<point>[:<n>]` kills the process with SIGKILL the n-th time (default 1st) it reaches
`checkpoint(<point>)`. Nothing happens when the variable is unset, which is always the case in production.
The points: `import-file` (a file's rows committed), `document-written` (a document renamed into place) and
`notification-sent` (a message sent, its outcome not yet recorded).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def checkpoint(point: str) -> None:
    """A place where a crash must leave nothing half-written; the tests kill the process here."""
    wanted = os.environ.get("PERFCYCLE_FAULT")
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _reached[point] += 1
    if _reached[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
