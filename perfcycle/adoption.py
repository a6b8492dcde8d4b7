"""Adoption (采纳情况): the budget the People's Congress adopted, compared with a cycle's recommendation table.

Once the budget of the budget year is adopted, the bureau enters the adopted amount of every line of the
cycle's approved recommendation table in the 人大批准预算表 (`perfcycle adoption template` writes it with the
lines filled in) and imports it (`perfcycle adoption import`), all or nothing. Each line is then adopted,
changed (with the difference) or not adopted (`perfcycle.rules.adoption`); the next cycle's annual report
states it in a sentence and a table.

No Prefect here: the command line and the documents call the same functions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from models import Approval, BudgetAdoption, BudgetRecommendation, Cycle, Department, Project
from perfcycle import audit
from perfcycle.approvals import approvals_policy
from perfcycle.collecting import WindowError, get_cycle_for
from perfcycle.cycle_context import cycle_policy
from perfcycle.figures import budget_line
from perfcycle.money import fmt_wan, wan_to_fen
from perfcycle.rules.adoption import ADOPTION_LABELS, adoption_rate, adoption_status
from perfcycle.workbooks.formats import ADOPTED_BUDGET
from perfcycle.workbooks.reader import ImportProblem, ImportRejected, read_workbook
from perfcycle.workbooks.writer import write_workbook

SHEET = ADOPTED_BUDGET.sheets[0]
NAMED = 10  # lines named in a message about lines missing from the workbook


@dataclass(frozen=True)
class TableLine:
    """One line of an approved recommendation table: the project, its request and the amount that stands."""

    recommendation_id: int
    project_id: int
    department_code: str
    department_name: str
    project_code: str
    project_name: str
    request_fen: int
    recommended_fen: int


def table_lines(session: Session, cycle_id: int) -> list[TableLine]:
    """The cycle's recommendation lines by department and project code, with the approvers' overrides."""
    departments = {d.id: d for d in session.exec(select(Department))}
    lines = []
    for rec, project in session.exec(
        select(BudgetRecommendation, Project)
        .join(Project, col(Project.id) == BudgetRecommendation.project_id)
        .where(BudgetRecommendation.cycle_id == cycle_id)
    ):
        assert rec.id is not None and project.id is not None
        department = departments.get(project.department_id)
        lines.append(
            TableLine(
                rec.id,
                project.id,
                department.code if department else "",
                department.name if department else "",
                project.code,
                project.name,
                rec.request_fen,
                budget_line(rec).effective_fen,
            )
        )
    return sorted(lines, key=lambda line: (line.department_code, line.project_code))


def _table_approved(session: Session, cycle: Cycle) -> bool:
    """Whether the last level of the cycle's budget-table gate passed."""
    top = max(approvals_policy(cycle).levels("budget_table") or [1])
    gate = session.exec(
        select(Approval).where(Approval.cycle_id == cycle.id, Approval.gate == "budget_table", Approval.level == top)
    ).first()
    return gate is not None and gate.status == "approved"


def _approved_lines(session: Session, year: int) -> tuple[Cycle, list[TableLine]]:
    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    lines = table_lines(session, cycle.id)
    if not lines or not _table_approved(session, cycle):
        raise WindowError(f"{year} 年度的预算安排建议表尚未审批通过，还不能比较人大批准的预算")
    return cycle, lines


def write_adoption_form(session: Session, year: int, path: Path) -> int:
    """The 人大批准预算表 with every line of the approved table filled in (the adopted amounts left to enter)."""
    cycle, lines = _approved_lines(session, year)
    district = cycle.district or cycle_policy(cycle).district
    rows = [
        {
            "project_code": line.project_code,
            "project_name": line.project_name,
            "recommended_wan": Decimal(fmt_wan(line.recommended_fen)),
        }
        for line in lines
    ]
    write_workbook(path, ADOPTED_BUDGET, {SHEET.name: rows}, district=district, year=year)
    return len(rows)


