"""Bringing workbooks in: a district's base data and each stage's submissions, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from models import session_scope
from perfcycle.faults import checkpoint
from perfcycle.loaders import load, load_stage
from perfcycle.policy import import_limits
from perfcycle.runtime import collection_paused
from perfcycle.stages import SUBMISSION_FOLDERS
from perfcycle.workbooks.pool import read_outcomes, warm_up
from perfcycle.workbooks.reader import read_workbook
from tasks.common import run_logger


def submission_files(folder: Path) -> list[Path]:
    """The workbooks of a submissions folder, in a stable order (Office lock files skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.xlsx") if not p.name.startswith(("~$", ".")))


@task(name="import-base-data")
def import_base_data(path: str, year: int) -> dict[str, Any]:
    """The district's departments, projects, policies and history, validated before anything is written."""
    parsed = read_workbook(Path(path), "base", **import_limits(year).reader_limits())
    warm_up(len(parsed.sheets["部门"]))  # each department sends a workbook per stage
    with session_scope() as session:
        result = load(session, parsed, year=year)
    return {"file": Path(path).name, "rows": result.rows, "skipped": result.skipped}


@task(name="import-submissions")
def import_submissions(year: int, kind: str, root: str | None, quarter: str | None = None) -> dict[str, Any]:
    """Every workbook of one stage's folder; one bad file refuses the whole batch with every problem named."""
    folder = Path(root) / SUBMISSION_FOLDERS[kind] if root else None
    if folder is not None and quarter and kind == "monitoring":
        folder = folder / quarter
    files = submission_files(folder) if folder is not None else []
    limits = import_limits(year).reader_limits() if files else {}
    with collection_paused(), session_scope() as session:
        results = load_stage(
            session,
            read_outcomes(files, kind, limits),
            year=year,
            quarter=quarter,
            loaded=lambda _: checkpoint("import-file"),
        )
    rows = sum(result.rows for result in results)
    skipped = sum(1 for result in results if result.skipped)
    loaded = len(results) - skipped
    run_logger().info("%s: %d 个文件，新导入 %d 个，未变化 %d 个，共 %d 行", kind, len(files), loaded, skipped, rows)
    return {"kind": kind, "files": len(files), "rows": rows}
