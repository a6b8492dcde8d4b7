"""The demo district's loops: findings answered and verified, publications, then the adopted budget.

The 2024 cycle of 烈山区 runs every stage before its annual report; then its departments answer their findings (a
few red lights stay unanswered, past their deadline; a few answers come after theirs), the 绩效科 verifies most
answers as 已整改 and some as 未整改 (a few wait for it), one department that had not published reports its
publication after its deadline, and the bureau reports its own publication of the key-evaluation results. The
cycle then continues: its annual report is written once, approved once, and states these loops as of its date.
After it, the budget the People's Congress adopted for 2026 is imported (most lines as recommended, some
changed, some cuts not applied): the next annual report states it, this one does not.

Every choice is drawn from `random.Random` seeded by fixed strings (`perfcycle.demo`), every date from the
demo's calendar (each finding's registration and deadline, the disclosure deadline, the annual report's 成文日期,
the budget year), never from the day the demo runs: a rerun finds everything done and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlmodel import Session, col, select

from models import Cycle, Department, Finding, Publication
from models.tables import SHANGHAI
from perfcycle.adoption import import_adopted_budget, table_lines
from perfcycle.approvals import in_shanghai
from perfcycle.collecting import coordinators, cycle_policy, get_cycle_for
from perfcycle.demo import DISTRICT, _rng
from perfcycle.disclosure import bureau_publication, report_bureau_publication, report_publication
from perfcycle.documents.contexts import ANNUAL_REPORT_KIND
from perfcycle.documents.numbers import document_day
from perfcycle.findings import answer_finding, verify_finding
from perfcycle.money import fmt_wan
from perfcycle.rules.findings import ANSWERED, OPEN
from perfcycle.workbooks.formats import ADOPTED_BUDGET
from perfcycle.workbooks.writer import write_workbook

UNANSWERED_RED_LIGHTS = 2  # red lights left unanswered: past their deadline, they read as 逾期
UNFIXED_SHARE = 0.15  # answers the 绩效科 finds not good enough (未整改)
LATE_ANSWER_SHARE = 0.1  # answers given after their deadline (逾期反馈), where the report's date leaves room
VERIFIED_WITHIN = (3, 10)  # days after an answer the 绩效科 verifies it
ADOPTION_IMPORTED = (1, 20)  # month, day of the budget year: the budget adopted in January, imported days later
UNVERIFIED_SHARE = 0.1  # answers still waiting for the 绩效科's verification (已反馈)
CHANGED_LINES = 3  # budget lines the People's Congress adopted at another amount
NOT_ADOPTED_LINES = 2  # cut lines adopted at their whole request (the cut not applied)
URL = "https://www.lieshan.gov.cn.invalid/xxgk/jxgk/{year}/{name}.html"


@dataclass(frozen=True)
class DemoLife:
    """What the demo's loops before the annual report did (all zero on a rerun)."""

    answered: int = 0
    verified: int = 0
    published: int = 0


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=SHANGHAI)


def report_day(session: Session, cycle: Cycle) -> date:
    """The annual report's 成文日期: every loop the demo lives happens before it."""
    return document_day(session, cycle, cycle_policy(cycle), ANNUAL_REPORT_KIND)


def _answer_day(finding: Finding, last: date) -> date:
    """A day after the finding's registration, by its deadline, or for a few after it (逾期反馈); at the latest
    `last`."""
    rng = _rng("finding-answer", finding.source, finding.key)
    late = rng.random() < LATE_ANSWER_SHARE and finding.due_on < last
    first, until = (finding.due_on, last) if late else (finding.registered_on, min(finding.due_on, last))
    return first + timedelta(days=rng.randint(1, max(1, (until - first).days)))


def answer_and_verify(session: Session, cycle: Cycle) -> tuple[int, int]:
    """Departments answer their open findings but for a few red lights; the 绩效科 verifies most answers, all
    before the annual report's date."""
    findings = session.exec(select(Finding).where(Finding.cycle_id == cycle.id).order_by(col(Finding.id))).all()
    red = sorted((f.key for f in findings if f.source == "red_light"), key=lambda key: (key.split(":")[1], key))
    unanswered = set(_rng("finding-unanswered", cycle.year).sample(red, min(UNANSWERED_RED_LIGHTS, len(red))))
    departments = {d.id: d for d in session.exec(select(Department))}
    verifiers = coordinators(cycle)
    reported = report_day(session, cycle)
    last_answer = reported - timedelta(days=VERIFIED_WITHIN[1] + 1)
    answered = verified = 0
    for finding in findings:
        assert finding.id is not None
        if (
            finding.status == OPEN
            and not finding.answers
            and not (finding.source == "red_light" and finding.key in unanswered)
            and finding.registered_on < last_answer
        ):
            department = departments.get(finding.department_id)
            by = department.contact if department is not None else verifiers[0]
            answer_finding(
                session,
                finding.id,
                cause="支出进度偏慢，绩效目标执行跟踪不够及时",
                measures="已制定整改方案，明确责任人和完成时限，加快项目实施和资金支付进度",
                by=by,
                at=_at(_answer_day(finding, last_answer), 10),
            )
            answered += 1
        rng = _rng("finding-verification", finding.source, finding.key)
        draw = rng.random()
        if finding.status != ANSWERED or draw < UNVERIFIED_SHARE or finding.answered_at is None:
            continue
        day = in_shanghai(finding.answered_at).date() + timedelta(days=rng.randint(*VERIFIED_WITHIN))
        if day >= reported:
            continue
        fixed = draw >= UNVERIFIED_SHARE + UNFIXED_SHARE
        verifier = next(v for v in verifiers if v.casefold() != finding.answered_by.casefold())
        comment = "经核实，整改措施已落实到位" if fixed else "整改措施不够具体，未提供佐证材料，请补充后重新反馈"
        verify_finding(session, finding.id, fixed=fixed, comment=comment, by=verifier, at=_at(day, 15))
        verified += 1
    return answered, verified


