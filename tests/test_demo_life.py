"""The loops after the cycle, as the demo district lives them: every figure `--json` gives of the findings, the
publications and the adoption is the one the annual report states and the one its 数据核对表 lists.

The 2024 demo cycle runs (its task code, without Prefect) up to its annual report; the demo's loops
(`perfcycle.demo_life`) happen then: answers, verifications (some 未整改), a late publication. The cycle ends with
its report, written once; the adopted 2026 budget is imported after it. The report and the 数据核对表 are read back
as files.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlmodel import Session, select

from bench.bare import run_bare
from models import BudgetAdoption, Cycle, Document, DocumentNumber, Finding, Publication, ResultPublication
from models.audit_log import AuditEntry
from perfcycle.approvals import in_shanghai
from perfcycle.demo import DemoFiles
from perfcycle.demo_life import DemoLife, adopt_the_budget, live_the_loops
from perfcycle.documents.renderer import docx_text
from perfcycle.rules.findings import SOURCES
from tasks.summary import summarize_cycle

YEAR = 2024
LABELS = {label: source for source, label in SOURCES.items()}


def _count(pattern: str, text: str) -> int:
    """The one value a clause states (0 when the report leaves the clause out, as it does for a count of 0)."""
    values = {int(v) for v in re.findall(pattern, text)}
    assert len(values) <= 1, (pattern, values)
    return values.pop() if values else 0


def _stated_in_report(text: str) -> dict[str, Any]:
    registered = re.search(r"共登记问题(\d+)项（([^）]*)）", text)
    assert registered is not None
    by_source = {LABELS[label]: int(n) for label, n in re.findall(r"(\D+?)(\d+)项、?", registered.group(2))}
    adoption = re.search(r"预算安排建议经区人大审议批准，(\d+)个项目中", text)
    return {
        "findings": {
            "registered": int(registered.group(1)),
            "responded": _count(r"部门已反馈整改措施(\d+)项", text),
            "closed": _count(r"经核实已整改到位(\d+)项", text),
            "overdue": _count(r"(\d+)项逾期未反馈整改措施", text),
            "by_source": by_source,
        },
        "disclosure": {
            "published": _count(r"(\d+)家部门按期公开", text),
            "late": _count(r"(\d+)家部门未按期公开", text),
            "pending": _count(r"(\d+)家部门尚未到公开截止日期", text),
        },
        "adoption": None
        if adoption is None
        else {
            "lines": int(adoption.group(1)),
            "adopted": _count(r"(?<!未)采纳(\d+)个", text),
            "changed": _count(r"调整(\d+)个", text),
            "not_adopted": _count(r"未采纳(\d+)个", text),
        },
    }


def _listed_in_check(path: Path) -> dict[str, Any]:
    """The 数据核对表's rows by name: (value, number of records, codes)."""
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = {}
    for row in sheet.iter_rows(min_row=3, values_only=True):
        if row[2]:
            value = re.match(r"\d+", str(row[3]))
            codes = str(row[6] or "").split("、") if row[6] else []
            rows[str(row[2])] = (int(value.group()) if value else row[3], row[5], codes)
    return rows


def _check_figures(rows: dict[str, Any]) -> dict[str, Any]:
    def value(name: str) -> int:
        found = rows.get(name)
        if found is None:
            return 0
        number, count, codes = found
        assert number == count == len(codes), (name, found)  # the value is the records it counts
        return int(number)

    return {
        "findings": {
            "registered": value("登记问题"),
            "responded": value("已反馈整改措施"),
            "closed": value("已整改到位"),
            "overdue": value("逾期未反馈"),
            "by_source": {
                s: value(f"登记问题（{label}）") for s, label in SOURCES.items() if value(f"登记问题（{label}）")
            },
        },
        "disclosure": {
            "published": value("按期公开"),
            "late": value("未按期公开（公开情况）"),
            "pending": value("尚未到公开截止日期"),
        },
        "adoption": None
        if "采纳情况比较项目" not in rows
        else {
            "lines": value("采纳情况比较项目"),
            "adopted": value("采纳"),
            "changed": value("调整"),
            "not_adopted": value("未采纳"),
        },
    }


