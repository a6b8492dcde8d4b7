"""Disclosure as its own submission: deadlines, reports of publication (also after the cycle closed), the
bureau's own publication, reminders only to those who still owe one, and the public 公开清单."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from docx import Document as open_docx
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import Cycle, DocumentNumber, Publication
from models.audit_log import AuditEntry, Notification
from perfcycle.cli import app
from perfcycle.collecting import WindowError
from perfcycle.disclosure import (
    disclosure_figures,
    ensure_publications,
    publication_lines,
    record_final_accounts,
    report_bureau_publication,
    report_publication,
)
from perfcycle.documents.contexts import annual_report_context, publication_list_context
from perfcycle.documents.renderer import docx_text, render_docx
from perfcycle.notify import OutboxNotifier
from perfcycle.reminding import due_publications, run_reminders
from tasks.publication import track_publication
from tests.documents.records import YEAR, Arranged, write_kind
from tests.loops import COORDINATOR, BureauDay, arrange_with_contacts

runner = CliRunner()
DUE = date(YEAR + 1, 6, 30)  # the demo policy's day, no 决算 day known
BEFORE = date(YEAR + 1, 4, 1)  # the annual report is out, the reports not yet due


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return arrange_with_contacts(session)


@pytest.fixture
def bureau_day(monkeypatch: pytest.MonkeyPatch) -> BureauDay:
    return BureauDay(monkeypatch, BEFORE)


def closed_cycle(session: Session, arranged: Arranged) -> Cycle:
    """The cycle as it is when publications come in: its annual report approved, the cycle closed."""
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    cycle.status = "done"
    session.add(cycle)
    session.commit()
    return cycle


def states(session: Session, arranged: Arranged, on: date) -> dict[str, str]:
    return {line.department_code: line.state for line in publication_lines(session, arranged.cycle_id, on)}


def test_nobody_is_late_before_the_deadline(session: Session, arranged: Arranged, bureau_day: BureauDay) -> None:
    assert track_publication.fn(arranged.cycle_id)["due_on"] == DUE.isoformat()
    # D01..D06 have projects: each owes its report by the policy's day (the arranged dates are replaced).
    rows = session.exec(select(Publication)).all()
    assert len(rows) == 6 and {r.due_on for r in rows} == {DUE}
    assert disclosure_figures(session, arranged.cycle_id, BEFORE) == {"published": 2, "late": 0, "pending": 4}
    after = DUE + timedelta(days=1)
    assert disclosure_figures(session, arranged.cycle_id, after) == {"published": 2, "late": 4, "pending": 0}
    assert states(session, arranged, after)["D03"] == "overdue"

    context = annual_report_context(session, arranged.cycle_id)  # written before the deadline: no one is late
    assert context.late_publications == 0 and not any("公开" in p for p in context.problems)


def test_a_report_of_publication_is_accepted_after_the_cycle_closed(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    ensure_publications(session, closed_cycle(session, arranged))
    session.commit()
    bureau_day.move(DUE + timedelta(days=5))
    with pytest.raises(WindowError, match=r"联系人D04 不是测试部门03的填报联系人或负责人.*公开情况"):
        report_publication(
            session, year=YEAR, department_code="D03", published_on=DUE, url="https://a.gov.cn/1", by="联系人D04"
        )
    with pytest.raises(WindowError, match="公开网址"):
        report_publication(session, year=YEAR, department_code="D03", published_on=DUE, url="www.a.gov.cn/1")
    with pytest.raises(WindowError, match="尚未到来"):
        report_publication(session, year=YEAR, department_code="D03", published_on=DUE + timedelta(days=6),
                           url="https://a.gov.cn/1")  # fmt: skip
    with pytest.raises(WindowError, match=f"{YEAR} 年度的评价结果在 {YEAR + 1} 年公开"):
        report_publication(session, year=YEAR, department_code="D03", published_on=date(YEAR, 12, 1),
                           url="https://a.gov.cn/1")  # fmt: skip

    row = report_publication(session, year=YEAR, department_code="D03", published_on=DUE + timedelta(days=3),
                             url="https://www.example.gov.cn/zfxxgk/d03/zpbg.html")  # fmt: skip
    session.commit()
    assert (row.published_on, row.reported_by, row.url) == (
        DUE + timedelta(days=3),
        "联系人D03",
        "https://www.example.gov.cn/zfxxgk/d03/zpbg.html",
    )
    assert states(session, arranged, DUE + timedelta(days=5))["D03"] == "late"
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "publication.reported")).one()
    assert json.loads(entry.payload_json)["state"] == "late"
    refused = session.exec(select(AuditEntry).where(AuditEntry.action == "submission.refused")).all()
    assert len(refused) == 1  # another department's contact; the bad address and dates name the department's own


def test_a_report_due_with_the_final_accounts(session: Session, arranged: Arranged, bureau_day: BureauDay) -> None:
    cycle = closed_cycle(session, arranged)
    ensure_publications(session, cycle)
    session.commit()
    with pytest.raises(WindowError, match="联系人D04 不是财政局绩效科的审批人"):
        record_final_accounts(
            session, year=YEAR, department_code="D04", approved_on=date(YEAR + 1, 3, 5), by="联系人D04"
        )
    row = record_final_accounts(session, year=YEAR, department_code="D04", approved_on=date(YEAR + 1, 3, 5),
                                by=COORDINATOR)  # fmt: skip
    session.commit()
    assert row.due_on == date(YEAR + 1, 3, 25)  # 20 days after the 决算 was approved
    assert states(session, arranged, BEFORE)["D04"] == "overdue"  # its own deadline passed, the others' not
    assert states(session, arranged, BEFORE)["D05"] == "pending"
    track_publication.fn(arranged.cycle_id)  # a rerun keeps the department's own deadline
    session.expire_all()
    assert session.get(Publication, row.id).due_on == date(YEAR + 1, 3, 25)  # type: ignore[union-attr]


def test_reminders_go_to_those_who_have_not_published(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    cycle = closed_cycle(session, arranged)
    ensure_publications(session, cycle)
    session.commit()
    owing = {o.item: o for o in due_publications(session, BEFORE)}
    assert set(owing) == {f"publication:{YEAR}:D0{i}" for i in (3, 4, 5, 6)}  # D01 and D02 published
    assert all(o.deadline == DUE and not o.submitted for o in owing.values())
    assert "perfcycle disclose --year 2024 --department D03" in owing[f"publication:{YEAR}:D03"].detail

    notifier = OutboxNotifier(tmp_path / "outbox")
    only = [due_publications]
    assert run_reminders(BEFORE, notifier, only)["sent"] == 0  # nothing due yet, nothing late
    assert run_reminders(DUE - timedelta(days=3), notifier, only)["sent"] == 4  # T-3
    bureau_day.move(DUE)
    report_publication(session, year=YEAR, department_code="D05", published_on=DUE, url="https://a.gov.cn/d05")
    session.commit()
    assert run_reminders(DUE + timedelta(days=1), notifier, only)["sent"] == 3  # overdue: D05 published on time
    assert run_reminders(DUE + timedelta(days=1), notifier, only)["sent"] == 0  # never twice
    subjects = [n.subject for n in session.exec(select(Notification).order_by(col(Notification.id)))]
    assert all("绩效自评报告公开情况" in s for s in subjects) and sum("逾期" in s for s in subjects) == 3


def test_the_bureau_publishes_the_key_evaluation_results(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    closed_cycle(session, arranged)
    with pytest.raises(WindowError, match="联系人D01 不是财政局绩效科的审批人"):
        report_bureau_publication(session, year=YEAR, published_on=BEFORE, url="https://czj.gov.cn/1", by="联系人D01")
    report_bureau_publication(
        session, year=YEAR, published_on=BEFORE, url="https://czj.gov.cn/jxpj/2024", by=COORDINATOR
    )
    session.commit()
    context = publication_list_context(session, arranged.cycle_id)
    assert (context.bureau_published_on, context.bureau_url) == ("2025年4月1日", "https://czj.gov.cn/jxpj/2024")


def test_the_public_list_says_only_what_is_public(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    cycle = closed_cycle(session, arranged)
    ensure_publications(session, cycle)
    bureau_day.move(DUE + timedelta(days=2))
    report_publication(session, year=YEAR, department_code="D04", published_on=DUE, url="https://a.gov.cn/d04_2024")
    report_bureau_publication(session, year=YEAR, published_on=DUE, url="https://czj.gov.cn/jxpj", by=COORDINATOR)
    session.commit()
    path = tmp_path / "公开清单.docx"
    render_docx("publication_list.md.j2", publication_list_context(session, arranged.cycle_id), path)
    text = docx_text(path)
    assert "按期公开3家" in text and "未公开3家" in text  # D02 published before the 06-30 deadline
    assert "0家" not in text  # a status nobody is in is not stated
    assert (
        "https://a.gov.cn/d04_2024" in text
        and "上述评价结果已于2025年6月30日公开，公开网址：https://czj.gov.cn/jxpj" in text
    )
    assert "请" not in text and "尽快" not in text  # no instruction to departments in a public list


def test_the_command_line_reports_and_lists(session: Session, arranged: Arranged, bureau_day: BureauDay) -> None:
    closed_cycle(session, arranged)
    track_publication.fn(arranged.cycle_id)
    reported = runner.invoke(
        app,
        ["disclose", "--year", str(YEAR), "--department", "D03", "--date", "2025-03-20", "--url", "https://a.gov.cn/3"],
    )
    assert reported.exit_code == 0, reported.output
    assert "已记录部门 D03 2024 年度绩效自评报告公开情况：2025-03-20" in " ".join(reported.output.split())
    assert "按期公开（截止 2025-06-30）" in reported.output
    accounts = runner.invoke(
        app,
        ["disclose", "--year", str(YEAR), "--department", "D04", "--final-accounts", "2025-03-05", "--by", COORDINATOR],
    )
    assert accounts.exit_code == 0 and "应于 2025-03-25 前随同决算公开" in accounts.output
    both = runner.invoke(app, ["disclose", "--year", str(YEAR), "--department", "D04", "--bureau"])
    assert both.exit_code == 1 and "二者选一" in both.output
    bad = runner.invoke(app, ["disclose", "--year", str(YEAR), "--department", "D04", "--date", "3月5日", "--url", "x"])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output

    listed = runner.invoke(app, ["publications", "--year", str(YEAR), "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert (data["published"], data["late"], data["pending"]) == (3, 1, 2)  # D04 is past its own deadline
    assert [d["status"] for d in data["departments"] if d["department_code"] in ("D03", "D04")] == [
        "on_time",
        "overdue",
    ]
    text = runner.invoke(app, ["publications", "--year", str(YEAR)]).output
    assert "按期公开 3" in text and "财政重点评价结果尚未公开" in " ".join(text.split())


@pytest.mark.prefect
@pytest.mark.parametrize(
    ("day", "late", "pending", "listed"),
    [(DUE, 0, 4, []), (DUE + timedelta(days=1), 4, 0, ["未公开"] * 4)],
    ids=["the-deadline-day", "the-day-after"],
)
def test_the_publication_artifact_says_pending_until_the_deadline_has_passed(
    session: Session,
    arranged: Arranged,
    bureau_day: BureauDay,
    prefect_harness: None,
    day: date,
    late: int,
    pending: int,
    listed: list[str],
) -> None:
    """On its deadline day an unpublished report is 待公开, not late; the day after it is overdue (未公开)."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    bureau_day.move(day)

    @flow
    def disclosure(cycle_id: int) -> None:
        track_publication(cycle_id)

    state = disclosure(arranged.cycle_id, return_state=True)
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    assert f"按期公开 2，逾期 {late}，未到期待公开 {pending}" in str(artifact.description)
    rows = artifact.data if isinstance(artifact.data, list) else json.loads(str(artifact.data))
    assert [row["状态"] for row in rows] == listed


