"""Run in a reading worker: what it has loaded, from a module that loads nothing itself."""

from __future__ import annotations

import os
import sys


def worker_state() -> tuple[bool, str | None]:
    """Whether the cell reader's library is imported, and the BLAS threads asked for."""
    return "python_calamine" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS")


def loaded(module: str) -> bool:
    """Whether a module is imported in this process."""
    return module in sys.modules
