"""Two consecutive cycle years of the demo district: what the first year leaves open changes the second.

The 2024 cycle runs whole (every stage's tasks, automatic approval); its findings are answered, most verified
fixed, one department's left open. The 2025 draw then puts that department right after the never-sampled, and
its lines in the 2025 budget table name its open findings. A department that did not publish is reminded only
once its deadline has passed, and its report is accepted after the cycle closed. The adopted 2026 budget is
imported and the 2025 annual report states its adoption.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session, col, select

from bench.bare import run_bare
from models import Cycle, Department, Finding, Project, Publication, Sample, SampleMember
from models.audit_log import Notification
from perfcycle.adoption import adoption_summary, import_adopted_budget, write_adoption_form
from perfcycle.approvals import GateGroup
from perfcycle.demo import DemoFiles
from perfcycle.disclosure import report_publication
from perfcycle.documents.contexts import annual_report_context
from perfcycle.documents.spreadsheets import write_budget_table
from perfcycle.findings import answer_finding, list_findings, verify_finding
from perfcycle.gate_figures import gate_figures
from perfcycle.notify import OutboxNotifier
from perfcycle.policy import load_policy
from perfcycle.reminding import due_publications, run_reminders
from perfcycle.rules.sampling import default_seed, draw_sample, population_hash
from tasks.budget import recommend_budgets
from tasks.cycle import open_cycle
from tasks.sampling import draw_review_sample

FIRST, SECOND = 2024, 2025
COORDINATORS = ("周晓梅", "陈立军")


def _sample_counts(session: Session, before: int) -> Counter[str]:
    rows = session.exec(
        select(Department.code)
        .join(SampleMember, col(SampleMember.department_id) == Department.id)
        .join(Sample, col(Sample.id) == SampleMember.sample_id)
        .join(Cycle, col(Cycle.id) == Sample.cycle_id)
        .where(Cycle.year < before)
    ).all()
    return Counter(rows)


def _nearly_covered(session: Session, counts: Counter[str], left: int) -> None:
    """An earlier draw (imported history) so that `left` departments are still never sampled: the rotation is
    nearly round, and the next draw has places beyond the never-sampled."""
    never = sorted(code for code in session.exec(select(Department.code)).all() if not counts[code])
    earlier = Cycle(year=2019, budget_year=2021, status="historical")
    session.add(earlier)
    session.flush()
    sample = Sample(cycle_id=earlier.id or 0, imported=True, algorithm="imported", size=len(never) - left)
    session.add(sample)
    session.flush()
    for department in session.exec(select(Department).where(col(Department.code).in_(never[left:]))):
        session.add(SampleMember(sample_id=sample.id or 0, department_id=department.id or 0))
    session.commit()


def _answer_and_verify(session: Session, keep_open: str) -> None:
    """Every department answers its findings; the coordinator verifies them fixed, but `keep_open`'s unfixed."""
    for row in list_findings(session, FIRST):
        department = session.exec(select(Department).where(Department.code == row.department_code)).first()
        by = department.contact if department else COORDINATORS[0]
        answer_finding(session, row.id, measures="已按要求整改", cause="支出进度偏慢", by=by)
        verifier = COORDINATORS[1] if by == COORDINATORS[0] else COORDINATORS[0]
        fixed = row.department_code != keep_open
        verify_finding(session, row.id, fixed=fixed, comment="已整改" if fixed else "整改不到位", by=verifier)
    session.commit()


def _copy_projects(session: Session) -> None:
    """The 2025 budget: the same projects again (the base data of a new year, as the demo has them)."""
    for project in session.exec(select(Project).where(Project.year == FIRST)).all():
        data = project.model_dump(exclude={"id"})
        session.add(Project(**{**data, "year": SECOND}))
    session.commit()