def test_every_loop_figure_in_json_is_the_annual_reports_and_the_check_tables(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    before: list[dict[str, Any]] = []
    lived: list[DemoLife] = []

    def loops() -> None:  # every stage before the annual report has run
        cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
        assert cycle.id is not None
        before.append(summarize_cycle.fn(cycle.id))
        lived.append(live_the_loops(session, YEAR))

    run_bare(YEAR, str(demo_2024.base), str(demo_2024.submissions), str(out), {}, before_reporting=loops)
    cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
    assert cycle.status == "done" and cycle.id is not None
    assert before[0]["adoption"] is None  # nothing imported yet
    assert before[0]["findings"]["responded"] == before[0]["findings"]["closed"] == 0
    life = lived[0]
    assert life.answered and life.verified and life.published == 2
    report, check = _documents(session, cycle.id)
    reported = _report_day(session, cycle.id)
    assert adopt_the_budget(session, YEAR, tmp_path / "data")  # the 2026 budget, adopted in January 2026
    summary = summarize_cycle.fn(cycle.id)
    json_figures = {key: summary[key] for key in ("findings", "disclosure", "adoption")}

    # The demo lives every state of the loops.
    findings, disclosure, adoption = json_figures["findings"], json_figures["disclosure"], json_figures["adoption"]
    assert 0 < findings["closed"] < findings["responded"] < findings["registered"] and findings["overdue"] > 0
    assert set(findings["by_source"]) == set(SOURCES)
    statuses = {f.status for f in session.exec(select(Finding).where(Finding.cycle_id == cycle.id))}
    assert statuses == {"open", "answered", "fixed", "unfixed"}
    assert disclosure["published"] > 0 and disclosure["late"] > 0 and disclosure["pending"] == 0
    assert disclosure["late"] == before[0]["disclosure"]["late"]  # the seed's 公开不够规范 stays as it was
    late_report = session.exec(
        select(Publication).where(Publication.cycle_id == cycle.id, Publication.reported_by != "")
    ).one()
    assert late_report.published_on is not None and late_report.due_on is not None
    assert late_report.due_on < late_report.published_on < reported  # late, and before the report
    assert adoption is not None and adoption["changed"] > 0 and adoption["not_adopted"] > 0
    assert adoption["lines"] == adoption["adopted"] + adoption["changed"] + adoption["not_adopted"]

    # The report states the loops as of its 成文日期 and --json as of today: the same figures, because nothing of
    # the loops happens after the report's date. The 2026 budget was adopted after it: the next report states it.
    text = docx_text(report)
    stated = _stated_in_report(text)
    listed = _check_figures(_listed_in_check(check))
    assert stated == listed == {**json_figures, "adoption": None}
    assert "预算安排建议经区人大审议批准" not in text
    loops = [line for line in text.splitlines() if "共登记问题" in line or "谁评价、谁公开”的原则督促" in line]
    assert len(loops) == 2 and not any(re.search(r"(?<![\d.])0(项|家|个)", line) for line in loops)

    # A rerun of the loops finds everything done: the same records, the same report, byte for byte.
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (report, check)}
    assert live_the_loops(session, YEAR) == DemoLife()
    assert adopt_the_budget(session, YEAR, tmp_path / "data") == 0
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (report, check)} == digests
    assert summarize_cycle.fn(cycle.id) == summary


def _documents(session: Session, cycle_id: int) -> tuple[Path, Path]:
    kinds = {d.kind: Path(d.path) for d in session.exec(select(Document).where(Document.cycle_id == cycle_id))}
    return kinds["工作开展情况说明"], kinds["数据核对表"]


def _report_day(session: Session, cycle_id: int) -> date:
    return session.exec(
        select(DocumentNumber.issued_on).where(
            DocumentNumber.cycle_id == cycle_id, DocumentNumber.kind == "工作开展情况说明"
        )
    ).one()


def test_every_loop_happens_before_the_report_written_once_and_the_adoption_after_it(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    """An approved report never changes: the demo's loops are dated inside its calendar, before the report's
    成文日期, and the report is written once; the adopted 2026 budget is imported after it."""
    run_bare(
        YEAR,
        str(demo_2024.base),
        str(demo_2024.submissions),
        str(tmp_path / "out"),
        {},
        before_reporting=lambda: live_the_loops(session, YEAR),
    )
    adopt_the_budget(session, YEAR, tmp_path / "data")
    cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
    assert cycle.id is not None
    reported = _report_day(session, cycle.id)
    assert reported == date(YEAR + 1, 7, 31)  # the policy's calendar: the demo runs long after it

    days: list[date] = []
    for finding in session.exec(select(Finding).where(Finding.cycle_id == cycle.id)):
        days.append(finding.registered_on)
        for moment in (finding.answered_at, finding.verified_at):
            if moment is not None:
                days.append(in_shanghai(moment).date())
        if finding.verified_at is not None:
            assert finding.answered_at is not None and finding.verified_at > finding.answered_at
    for row in session.exec(select(Publication).where(Publication.cycle_id == cycle.id)):
        days += [in_shanghai(row.reported_at).date()] if row.reported_at else []
        days += [row.published_on] if row.published_on else []
    bureau = session.exec(select(ResultPublication).where(ResultPublication.cycle_id == cycle.id)).one()
    assert bureau.reported_at is not None and bureau.published_on is not None
    days += [in_shanghai(bureau.reported_at).date(), bureau.published_on]
    assert days and max(days) <= reported
    answered = session.exec(select(Finding).where(Finding.cycle_id == cycle.id, Finding.answers > 0)).all()
    late = [f for f in answered if f.answered_at is not None and in_shanghai(f.answered_at).date() > f.due_on]
    assert late and len(late) < len(answered)  # most answers by their deadline, a few after it (逾期反馈)

    adopted = {a.imported_on for a in session.exec(select(BudgetAdoption).where(BudgetAdoption.cycle_id == cycle.id))}
    assert adopted == {date(YEAR + 2, 1, 20)}  # after the report: its budget year's January
    generated = session.exec(
        select(AuditEntry).where(
            AuditEntry.action == "document.generated",
            AuditEntry.subject == f"document:{cycle.id}:工作开展情况说明:*",
        )
    ).all()
    assert len(generated) == 1  # written once, approved once, never changed afterwards