def test_the_public_list_states_the_publications_as_of_its_own_date(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    """Dated before D04 publishes and before the deadline, the list keeps saying so (待公开) when it is written
    again after both, whatever the day: the same bytes; D01, published before its date, is 按期公开."""
    cycle = closed_cycle(session, arranged)
    ensure_publications(session, cycle)
    session.commit()
    first = write_kind(session, arranged.cycle_id, tmp_path / "first", "绩效评价结果公开清单")["*"]
    rows = {row[1]: row for row in _list_rows(first)}
    assert rows["测试部门01"][-1] == "按期公开" and rows["测试部门04"][-1] == "待公开"

    bureau_day.move(DUE + timedelta(days=3))
    report_publication(session, year=YEAR, department_code="D04", published_on=DUE, url="https://a.gov.cn/d04_2024")
    session.commit()
    written = [write_kind(session, arranged.cycle_id, tmp_path / "again", "绩效评价结果公开清单")["*"]]
    bureau_day.move(DUE + timedelta(days=40))
    written.append(write_kind(session, arranged.cycle_id, tmp_path / "later", "绩效评价结果公开清单")["*"])
    assert all(path.read_bytes() == first.read_bytes() for path in written)

    # Dated after D04's publication and the deadline (a fresh register), the list says both.
    for row in session.exec(select(DocumentNumber)).all():
        session.delete(row)
    session.flush()
    after = write_kind(session, arranged.cycle_id, tmp_path / "after", "绩效评价结果公开清单")["*"]
    rows = {row[1]: row for row in _list_rows(after)}
    assert rows["测试部门04"][-3:] == ["2025年6月30日", "https://a.gov.cn/d04_2024", "按期公开"]
    assert rows["测试部门03"][-1] == "未公开"  # never published, its deadline passed by the list's date


def _list_rows(path: Path) -> list[list[str]]:
    """The rows of the departments' table of a 公开清单 (the last table)."""
    table = open_docx(str(path)).tables[-1]
    return [[cell.text for cell in row.cells] for row in table.rows]
