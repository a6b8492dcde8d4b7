"""工作记事: the events of a year that no other record holds, recorded by the coordinator so that the annual
report states them (and states nothing of the kind when none is recorded).

Three kinds, each with what the report needs to say it:
- 培训 (a training held): the month (or the day) and its name;
- 考核 (the district's place in the city's assessment): what was assessed, among whom, and the place;
- 宣传 (a press article): the day, its title and where it appeared.

They come from the 工作记事 sheet of the base-data workbook or from `perfcycle events add`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from models.tables import WorkEvent, now
from perfcycle import audit

TRAINING, RANKING, PRESS = "培训", "考核", "宣传"
KINDS = (TRAINING, RANKING, PRESS)
#: The command line also takes the kinds by these names.
KIND_ALIASES = {"training": TRAINING, "ranking": RANKING, "press": PRESS}
EVENT_RECORDED = "work_event.recorded"
EVENT_REMOVED = "work_event.removed"

_WHEN = re.compile(
    r"^\s*(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*(?:[-/.]\s*(?P<day>\d{1,2})|月\s*(?:(?P<day2>\d{1,2})\s*日)?)?\s*$"
)


class EventError(ValueError):
    """An event that cannot be recorded as given; the message says what is missing or wrong."""


@dataclass(frozen=True)
class When:
    """A month of the year, or one day of it."""

    month: int
    day: int | None = None


def parse_when(value: object, year: int) -> When:
    """ "2024-11", "2024-08-20", "2024年8月20日", "11月" or a date → the month (and day) of `year`."""
    if isinstance(value, datetime):
        value = value.date()
    day: int | None
    if isinstance(value, date):
        found_year, month, day = value.year, value.month, value.day
    else:
        match = _WHEN.match(str(value or ""))
        if match is None:
            raise EventError(f"日期「{value}」无法识别：请写作 {year}-11 或 {year}-08-20")
        found_year = int(match["year"]) if match["year"] else year
        month = int(match["month"])
        day_text = match["day"] or match["day2"]
        day = int(day_text) if day_text else None
    if found_year != year:
        raise EventError(f"日期「{value}」不在 {year} 年度")
    try:
        date(year, month, day or 1)
    except ValueError:
        raise EventError(f"日期「{value}」不是有效日期") from None
    return When(month, day)


def normal_kind(kind: str) -> str:
    """The kind as recorded (培训 / 考核 / 宣传), from its name or its alias."""
    found = KIND_ALIASES.get(kind.strip().lower(), kind.strip())
    if found not in KINDS:
        raise EventError(f"未知的记事类型「{kind}」；可用: {'、'.join(KINDS)}")
    return found


def event_problems(kind: str, when: When | None, title: str, detail: str, rank: int | None) -> list[str]:
    """What an event of its kind lacks for the report to state it."""
    problems = []
    if kind == TRAINING:
        if when is None:
            problems.append("培训须写明日期（月份即可）")
        if not title:
            problems.append("培训须写明名称")
    elif kind == RANKING:
        if not detail:
            problems.append("考核须写明排名范围（如 三区一县）")
        if rank is None or rank < 1:
            problems.append("考核须写明名次（正整数）")
    elif kind == PRESS:
        if when is None or when.day is None:
            problems.append("宣传报道须写明发表日期（年月日）")
        if not title:
            problems.append("宣传报道须写明标题")
        if not detail:
            problems.append("宣传报道须写明发表媒体")
    return problems


def record_event(
    session: Session,
    year: int,
    kind: str,
    *,
    when: object = None,
    title: str = "",
    detail: str = "",
    rank: int | None = None,
    source: str = "",
    by: str = "",
) -> WorkEvent:
    """Record an event of `year` (the same event recorded again is updated, not doubled, and left alone when
    nothing changed); the caller commits."""
    kind = normal_kind(kind)
    moment = parse_when(when, year) if when not in (None, "") else None
    title, detail = " ".join((title or "").split()), " ".join((detail or "").split())
    problems = event_problems(kind, moment, title, detail, rank)
    if problems:
        raise EventError("；".join(problems))
    month = moment.month if moment else None
    day = moment.day if moment else None
    event = session.exec(
        select(WorkEvent).where(
            WorkEvent.year == year,
            WorkEvent.kind == kind,
            WorkEvent.title == title,
            col(WorkEvent.month).is_(None) if month is None else WorkEvent.month == month,
            col(WorkEvent.day).is_(None) if day is None else WorkEvent.day == day,
        )
    ).first()
    if event is not None and (event.detail, event.rank, event.source) == (detail, rank, source):
        return event  # recorded already, as it stands
    event = event or WorkEvent(year=year, kind=kind, month=month, day=day, title=title)
    event.detail, event.rank, event.source = detail, rank, source
    event.recorded_by, event.recorded_at = by, now()
    session.add(event)
    session.flush()
    audit.append(session, by or "管理员", EVENT_RECORDED, f"work_event:{event.id}", describe(event))
    return event


def events_of(session: Session, year: int) -> list[WorkEvent]:
    """The year's events, by kind, then in the order of the calendar."""
    rows = session.exec(select(WorkEvent).where(WorkEvent.year == year)).all()
    return sorted(rows, key=lambda e: (KINDS.index(e.kind), e.month or 0, e.day or 0, e.id or 0))


def remove_event(session: Session, event_id: int, by: str = "") -> WorkEvent:
    """Remove a wrongly recorded event; the caller commits."""
    event = session.get(WorkEvent, event_id)
    if event is None:
        raise EventError(f"没有编号为 {event_id} 的工作记事")
    audit.append(session, by or "管理员", EVENT_REMOVED, f"work_event:{event.id}", describe(event))
    session.delete(event)
    return event


def when_text(month: int | None, day: int | None) -> str:
    """11月 / 8月20日, as the report dates an event within its year."""
    if month is None:
        return ""
    return f"{month}月{day}日" if day else f"{month}月"


def describe(event: WorkEvent) -> dict[str, object]:
    """The event as its audit entry and `perfcycle events list` show it."""
    return {
        "year": event.year,
        "kind": event.kind,
        "when": when_text(event.month, event.day),
        "title": event.title,
        "detail": event.detail,
        "rank": event.rank,
        "source": event.source,
    }