@dataclass(frozen=True)
class AdoptionImport:
    """What an import of the adopted budget did."""

    year: int
    budget_year: int
    lines: int
    unchanged: bool


def import_adopted_budget(
    session: Session, *, year: int, path: Path, by: str = "", on: date | None = None
) -> AdoptionImport:
    """Import the adopted amount of every line of `year`'s approved recommendation table, all or nothing, on the
    day `on` (the bureau's date by default): a report dated before that day does not state it.

    Accepted whenever it comes (the cycle has long closed when the budget is adopted); a later import replaces
    the earlier amounts."""
    from perfcycle.collecting import today
    from perfcycle.policy import import_limits

    cycle, lines = _approved_lines(session, year)
    assert cycle.id is not None
    parsed = read_workbook(Path(path), ADOPTED_BUDGET.kind, **import_limits(year).reader_limits())
    by_code = {line.project_code: line for line in lines}
    headers = {c.field: c.header for c in SHEET.columns}
    problems: list[ImportProblem] = []
    adopted: dict[int, tuple[int, str]] = {}
    for row in parsed.sheets[SHEET.name]:
        code, amount = row.values.get("project_code"), row.values.get("adopted_wan")
        line = by_code.get(str(code)) if code is not None else None
        if code is not None and line is None:
            problems.append(
                ImportProblem(
                    parsed.path.name,
                    SHEET.name,
                    row.row,
                    headers["project_code"],
                    f"项目 {code} 不在 {year} 年度的预算安排建议表中",
                )
            )
        elif line is not None and amount is not None:
            adopted[line.project_id] = (wan_to_fen(amount), str(row.values.get("remark") or ""))
    missing = [line.project_code for line in lines if line.project_id not in adopted and line.project_code]
    if missing and not problems:
        named = "、".join(missing[:NAMED]) + (f" 等 {len(missing)} 个项目" if len(missing) > NAMED else "")
        problems.append(
            ImportProblem(
                parsed.path.name,
                SHEET.name,
                None,
                None,
                f"缺少建议表中的项目 {named}：每个项目都要填写（未安排的填 0）",
            )
        )
    if problems:
        raise ImportRejected(problems)

    existing = {
        a.project_id: a for a in session.exec(select(BudgetAdoption).where(BudgetAdoption.cycle_id == cycle.id))
    }
    unchanged = set(existing) == set(adopted) and all(
        (existing[p].adopted_fen, existing[p].remark) == value for p, value in adopted.items()
    )
    if not unchanged:
        for project_id, (fen, remark) in adopted.items():
            record = existing.get(project_id) or BudgetAdoption(cycle_id=cycle.id, project_id=project_id)
            record.adopted_fen, record.remark = fen, remark
            record.imported_on = on or today()
            session.add(record)
        for project_id in set(existing) - set(adopted):
            session.delete(existing[project_id])
        summary = adoption_summary(session, cycle.id, flush=True)
        audit.append(
            session,
            by or "(未署名)",
            "adoption.imported",
            f"adoption:{year}",
            {
                "year": year,
                "file": parsed.path.name,
                "sha256": parsed.sha256,
                "lines": len(adopted),
                "imported_on": on or today(),
                "figures": summary.as_json() if summary else {},
            },
        )
        session.flush()
    return AdoptionImport(year, cycle.budget_year, len(adopted), unchanged)


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AdoptionLine:
    """One recommendation line with the amount adopted for it."""

    line: TableLine
    adopted_fen: int
    status: str
    remark: str

    @property
    def difference_fen(self) -> int:
        return self.adopted_fen - self.line.recommended_fen

    @property
    def status_label(self) -> str:
        return ADOPTION_LABELS[self.status]


def adoption_lines(session: Session, cycle_id: int) -> list[AdoptionLine]:
    """Every line of the cycle's table with its adopted amount and status; empty until the budget is imported."""
    adopted = {a.project_id: a for a in session.exec(select(BudgetAdoption).where(BudgetAdoption.cycle_id == cycle_id))}
    return [
        AdoptionLine(
            line,
            adopted[line.project_id].adopted_fen,
            adoption_status(line.request_fen, line.recommended_fen, adopted[line.project_id].adopted_fen),
            adopted[line.project_id].remark,
        )
        for line in table_lines(session, cycle_id)
        if line.project_id in adopted
    ]


