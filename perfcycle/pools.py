"""Process pools kept from one stage to the next: the document renderer's and the workbook reader's.

Spawned, not forked (the parent holds database connections and threads); started only when a call brings
enough work to pay for the workers' start, then reused by any later call with a batch's worth; and their
workers exit when the parent dies, after finishing the item they are on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: In a worker: held while it works on an item that must not be left half done (a file being written).
busy = threading.Lock()
#: In a worker: set once the parent has died; no item is begun after.
parent_gone = threading.Event()


def worker_count() -> int:
    """How many processes a pool has: PERFCYCLE_RENDER_WORKERS, else one per core."""
    from perfcycle.settings import get_settings

    configured = get_settings().render_workers
    return configured if configured is not None else os.cpu_count() or 1


def stop_with_parent() -> None:
    """In a worker: exit when the parent process dies (killed, it cannot stop its pool, and a worker left
    waiting for work would hold the parent's output pipes open forever)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        parent_gone.set()
        with busy:
            os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _start_worker(nice: int, prepare: Callable[[], object] | None) -> None:
    # One of a pool sized to the cores: BLAS threads of its own (numpy, behind openpyxl and matplotlib) would
    # only compete with the others, and cost ≈ 0.13 s more CPU to start.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    stop_with_parent()
    if os.getpriority(os.PRIO_PROCESS, 0) < nice:  # the parent may have lowered it already
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    if prepare is not None:
        prepare()


class SharedPool:
    """One process pool of a process, kept from one call to the next; its workers run `niceness` steps below
    the parent when the parent's own work is what the pool feeds (and should not wait for the CPU), and each
    runs `prepare` as it starts (what its first item would otherwise load, on the clock of a stage)."""

    def __init__(self, *, niceness: int = 0, prepare: Callable[[], object] | None = None) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0
        self._lock = threading.Lock()
        self._niceness = niceness
        self._prepare = prepare

    @property
    def current(self) -> ProcessPoolExecutor | None:
        """The pool while it runs."""
        return self._pool

    def get(self, workers: int, items: int, *, start_at: int, keep_from: int) -> ProcessPoolExecutor | None:
        """The pool of `workers` processes; None when `items` are too few: fewer than `start_at` to start it,
        fewer than `keep_from` to hand to it once it runs."""
        with self._lock:
            if self._pool is not None and self._workers == workers:
                return self._pool if items >= keep_from else None
            if items < start_at:
                return None
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._nice_value(), self._prepare),
            )
            self._workers = workers
            return self._pool

    def warm(self, task: Callable[..., object], *args: Any) -> None:
        """Start the running pool's processes now, each with `task(*args)`, and lower their priority at once:
        their start (a Python and its imports) then takes the CPU the parent leaves, not the parent's."""
        pool = self._pool
        if pool is None:
            return
        before = {child.pid for child in multiprocessing.active_children()}
        for _ in range(self._workers):
            pool.submit(task, *args)
        if not self._niceness:
            return
        nice = self._nice_value()
        for child in multiprocessing.active_children():
            if child.pid is not None and child.pid not in before:
                with contextlib.suppress(OSError):  # it is gone already
                    os.setpriority(os.PRIO_PROCESS, child.pid, nice)

    def _nice_value(self) -> int:
        """The niceness of the workers: `niceness` steps below this process."""
        return min(19, os.getpriority(os.PRIO_PROCESS, 0) + self._niceness)

    def shutdown(self) -> None:
        """Stop the worker processes (they also stop with this process)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