def test_what_the_first_year_leaves_open_changes_the_second(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    run_bare(FIRST, str(demo_2024.base), str(demo_2024.submissions), str(tmp_path / "out"), {})
    first = session.exec(select(Cycle).where(Cycle.year == FIRST)).one()
    assert first.status == "done" and first.id is not None
    sources = Counter(f.source for f in session.exec(select(Finding)))
    assert set(sources) == {"red_light", "review_flag", "inflated_claim", "key_evaluation", "ex_ante"}

    # Who the 2025 draw would take without findings: the never-sampled, and one more at random from tier 1.
    codes = sorted(session.exec(select(Department.code)).all())
    _nearly_covered(session, _sample_counts(session, SECOND), left=10)
    counts = _sample_counts(session, SECOND)
    never = {c for c in codes if not counts[c]}
    ratio = load_policy(SECOND).sampling.ratio
    seed = default_seed(SECOND, population_hash(codes))
    plain = draw_sample(codes, counts, ratio, seed)
    assert never < set(plain.members) and len(plain.members) - len(never) == 1
    with_findings = {row.department_code for row in list_findings(session, FIRST)} - {""}
    kept = sorted(with_findings - never - set(plain.members))[0]  # one the plain draw leaves out

    _answer_and_verify(session, keep_open=kept)
    open_codes = {r.department_code for r in list_findings(session, FIRST) if r.state != "fixed"}
    assert open_codes == {kept}

    # The second year: the department with findings still open comes right after the never-sampled.
    _copy_projects(session)
    second_id = open_cycle.fn(SECOND, auto_approve=True)
    draw_review_sample.fn(second_id)
    session.expire_all()
    sample = session.exec(select(Sample).where(Sample.cycle_id == second_id)).one()
    members = set(
        session.exec(
            select(Department.code)
            .join(SampleMember, col(SampleMember.department_id) == Department.id)
            .where(SampleMember.sample_id == sample.id)
        ).all()
    )
    assert members == never | {kept} and members != set(plain.members)
    assert (sample.open_findings, sample.algorithm) == (kept, "tiered-random-v2")
    second = session.get(Cycle, second_id)
    assert second is not None
    figures = gate_figures(session, second, GateGroup(SECOND, "sample", 1, (), {}))  # what the approver reads
    assert any("未整改" in line and kept in line for line in figures.lines)

    # Its lines in the 2025 budget table name its open findings; no other department's line names any.
    recommend_budgets.fn(second_id)
    path = tmp_path / "2027年预算安排建议表.xlsx"
    write_budget_table(session, second_id, path)
    sheet = load_workbook(path).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    column, department_column = header.index("以前年度未整改问题") + 1, header.index("部门") + 1
    names = {d.code: d.name for d in session.exec(select(Department))}
    notes = {
        (sheet.cell(row=r, column=department_column).value, sheet.cell(row=r, column=column).value)
        for r in range(3, sheet.max_row)
    }
    open_ids = [r.id for r in list_findings(session, FIRST, department_code=kept)]
    assert {name for name, note in notes if note} == {names[kept]}
    (note,) = {note for name, note in notes if note}
    assert note.startswith(f"{len(open_ids)}项：") and all(f"#{i} {FIRST}" in note for i in open_ids)
    assert "未整改" in note


def test_a_late_publication_is_reminded_after_its_deadline_and_accepted_after_the_cycle_closed(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    run_bare(FIRST, str(demo_2024.base), str(demo_2024.submissions), str(tmp_path / "out"), {})
    cycle = session.exec(select(Cycle).where(Cycle.year == FIRST)).one()
    assert cycle.status == "done"
    due = load_policy(FIRST).disclosure.due_date(FIRST)
    unpublished = session.exec(
        select(Department.code)
        .join(Publication, col(Publication.department_id) == Department.id)
        .where(Publication.cycle_id == cycle.id, col(Publication.published_on).is_(None))
        .order_by(col(Department.code))
    ).all()
    assert unpublished  # the demo has departments that never published

    notifier = OutboxNotifier(tmp_path / "outbox")
    run_reminders(due - timedelta(days=20), notifier, [due_publications])
    run_reminders(due - timedelta(days=3), notifier, [due_publications])
    run_reminders(due, notifier, [due_publications])
    assert not any("逾期" in n.subject for n in session.exec(select(Notification)))  # never late before the day
    late = report_publication(
        session, year=FIRST, department_code=unpublished[0], published_on=due + timedelta(days=1), url="https://a.cn/1"
    )
    session.commit()
    assert late.published_on == due + timedelta(days=1)  # the cycle closed, the report accepted all the same
    run_reminders(due + timedelta(days=1), notifier, [due_publications])
    overdue = [n.item for n in session.exec(select(Notification)) if "逾期" in n.subject]
    assert sorted(set(overdue)) == [f"publication:{FIRST}:{code}" for code in unpublished[1:]]


def test_adoption_is_computed_from_the_imported_adopted_budget(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    run_bare(FIRST, str(demo_2024.base), str(demo_2024.submissions), str(tmp_path / "out"), {})
    first = session.exec(select(Cycle).where(Cycle.year == FIRST)).one()
    form = tmp_path / "人大批准预算表.xlsx"
    lines = write_adoption_form(session, FIRST, form)
    book = load_workbook(form)
    sheet = book["批准预算"]
    header = [cell.value for cell in sheet[1]]
    recommended, adopted = header.index("建议安排（万元）") + 1, header.index("批准金额（万元）") + 1
    for row in range(2, sheet.max_row + 1):  # adopted as recommended, but the first line 10 万元 more
        sheet.cell(row=row, column=adopted).value = round(
            sheet.cell(row=row, column=recommended).value + (row == 2) * 10, 2
        )
    book.save(form)
    import_adopted_budget(session, year=FIRST, path=form, by=COORDINATORS[0], on=date(FIRST + 2, 1, 20))
    session.commit()
    summary = adoption_summary(session, first.id or 0)
    assert summary is not None
    assert summary.as_json() == {"lines": lines, "adopted": lines - 1, "changed": 1, "not_adopted": 0}
    assert summary.difference_wan == "10.00"

    _copy_projects(session)
    second_id = open_cycle.fn(SECOND, auto_approve=True)
    context = annual_report_context(session, second_id)
    assert context.adoption == summary  # the next annual report states it
