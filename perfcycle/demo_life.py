"""The demo district's loops after its cycle: findings answered and verified, publications, the adopted budget.

After the 2024 cycle of 烈山区 has run, its departments answer their findings (a few red lights stay unanswered,
past their deadline), the 绩效科 verifies most answers as 已整改 and some as 未整改 (a few wait for it), one
department that had not published reports its publication after the cycle closed, the bureau reports its own
publication of the key-evaluation results, and the budget the People's Congress adopted for 2026 is imported
(most lines as recommended, some changed, some cuts not applied). The annual report and its 数据核对表 are then
written again so they state these loops.

Every choice is drawn from `random.Random` seeded by fixed strings (`perfcycle.demo`), every date from the
demo's calendar (the notices' dates, the policy's disclosure deadline): a rerun finds everything done and
changes nothing. An answer to a finding registered on the day the cycle ran is dated when it is given (a date
from the calendar would come before the finding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlmodel import Session, col, select

from models import Cycle, Department, Finding, Publication, WarningNotice, now
from models.tables import SHANGHAI
from perfcycle.adoption import import_adopted_budget, table_lines
from perfcycle.demo import DISTRICT, _rng
from perfcycle.disclosure import bureau_publication, report_bureau_publication, report_publication
from perfcycle.findings import answer_finding, verify_finding
from perfcycle.money import fmt_wan
from perfcycle.rules.findings import ANSWERED, OPEN
from perfcycle.windows import coordinators, cycle_policy, get_cycle_for
from perfcycle.workbooks.formats import ADOPTED_BUDGET
from perfcycle.workbooks.writer import write_workbook

UNANSWERED_RED_LIGHTS = 2  # red lights left unanswered: past their deadline, they read as 逾期
UNFIXED_SHARE = 0.15  # answers the 绩效科 finds not good enough (未整改)
UNVERIFIED_SHARE = 0.1  # answers still waiting for the 绩效科's verification (已反馈)
CHANGED_LINES = 3  # budget lines the People's Congress adopted at another amount
NOT_ADOPTED_LINES = 2  # cut lines adopted at their whole request (the cut not applied)
URL = "https://www.lieshan.gov.cn.invalid/xxgk/jxgk/{year}/{name}.html"


@dataclass(frozen=True)
class DemoLife:
    """What the demo's loops did (all zero on a rerun)."""

    answered: int = 0
    verified: int = 0
    published: int = 0
    adopted_lines: int = 0


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=SHANGHAI)


def _answer_moment(session: Session, finding: Finding) -> datetime | None:
    """A red light's answer a few days after its notice (the calendar's date); any other when it is given."""
    if finding.source != "red_light":
        return None
    notice = session.exec(
        select(WarningNotice).where(
            WarningNotice.cycle_id == finding.cycle_id,
            WarningNotice.department_id == finding.department_id,
            WarningNotice.quarter == finding.key.partition(":")[0],
        )
    ).first()
    issued = notice.issued_on if notice is not None else finding.registered_on
    days = _rng("finding-answer", finding.source, finding.key).randint(1, max(1, (finding.due_on - issued).days))
    moment = _at(issued + timedelta(days=days), 10)
    return moment if moment <= now() else None


def answer_and_verify(session: Session, cycle: Cycle) -> tuple[int, int]:
    """Departments answer their open findings but for a few red lights; the 绩效科 verifies most answers."""
    findings = session.exec(select(Finding).where(Finding.cycle_id == cycle.id).order_by(col(Finding.id))).all()
    red = sorted((f.key for f in findings if f.source == "red_light"), key=lambda key: (key.split(":")[1], key))
    unanswered = set(_rng("finding-unanswered", cycle.year).sample(red, min(UNANSWERED_RED_LIGHTS, len(red))))
    departments = {d.id: d for d in session.exec(select(Department))}
    verifiers = coordinators(cycle)
    answered = verified = 0
    for finding in findings:
        assert finding.id is not None
        if (
            finding.status == OPEN
            and not finding.answers
            and not (finding.source == "red_light" and finding.key in unanswered)
        ):
            department = departments.get(finding.department_id)
            by = department.contact if department is not None else verifiers[0]
            answer_finding(
                session,
                finding.id,
                cause="支出进度偏慢，绩效目标执行跟踪不够及时",
                measures="已制定整改方案，明确责任人和完成时限，加快项目实施和资金支付进度",
                by=by,
                at=_answer_moment(session, finding),
            )
            answered += 1
        draw = _rng("finding-verification", finding.source, finding.key).random()
        if finding.status != ANSWERED or draw < UNVERIFIED_SHARE:
            continue
        fixed = draw >= UNVERIFIED_SHARE + UNFIXED_SHARE
        verifier = next(v for v in verifiers if v.casefold() != finding.answered_by.casefold())
        comment = "经核实，整改措施已落实到位" if fixed else "整改措施不够具体，未提供佐证材料，请补充后重新反馈"
        verify_finding(session, finding.id, fixed=fixed, comment=comment, by=verifier)
        verified += 1
    return answered, verified


def publish(session: Session, cycle: Cycle) -> int:
    """One department that had not published reports it did, late and after the cycle closed; the bureau reports
    its own publication of the key-evaluation results."""
    assert cycle.id is not None
    due = cycle_policy(cycle).disclosure.due_date(cycle.year)
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
                published_on=due + timedelta(days=75),
                url=URL.format(year=cycle.year, name=department.code),
                by=department.contact,
                at=_at(due + timedelta(days=76), 15),
            )
            published += 1
    if bureau_publication(session, cycle.id) is None:
        report_bureau_publication(
            session,
            year=cycle.year,
            published_on=due - timedelta(days=10),
            url=URL.format(year=cycle.year, name="zdpj"),
            by=coordinators(cycle)[0],
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


def live_the_loops(session: Session, year: int, data_folder: Path) -> DemoLife:
    """Answers, verifications, publications and the adopted budget of the demo's `year` (its cycle done)."""
    cycle = get_cycle_for(session, year)
    answered, verified = answer_and_verify(session, cycle)
    published = publish(session, cycle)
    imported = import_adopted_budget(
        session, year=year, path=adopted_budget(session, cycle, data_folder), by=coordinators(cycle)[0]
    )
    session.commit()
    return DemoLife(answered, verified, published, 0 if imported.unchanged else imported.lines)


def after_the_cycle(year: int, out_dir: Path) -> dict[str, object]:
    """The demo's loops once its cycle is done, then its annual report and 数据核对表 written again from the records
    as they now stand; the cycle's summary as `--json` states it."""
    from models import session_scope
    from perfcycle.documents.catalog import GROUPS
    from tasks.documents import write_and_record
    from tasks.summary import summarize_cycle

    with session_scope() as session:
        live_the_loops(session, year, out_dir / "data")
        cycle = get_cycle_for(session, year)
        assert cycle.id is not None
        cycle_id = cycle.id
        write_and_record(session, cycle_id, str(out_dir), GROUPS["annual_report"])
    return dict(summarize_cycle.fn(cycle_id))
