"""Bringing workbooks in: a district's base data, all or nothing, and each stage's submissions, file by file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from pydantic import BaseModel
from sqlmodel import Session, select

from models import Cycle, session_scope
from perfcycle import collecting
from perfcycle.faults import checkpoint
from perfcycle.loaders import LoadResult, Refused, arrival, load, load_stage
from perfcycle.notify import Message, Notifier, Recipient, dispatch, make_notifier
from perfcycle.policy import import_limits
from perfcycle.progress import report
from perfcycle.runtime import collection_paused
from perfcycle.stages import SUBMISSION_FOLDERS, importing_stage
from perfcycle.workbooks.formats import SPECS
from perfcycle.workbooks.pool import POOL_START_FILES, read_outcomes, shutdown_pool, warm_up, warm_up_ahead
from perfcycle.workbooks.reader import read_workbook
from tasks.common import run_logger
from tasks.cycle import finish_stage

SHOWN_PROBLEMS = 3  # problems of a refused file named in a log or progress line; the notice lists them all


@task(name="import-base-data")
def import_base_data(path: str, year: int) -> dict[str, Any]:
    """The district's departments, projects, policies and history, validated before anything is written."""
    ahead = warm_up_ahead(Path(path))
    parsed = read_workbook(Path(path), "base", **import_limits(year).reader_limits())
    departments = len(parsed.sheets["部门"])  # each department sends a workbook per stage
    if ahead and departments < POOL_START_FILES:
        shutdown_pool()
    elif not ahead:
        warm_up(departments)
    with session_scope() as session:
        result = load(session, parsed, year=year)
    return {"file": Path(path).name, "rows": result.rows, "skipped": result.skipped}


@task(name="import-submissions")
def import_submissions(year: int, kind: str, root: str | None, quarter: str | None = None) -> dict[str, Any]:
    """Every workbook of one stage's folder, each imported or refused on its own (all or nothing per file).

    A department's refused form is recorded as a refused receipt and the department is told why; it still owes
    the form. A refused file that cannot be credited to a department (a shared workbook, a stray file) is
    listed under `unplaced`, for the stage to wait until it is put right. Refusals are reported, not raised.
    Without `root` (a stage deployment run on its own), the folder is the one the year's cycle recorded.
    """
    root = root or _cycle_folder(year)
    folder = Path(root) / SUBMISSION_FOLDERS[kind] if root else None
    if folder is not None and quarter and kind == "monitoring":
        folder = folder / quarter
    files = collecting.submission_files(folder) if folder is not None else []
    limits = import_limits(year).reader_limits() if files else {}
    stage = importing_stage(kind, quarter)
    refusals: list[collecting.Refusal] = []
    unplaced: list[dict[str, Any]] = []
    with collection_paused(), session_scope() as session:
        reading = read_outcomes(files, kind, limits)  # the readers start now, the intake is read meanwhile
        intake = _intake(session, year, stage) if SPECS[kind].per_department else None
        paths = iter(files)
        later: list[tuple[Path, LoadResult | Refused]] = []  # from the first refused file on, in order after the load

        def received(outcome: LoadResult | Refused) -> None:
            """A loaded file's receipt, taken while the next files are read."""
            path = next(paths)
            if later or not isinstance(outcome, LoadResult):
                later.append((path, outcome))
            elif intake is not None:
                _take_in(intake, path, outcome)

        outcomes = load_stage(
            session,
            reading,
            year=year,
            quarter=quarter,
            loaded=lambda _: checkpoint("import-file"),
            each=received,
        )
        for path, outcome in later:
            if isinstance(outcome, LoadResult):
                if intake is not None:
                    _take_in(intake, path, outcome)
                continue
            department = intake.department(path.name, outcome.scope) if intake is not None else None
            problems = [str(problem) for problem in outcome.problems]
            if intake is not None and department is not None:
                sha256 = outcome.sha256 or _digest(path, problems)
                at = arrival(path)
                refusals.append(intake.refuse(department, path, sha256=sha256, problems=problems, at=at))
            else:
                unplaced.append({"file": path.name, "problems": problems})
        if intake is not None:
            intake.write()
    loaded = [o for o in outcomes if isinstance(o, LoadResult)]
    rows = sum(result.rows for result in loaded)
    skipped = sum(1 for result in loaded if result.skipped)
    logger = run_logger()
    logger.info(
        "%s: %d 个文件，新导入 %d 个，未变化 %d 个，未通过校验 %d 个，共 %d 行",
        kind,
        len(files),
        len(loaded) - skipped,
        skipped,
        len(refusals) + len(unplaced),
        rows,
    )
    if refusals:
        tell_refused(refusals)
    lines = [f"{refused_line(r.file, r.problems, f'{r.department} {r.name}')}；{_told(r)}" for r in refusals]
    for line in lines:
        logger.warning("%s", line)
    for file in unplaced:
        logger.warning("%s；请改正或移出 %s", refused_line(file["file"], file["problems"]), folder)
    if lines:
        report(stage, "refused", "；".join(lines) + "。其余文件照常导入")
    return {
        "kind": kind,
        "files": len(files),
        "rows": rows,
        "folder": str(folder) if folder is not None else "",
        "refused": [
            {"file": r.file, "department": r.department, "problems": list(r.problems), "version": r.version}
            for r in refusals
        ],
        "unplaced": unplaced,
    }