class AdoptionRow(BaseModel):
    """The lines of one status, as the annual report's table states them (万元)."""

    model_config = ConfigDict(frozen=True)

    label: str
    lines: int
    recommended_wan: str
    adopted_wan: str
    difference_wan: str


class AdoptionSummary(BaseModel):
    """采纳情况 of one cycle's recommendations: counts, 采纳率 and the amounts by status."""

    model_config = ConfigDict(frozen=True)

    year: int
    budget_year: int
    lines: int
    adopted: int
    changed: int
    not_adopted: int
    rate_pct: str
    recommended_wan: str
    adopted_wan: str
    difference_wan: str
    rows: list[AdoptionRow]

    @property
    def differs(self) -> bool:
        """Whether the adopted total differs from the recommended one (the report then states the difference)."""
        return self.adopted_wan != self.recommended_wan

    def as_json(self) -> dict[str, int]:
        return {"lines": self.lines, "adopted": self.adopted, "changed": self.changed, "not_adopted": self.not_adopted}


def adoption_summary(session: Session, cycle_id: int, flush: bool = False) -> AdoptionSummary | None:
    """The cycle's 采纳情况, or None while the adopted budget is not imported."""
    if flush:
        session.flush()
    lines = adoption_lines(session, cycle_id)
    cycle = session.get(Cycle, cycle_id)
    if not lines or cycle is None:
        return None
    counts = Counter(line.status for line in lines)

    def row(label: str, items: list[AdoptionLine]) -> AdoptionRow:
        recommended = sum(i.line.recommended_fen for i in items)
        adopted = sum(i.adopted_fen for i in items)
        return AdoptionRow(
            label=label,
            lines=len(items),
            recommended_wan=fmt_wan(recommended),
            adopted_wan=fmt_wan(adopted),
            difference_wan=fmt_wan(adopted - recommended),
        )

    rows = [row(label, [i for i in lines if i.status == status]) for status, label in ADOPTION_LABELS.items()]
    total = row("合计", lines)
    return AdoptionSummary(
        year=cycle.year,
        budget_year=cycle.budget_year,
        lines=len(lines),
        adopted=counts["adopted"],
        changed=counts["changed"],
        not_adopted=counts["not_adopted"],
        rate_pct=f"{adoption_rate(counts['adopted'], len(lines))}%",
        recommended_wan=total.recommended_wan,
        adopted_wan=total.adopted_wan,
        difference_wan=total.difference_wan,
        rows=[*rows, total],
    )


def imported_by(session: Session, cycle_id: int, on: date | None) -> bool:
    """Whether the cycle's adopted budget was imported by the day `on` (any day: whether it was imported at all)."""
    days = session.exec(select(col(BudgetAdoption.imported_on)).where(BudgetAdoption.cycle_id == cycle_id)).all()
    if on is None:
        return bool(days)
    return bool(days) and all(day is not None and day <= on for day in days)


def stated_adoption(session: Session, cycle: Cycle, on: date | None = None) -> tuple[int, AdoptionSummary] | None:
    """The 采纳情况 a cycle's annual report dated `on` states: of the latest cycle, its own or the previous one,
    whose adopted budget was imported by that day. Normally the previous cycle's: the budget year of a cycle's
    own recommendations is adopted after its report (`on` None: the latest imported, as the records stand now)."""
    assert cycle.id is not None
    previous = session.exec(select(Cycle).where(Cycle.year == cycle.year - 1, Cycle.status != "historical")).first()
    for candidate in (cycle, previous):
        if candidate is None or candidate.id is None or not imported_by(session, candidate.id, on):
            continue
        summary = adoption_summary(session, candidate.id)
        if summary is not None:
            return candidate.id, summary
    return None