def publish(session: Session, cycle: Cycle) -> int:
    """One department that had not published reports it did, after its deadline (before the annual report); the
    bureau reports its own publication of the key-evaluation results."""
    assert cycle.id is not None
    due = cycle_policy(cycle).disclosure.due_date(cycle.year)
    late_on = due + timedelta(days=(report_day(session, cycle) - due).days // 2)  # before the annual report
    rows = session.exec(
        select(Publication, Department)
        .join(Department, col(Department.id) == Publication.department_id)
        .where(Publication.cycle_id == cycle.id)
        .order_by(col(Department.code))
    ).all()
    published = 0
    if not any(row.reported_by for row, _ in rows):
        unpublished = [department for row, department in rows if row.published_on is None]
        if unpublished:
            department = unpublished[0]
            report_publication(
                session,
                year=cycle.year,
                department_code=department.code,
                published_on=late_on,
                url=URL.format(year=cycle.year, name=department.code),
                by=department.contact,
                at=_at(late_on + timedelta(days=1), 15),
            )
            published += 1
    if bureau_publication(session, cycle.id) is None:
        report_bureau_publication(
            session,
            year=cycle.year,
            published_on=due - timedelta(days=10),
            url=URL.format(year=cycle.year, name="zdpj"),
            by=coordinators(cycle)[0],
            at=_at(due - timedelta(days=9), 15),
        )
        published += 1
    return published


def adopted_budget(session: Session, cycle: Cycle, folder: Path) -> Path:
    """The 人大批准预算表 of the budget year: most lines as recommended, a few changed, a few cuts not applied."""
    assert cycle.id is not None
    lines = table_lines(session, cycle.id)
    rng = _rng("adoption", cycle.year)
    funded = [line.project_code for line in lines if line.recommended_fen > 0]
    cut = [line.project_code for line in lines if 0 < line.recommended_fen < line.request_fen]
    not_adopted = set(rng.sample(cut, min(NOT_ADOPTED_LINES, len(cut))))
    changed = set(rng.sample([c for c in funded if c not in not_adopted], min(CHANGED_LINES, len(funded))))
    rows = []
    for line in lines:
        recommended = Decimal(fmt_wan(line.recommended_fen))
        adopted, remark = recommended, ""
        if line.project_code in not_adopted:
            adopted, remark = Decimal(fmt_wan(line.request_fen)), "按原申请额批准"
        elif line.project_code in changed:
            adopted = (recommended * Decimal("0.9")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            remark = "人大审议时调减"
        rows.append(
            {
                "project_code": line.project_code,
                "project_name": line.project_name,
                "recommended_wan": recommended,
                "adopted_wan": adopted,
                "remark": remark,
            }
        )
    path = folder / f"{DISTRICT}{cycle.budget_year}年人大批准预算表.xlsx"
    return write_workbook(
        path, ADOPTED_BUDGET, {ADOPTED_BUDGET.sheets[0].name: rows}, stamp=datetime(cycle.budget_year, 1, 1)
    )


def live_the_loops(session: Session, year: int) -> DemoLife:
    """Answers, verifications and publications of the demo's `year`, dated before its annual report."""
    cycle = get_cycle_for(session, year)
    answered, verified = answer_and_verify(session, cycle)
    published = publish(session, cycle)
    session.commit()
    return DemoLife(answered, verified, published)


def adopt_the_budget(session: Session, year: int, data_folder: Path) -> int:
    """The budget year's adopted budget, imported after the People's Congress adopted it (after the annual report):
    the lines imported, 0 on a rerun."""
    cycle = get_cycle_for(session, year)
    imported = import_adopted_budget(
        session,
        year=year,
        path=adopted_budget(session, cycle, data_folder),
        by=coordinators(cycle)[0],
        on=date(cycle.budget_year, *ADOPTION_IMPORTED),
    )
    session.commit()
    return 0 if imported.unchanged else imported.lines


def before_the_report(year: int) -> DemoLife:
    """The demo's loops once every stage before its annual report has run."""
    from models import session_scope

    with session_scope() as session:
        return live_the_loops(session, year)


def after_the_cycle(year: int, out_dir: Path) -> dict[str, object]:
    """The adopted budget imported once the cycle is done; the cycle's summary as `--json` states it (the records
    as they now stand: the adoption its report, dated before it, does not state)."""
    from models import session_scope
    from tasks.summary import summarize_cycle

    with session_scope() as session:
        adopt_the_budget(session, year, out_dir / "data")
        cycle = get_cycle_for(session, year)
        assert cycle.id is not None
        cycle_id = cycle.id
    return dict(summarize_cycle.fn(cycle_id))
