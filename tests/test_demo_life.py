"""The loops after the cycle, as the demo district lives them: every figure `--json` gives of the findings, the
publications and the adoption is the one the annual report states and the one its 数据核对表 lists.

The 2024 demo cycle runs whole (its task code, without Prefect); then the demo's loops (`perfcycle.demo_life`):
answers, verifications (some 未整改), a publication reported after the cycle closed, the adopted 2026 budget.
The report and the 数据核对表 are written again and read back as files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlmodel import Session, select

from bench.bare import run_bare
from models import Cycle, Document, Finding, Publication
from perfcycle.demo import DemoFiles
from perfcycle.demo_life import DemoLife, live_the_loops
from perfcycle.documents.catalog import GROUPS
from perfcycle.documents.renderer import docx_text
from perfcycle.rules.findings import SOURCES
from tasks.documents import write_and_record
from tasks.summary import summarize_cycle

YEAR = 2024
LABELS = {label: source for source, label in SOURCES.items()}


def _write_report(session: Session, cycle_id: int, out: Path) -> tuple[Path, Path]:
    write_and_record(session, cycle_id, str(out), GROUPS["annual_report"])
    session.commit()
    kinds = {d.kind: Path(d.path) for d in session.exec(select(Document).where(Document.cycle_id == cycle_id))}
    return kinds["工作开展情况说明"], kinds["数据核对表"]


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
    run_bare(YEAR, str(demo_2024.base), str(demo_2024.submissions), str(out), {})
    cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
    assert cycle.status == "done" and cycle.id is not None
    before = summarize_cycle.fn(cycle.id)
    assert before["adoption"] is None  # nothing imported yet
    assert before["findings"]["responded"] == before["findings"]["closed"] == 0

    life = live_the_loops(session, YEAR, tmp_path / "data")
    assert life.answered and life.verified and life.published == 2 and life.adopted_lines
    report, check = _write_report(session, cycle.id, out)
    summary = summarize_cycle.fn(cycle.id)
    json_figures = {key: summary[key] for key in ("findings", "disclosure", "adoption")}

    # The demo lives every state of the loops.
    findings, disclosure, adoption = json_figures["findings"], json_figures["disclosure"], json_figures["adoption"]
    assert 0 < findings["closed"] < findings["responded"] < findings["registered"] and findings["overdue"] > 0
    assert set(findings["by_source"]) == set(SOURCES)
    statuses = {f.status for f in session.exec(select(Finding).where(Finding.cycle_id == cycle.id))}
    assert statuses == {"open", "answered", "fixed", "unfixed"}
    assert disclosure["published"] > 0 and disclosure["late"] > 0 and disclosure["pending"] == 0
    assert disclosure["late"] == before["disclosure"]["late"]  # the seed's 公开不够规范 stays as it was
    late_report = session.exec(
        select(Publication).where(Publication.cycle_id == cycle.id, Publication.reported_by != "")
    ).one()
    assert late_report.published_on is not None and late_report.due_on is not None
    assert late_report.published_on > late_report.due_on  # late, and reported after the cycle closed
    assert adoption is not None and adoption["changed"] > 0 and adoption["not_adopted"] > 0
    assert adoption["lines"] == adoption["adopted"] + adoption["changed"] + adoption["not_adopted"]

    text = docx_text(report)
    assert _stated_in_report(text) == json_figures
    assert _check_figures(_listed_in_check(check)) == json_figures
    loops = [line for line in text.splitlines() if "共登记问题" in line or "谁评价、谁公开”的原则督促" in line]
    loops += [line for line in text.splitlines() if "预算安排建议经区人大审议批准" in line]
    assert len(loops) == 3 and not any(re.search(r"(?<![\d.])0(项|家|个)", line) for line in loops)

    # A rerun of the loops finds everything done: the same records, the same report, byte for byte.
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (report, check)}
    assert live_the_loops(session, YEAR, tmp_path / "data") == DemoLife()
    _write_report(session, cycle.id, out)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (report, check)} == digests
    assert summarize_cycle.fn(cycle.id) == summary
