"""问题整改: where findings come from, when they are due, and what state a finding is in on a given day.

A finding is anything that asks a department to act. It is open until the department answers it with its
measures; the coordinator then verifies the answer: fixed closes it, unfixed leaves it open (the department
answers again). An open finding past its deadline reads as overdue. Everything not fixed is still open: it
puts the department first in the next cycle's sample (after the never-sampled) and stands beside its lines
in the next budget table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

SOURCES = {
    "red_light": "监控红灯",
    "review_flag": "抽查复核",
    "inflated_claim": "自评偏高",
    "key_evaluation": "重点评价",
    "ex_ante": "事前评估",
}
#: The sources whose answer is due a policy number of days after registration (a red light's answer is the
#: 预警整改 response, due when the notice says).
ANSWERED_BY_DAYS = ("review_flag", "inflated_claim", "key_evaluation", "ex_ante")
#: The document in which each source's findings are found: a finding is registered no later than that document's
#: 成文日期 in the year's calendar (a year run after the fact registers them as its calendar has it).
FOUND_IN = {
    "ex_ante": "事前绩效评估报告",
    "inflated_claim": "绩效自评汇总",
    "review_flag": "抽查复核结果",
    "key_evaluation": "重点绩效评价报告",
}

OPEN, ANSWERED, FIXED, UNFIXED, OVERDUE = "open", "answered", "fixed", "unfixed", "overdue"
STATE_LABELS = {OPEN: "待整改", ANSWERED: "已反馈", FIXED: "已整改", UNFIXED: "未整改", OVERDUE: "逾期"}
VERIFICATIONS = {FIXED: "已整改", UNFIXED: "未整改"}


def answer_due(registered_on: date, days: int) -> date:
    """The day a finding's answer is due: `days` after it was registered."""
    return registered_on + timedelta(days=days)


def finding_state(status: str, due_on: date, today: date) -> str:
    """The state a finding reads as on `today`: an open finding past its deadline is overdue."""
    if status == OPEN and today > due_on:
        return OVERDUE
    return status


def status_on(status: str, answered_on: date | None, verified_on: date | None, day: date) -> str:
    """The status a finding had at the end of `day`, from its status now and the days of its last answer and
    verification (a document dated `day` states it so, whenever it is written)."""
    answered = answered_on is not None and answered_on <= day
    verified = verified_on is not None and verified_on <= day
    if status in (FIXED, UNFIXED):  # verified last: answered before
        return status if verified else ANSWERED if answered else OPEN
    if status == ANSWERED and not answered:  # answered again after 未整改, or answered after the day
        return UNFIXED if verified else OPEN
    return status


def is_open(status: str) -> bool:
    """Whether a finding still asks something of its department: everything not verified as fixed."""
    return status != FIXED


def awaits_verification(state: str) -> bool:
    """Whether a coordinator may verify a finding now: it has been answered and not verified since."""
    return state == ANSWERED


def state_for(text: str) -> str:
    """A state as a person types it, in English or as the register shows it (待整改 …)."""
    value = text.strip()
    by_label = {label: key for key, label in STATE_LABELS.items()}
    if value.lower() in STATE_LABELS:
        return value.lower()
    if value in by_label:
        return by_label[value]
    raise ValueError(f"整改状态应为 {'、'.join(STATE_LABELS.values())} 之一，不是 {text!r}")


def finding_lines(text: str) -> list[str]:
    """Each line of a key evaluation's 主要发现 is one finding (blank lines are not)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class FindingCounts:
    """The register's figures: registered, answered at least once, verified fixed, overdue, by source."""

    registered: int = 0
    responded: int = 0
    closed: int = 0
    overdue: int = 0
    by_source: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "registered": self.registered,
            "responded": self.responded,
            "closed": self.closed,
            "overdue": self.overdue,
            "by_source": {source: self.by_source[source] for source in SOURCES if self.by_source[source]},
        }


def count_findings(findings: Iterable[tuple[str, str, date, int]], today: date) -> FindingCounts:
    """Counts of (source, status, due_on, answers) findings on `today`."""
    counts = FindingCounts()
    for source, status, due_on, answers in findings:
        counts.registered += 1
        counts.by_source[source] += 1
        counts.responded += answers > 0
        counts.closed += status == FIXED
        counts.overdue += finding_state(status, due_on, today) == OVERDUE
    return counts
