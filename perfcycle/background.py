"""Letting a year's cycle go on from the workbench: on a Prefect server its deployment, embedded a background
`perfcycle run --year Y` of its own, logged to a file, with the person who asked for it audited."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from models import now
from models.tables import CycleLock
from perfcycle import audit
from perfcycle.locks import is_stale
from perfcycle.orchestration import RunRef

RUN_LOGS = Path("runs")  # beside the database of the working folder, one log per run started here


@dataclass(frozen=True)
class Continued:
    """What asking the cycle to go on did: where (server or here), and how to follow it."""

    how: str  # server outcome (resumed, started, running, waiting, no-deployment) or "started-here"
    pid: int | None = None
    log: Path | None = None
    run: RunRef | None = None  # the annual-cycle run on the server, which the page links to


def running(session: Session, year: int) -> str | None:
    """Who runs the year's cycle right now, if a run holds its lock."""
    lock = session.exec(select(CycleLock).where(CycleLock.year == year)).first()
    if lock is None or is_stale(lock):
        return None
    return lock.holder


def continue_cycle(session: Session, year: int, by: str, logs: Path = RUN_LOGS) -> Continued:
    """Make the year's cycle go on now; audited under `by` (committed before the run starts)."""
    from perfcycle.orchestration import continue_cycle_run

    outcome, run = continue_cycle_run(year)
    if outcome:
        payload = {"year": year, "how": outcome, "flow_run_id": run.id if run else ""}
        audit.append(session, by, "cycle.continued", f"cycle:{year}", payload)
        session.commit()
        return Continued(outcome, run=run)
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"{year}-{now():%Y%m%d-%H%M%S}.log").resolve()
    audit.append(
        session, by, "cycle.continued", f"cycle:{year}", {"year": year, "how": "started-here", "log": str(log)}
    )
    session.commit()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "perfcycle", "run", "--year", str(year)],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    return Continued("started-here", process.pid, log)
