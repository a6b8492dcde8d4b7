"""Score sheets sent by the people who score (事前评估专家组, 复核组, 第三方机构): only the objects assigned to them,
signed by them.

A sheet is read with the year's import limits, every row must name an object of the score sheet the
stage handed out (`perfcycle.documents.spreadsheets.score_form_of_year`) and carry the sender's own name
as its scorer, and the stage's import is tried on it and rolled back. A sheet naming objects not assigned
to its sender is refused, and the refusal audited with those objects. Accepted, it is filed in the
submissions folder the stage imports from, as `<folder>/<login>.xlsx` (an earlier one of the same sender
moves to `history/`), and audited under the sender's name. The stage's next run imports it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from models import now
from perfcycle import audit
from perfcycle.collecting import WindowError, file_sha256, get_cycle_for, submissions_root
from perfcycle.documents.naming import inside
from perfcycle.stages import SUBMISSION_FOLDERS
from perfcycle.workbooks.formats import SPECS

#: The score sheet each role sends, and the column that names who scored.
ROLE_SHEETS = {"panel": "panel_scores", "review": "review_scores", "third_party": "third_party_scores"}
SCORER_FIELDS = {"panel_scores": "assessor", "review_scores": "reviewer", "third_party_scores": "evaluator"}


@dataclass(frozen=True)
class ScoresReceived:
    title: str
    rows: int
    path: Path
    replaced: bool


def scorer_header(kind: str) -> str:
    """The column of the score sheet where its sender writes their own name (评估人, 复核人, 评价机构)."""
    return next(c.header for c in SPECS[kind].sheets[0].columns if c.field == SCORER_FIELDS[kind])


def assigned_keys(session: Session, kind: str, year: int) -> set[tuple[str, ...]]:
    """The objects of the year's score sheet of `kind`, by the sheet's key columns; WindowError before any."""
    from perfcycle.documents.spreadsheets import UNASSIGNED, score_form_of_year

    form = score_form_of_year(session, kind, year)
    if form is None:
        raise WindowError(f"{year} 年度{UNASSIGNED[kind]}，还没有分配评分对象")
    sheet = SPECS[kind].sheets[0]
    positions = [next(i for i, c in enumerate(sheet.columns) if c.field == f) for f in sheet.key]
    return {tuple(str(row[i]) for i in positions) for row in form.rows}


def submit_scores(session: Session, *, year: int, kind: str, file: Path, by: str, login: str) -> ScoresReceived:
    """Check a scorer's sheet against the objects assigned and the scorer's name, then file and audit it."""
    from perfcycle.loaders import code_problems, load
    from perfcycle.policy import import_limits
    from perfcycle.workbooks.reader import ImportProblem, ImportRejected, read_workbook

    cycle = get_cycle_for(session, year)
    if cycle.status != "open":
        raise WindowError(f"{year} 年度周期已结束，不再接收评分表")
    assert cycle.id is not None
    keys = assigned_keys(session, kind, year)
    parsed = read_workbook(file, kind, **import_limits(year).reader_limits())
    spec = SPECS[kind]
    problems = code_problems(parsed)
    outsiders: list[str] = []
    for sheet_name, rows in parsed.sheets.items():
        sheet = spec.sheet(sheet_name)
        headers = {c.field: c.header for c in sheet.columns}
        for row in rows:
            key = tuple(str(row.values.get(f)) for f in sheet.key)
            if sheet.key == spec.sheets[0].key and key not in keys:
                outsiders.append(" ".join(key))
                problems.append(
                    ImportProblem(
                        file.name,
                        sheet_name,
                        row.row,
                        headers[sheet.key[-1]],
                        f"「{' '.join(key)}」不是分配给您评分的对象",
                    )
                )
            scorer = str(row.values.get(SCORER_FIELDS[kind]) or "").strip()
            if SCORER_FIELDS[kind] in headers and scorer != by:
                problems.append(
                    ImportProblem(
                        file.name,
                        sheet_name,
                        row.row,
                        headers[SCORER_FIELDS[kind]],
                        f"应填写本人（{by}），不能以「{scorer}」的名义报送评分",
                    )
                )
    if outsiders:  # objects not assigned to this sender: a refusal the bureau must be able to find
        audit.append(
            session,
            by,
            "scores.refused",
            f"scores:{year}:{kind}:{login}",
            {"year": year, "kind": kind, "file": file.name, "reason": "not_assigned", "objects": outsiders},
        )
        session.commit()
    if problems:
        raise ImportRejected(problems)
    savepoint = session.begin_nested()
    try:
        load(session, parsed, year=year)
    finally:
        savepoint.rollback()

    root = submissions_root(session, cycle.id, None)
    if root is None:
        raise WindowError("不知道填报文件目录：请财政局绩效科设置 PERFCYCLE_SUBMISSIONS_DIR 或先运行周期")
    folder = SUBMISSION_FOLDERS[kind]
    try:
        target = inside(Path(root), folder, f"{login}.xlsx")
        history = inside(Path(root), "history", folder)
    except ValueError as exc:
        raise WindowError(f"拒绝写入填报目录以外的位置：{exc}") from None
    replaced = target.exists()
    received = now()
    if replaced:
        history.mkdir(parents=True, exist_ok=True)
        os.replace(target, history / f"{received:%Y%m%d-%H%M%S}-{target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(file, partial)
    os.replace(partial, target)
    audit.append(
        session,
        by,
        "scores.received",
        f"scores:{year}:{kind}:{login}",
        {"year": year, "kind": kind, "file": file.name, "sha256": file_sha256(target), "rows": parsed.rows},
    )
    session.flush()
    return ScoresReceived(spec.title, parsed.rows, target, replaced)