def _take_in(intake: collecting.FolderIntake, path: Path, outcome: LoadResult) -> None:
    """A loaded form as its department's current version (a file whose content was imported already: none)."""
    department = intake.department(path.name, outcome.scope)
    if department is not None and not outcome.skipped:
        at = outcome.arrived_at or arrival(path)
        intake.take_in(department, path, sha256=outcome.sha256, rows=outcome.rows, at=at)


def _cycle_folder(year: int) -> str | None:
    """The submissions folder of the year's cycle: recorded with it, else its windows', else the setting."""
    with session_scope() as session:
        cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
        return collecting.submissions_root(session, cycle.id, None) if cycle is not None and cycle.id else None


def _intake(session: Session, year: int, stage: str) -> collecting.FolderIntake | None:
    """The receipts of the collection window a stage's department forms arrive in, once the stage opened it."""
    cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
    window = collecting.find_window(session, cycle.id, stage) if cycle is not None and cycle.id is not None else None
    return collecting.FolderIntake(session, cycle, window) if cycle is not None and window is not None else None


def _digest(path: Path, problems: list[str]) -> str:
    """What tells one refused file from another: its bytes, or (unreadable) what was wrong with it."""
    import hashlib

    try:
        return collecting.file_sha256(path)
    except OSError:
        return hashlib.sha256("\n".join(problems).encode()).hexdigest()


def _told(refusal: collecting.Refusal) -> str:
    if not refusal.new:
        return "此前已通知该部门"
    return "已通知该部门改正后重新报送" if refusal.window_open else "已通知该部门（收集已截止，不再接收）"


def refused_line(file: str, problems: list[str] | tuple[str, ...], whose: str = "") -> str:
    """One line for a log or a terminal: the file, whose it is, and its first problems (each where and why)."""
    located = [p.removeprefix(f"{file} · ").removeprefix(f"{file}: ") for p in problems[:SHOWN_PROBLEMS]]
    more = f"；等 {len(problems)} 个问题" if len(problems) > SHOWN_PROBLEMS else ""
    return f"{file}{'（' + whose + '）' if whose else ''}未导入：{'；'.join(located)}{more}"


class RefusalContext(BaseModel):
    """What the refusal notice template reads."""

    issuer: str
    recipient: str
    department: str
    title: str
    file: str
    version: int
    problems: list[str]
    deadline: str
    overdue: bool
    window_open: bool
    today: str
    command: str


def refusal_messages(session: Session, notifier: Notifier, refusal: collecting.Refusal) -> list[Message]:
    """The notice of a refused form to the department's contact, over each of its channels."""
    from perfcycle.documents.renderer import render_text
    from perfcycle.reminding import cn_date, issuer_of, split_message

    cycle = collecting.get_cycle_for(session, refusal.year)
    department = collecting.get_department(session, refusal.department)
    form, quarter = collecting.STAGE_FORMS[refusal.stage]
    stage = f"monitoring --quarter {quarter}" if quarter else refusal.stage
    recipient = Recipient(department.contact or department.name, department.email, department.webhook)
    context = RefusalContext(
        issuer=issuer_of(cycle),
        recipient=recipient.name,
        department=department.name,
        title=refusal.title,
        file=refusal.file,
        version=refusal.version,
        problems=list(refusal.problems),
        deadline=cn_date(refusal.due_on),
        overdue=collecting.today() > refusal.due_on,
        window_open=refusal.window_open,
        today=cn_date(collecting.today()),
        command=(
            f"perfcycle submit --year {refusal.year} --stage {stage} --department {department.code} 文件.xlsx"
            f"（格式见 perfcycle template {form}）"
        ),
    )
    subject, body = split_message(render_text("submission_refused.txt.j2", context))
    return [
        notifier.message(
            recipient,
            channel,
            address,
            subject,
            body,
            item=f"refused:{refusal.year}:{refusal.stage}:{department.code}:{refusal.sha256[:16]}",
            step="refused",
            deadline=refusal.due_on,
        )
        for channel, address in notifier.routes(recipient)
    ]


def tell_refused(refusals: list[collecting.Refusal]) -> None:
    """Each department whose form was refused hears why, once per file (a rerun finds the notice sent)."""
    notifier = make_notifier()
    with session_scope() as session:
        for refusal in refusals:
            for message in refusal_messages(session, notifier, refusal):
                dispatch(session, notifier, message)


def wait_for_files(cycle_id: int, stage: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A stage whose folder holds a file that cannot be imported nor credited to a department stops as waiting:
    the next run imports it once it is put right (or taken out)."""
    received = summary["received"]
    files = "；".join(refused_line(f["file"], f["problems"]) for f in received["unplaced"])
    finish_stage(cycle_id, stage, summary, "waiting")
    report(stage, "waiting", f"{files}。请改正或移出 {received['folder']} 中的这些文件后再继续运行周期")
    run_logger().warning("等待改正无法导入的文件：%s", files)
    return {"status": "waiting", "summary": summary}
