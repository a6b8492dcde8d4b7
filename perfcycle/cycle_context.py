"""Where a cycle's runs read and write: its data workbook, its submissions folder and its output folder.

A run records with the cycle those it is given; every way of continuing the cycle (a decision with
`--resume`, a submission or a closed window that restarts the deployment, a schedule, a server resuming a
suspended run, `perfcycle run` on its own) uses the recorded ones unless it is given others, so the stages
after a gate read the same forms as those before it. A cycle that recorded no submissions folder falls
back to the one its collection windows recorded, then to PERFCYCLE_SUBMISSIONS_DIR; one without an output
folder to PERFCYCLE_OUTPUT_DIR.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from models import Cycle
from perfcycle.policy import Policy, load_policy, policy_from_json
from perfcycle.settings import get_settings
from perfcycle.stages import StageError


def cycle_policy(cycle: Cycle) -> Policy:
    """The policy the cycle recorded when it opened (never the file as edited since); a cycle that recorded
    none (imported history, a cycle made before policies were recorded) runs under the year's policy file."""
    return _recorded(cycle.policy_json) if cycle.policy_json else load_policy(cycle.year)


@functools.lru_cache(maxsize=32)
def _recorded(policy_json: str) -> Policy:
    return policy_from_json(policy_json)


@dataclass(frozen=True)
class CycleContext:
    """The data workbook (None: the base data already imported), the submissions folder and the output folder."""

    data: str | None
    submissions: str | None
    out_dir: str

    def describe(self) -> str:
        """In the coordinator's words, for the command line and the run's log."""
        return (
            f"基础数据 {self.data or '（沿用已导入的基础数据）'}；"
            f"填报目录 {self.submissions or '（未指定，不读取填报文件）'}；输出目录 {self.out_dir}"
        )

    def parameters(self) -> dict[str, str | None]:
        """As the annual-cycle flow's parameters."""
        return {"data": self.data, "submissions": self.submissions, "out_dir": self.out_dir}


def absolute(path: str | Path | None) -> str | None:
    """A given path as an absolute one (what a later run in another working folder must find); None stays None."""
    return str(Path(path).expanduser().resolve()) if path else None


def record(cycle: Cycle, *, data: str | None, submissions: str | None, out_dir: str | None) -> None:
    """What this run is given becomes the cycle's; what it is not given stays as recorded."""
    if data:
        cycle.data_source = absolute(data) or ""
    if submissions:
        cycle.submissions_dir = absolute(submissions) or ""
    if out_dir:
        cycle.out_dir = absolute(out_dir) or ""


def recorded(session: Session, cycle: Cycle) -> CycleContext:
    """What a run of the cycle uses when it is given nothing: the recorded ones, else the settings."""
    from perfcycle.collecting import submissions_root

    assert cycle.id is not None
    return CycleContext(
        data=cycle.data_source or None,
        submissions=submissions_root(session, cycle.id, None),
        out_dir=output_folder(cycle),
    )


def output_folder(cycle: Cycle) -> str:
    """Where the cycle's documents go when a command names no folder: the recorded one, else the setting."""
    return cycle.out_dir or str(get_settings().output_dir.resolve())


def recorded_parameters(session: Session, year: int) -> dict[str, str]:
    """The annual-cycle parameters the year's cycle recorded itself (none for a cycle not yet run)."""
    cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
    if cycle is None:
        return {}
    fields = {"data": cycle.data_source, "submissions": cycle.submissions_dir, "out_dir": cycle.out_dir}
    return {name: value for name, value in fields.items() if value}


def for_year(
    session: Session,
    year: int,
    *,
    data: str | None = None,
    submissions: str | None = None,
    out_dir: str | None = None,
) -> CycleContext:
    """What a run of the year given these (None: not given) would use, without recording anything."""
    cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
    base = (
        recorded(session, cycle)
        if cycle is not None and cycle.status != "historical"
        else CycleContext(None, _setting_submissions(), str(get_settings().output_dir.resolve()))
    )
    return CycleContext(
        data=absolute(data) or base.data,
        submissions=absolute(submissions) or base.submissions,
        out_dir=absolute(out_dir) or base.out_dir,
    )


def _setting_submissions() -> str | None:
    configured = get_settings().submissions_dir
    return str(configured.resolve()) if configured else None


def check(context: CycleContext) -> None:
    """A recorded workbook or folder that is gone stops the run with what to do, instead of reading nothing."""
    if context.data and not Path(context.data).is_file():
        raise StageError(f"找不到基础数据工作簿 {context.data}（周期记录的或本次指定的）：请用 --data 指定现在的位置")
    folder = context.submissions
    if folder and not Path(folder).is_dir() and folder != _setting_submissions():  # the setting's may be still empty
        raise StageError(
            f"找不到填报目录 {context.submissions}（周期记录的或本次指定的）：请用 --submissions 指定现在的位置"
        )
