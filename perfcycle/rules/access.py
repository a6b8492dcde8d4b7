"""Who may see what, and what makes a login or a password acceptable: the rules of the workbench's accounts.

A department sees its own forms, findings and documents (and the notices every department receives); an
evaluator only what it was given to score; the bureau's coordinators and leaders see the whole year.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime

DEPARTMENT, COORDINATOR, LEADER = "department", "coordinator", "leader"
PANEL, REVIEW, THIRD_PARTY = "panel", "review", "third_party"
ROLE_NAMES = {
    DEPARTMENT: "预算部门",
    COORDINATOR: "财政局绩效科",
    LEADER: "财政局分管领导",
    PANEL: "事前评估专家组",
    REVIEW: "复核组",
    THIRD_PARTY: "第三方机构",
}
BUREAU_ROLES = frozenset({COORDINATOR, LEADER})
EVALUATOR_ROLES = frozenset({PANEL, REVIEW, THIRD_PARTY})
DUTY_NAMES = {"contact": "填报联系人", "head": "负责人"}

#: Documents addressed to every department (the call for targets, the 通报 of the review's results, the
#: public list of results), beside those that name the department itself.
TO_EVERY_DEPARTMENT = frozenset({"绩效目标申报通知", "抽查复核结果", "绩效评价结果公开清单"})

MIN_PASSWORD, MAX_PASSWORD = 10, 256
_LOGIN = re.compile(r"^[^\s/\\]{1,64}$")


def login_problem(login: str) -> str | None:
    """A login is 1–64 visible characters without a space or a slash; None when it is one."""
    if not _LOGIN.match(login) or any(unicodedata.category(c).startswith("C") for c in login):
        return f"账号「{login}」无效：应为 1–64 个字符，不含空格、斜杠或不可见字符"
    return None


def password_problem(password: str, login: str, name: str) -> str | None:
    """Long enough to resist guessing, not the login or the name, not one character repeated; None if good."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符"
    if len(password) > MAX_PASSWORD:
        return f"密码最多 {MAX_PASSWORD} 个字符"
    if len(set(password)) < 4:
        return "密码过于简单：至少要有 4 个不同的字符"
    lowered = password.casefold()
    for own in (login, name):
        if own and own.casefold() in lowered:
            return "密码不能包含账号或姓名"
    return None


def is_locked(locked_until: datetime | None, at: datetime) -> bool:
    """An account is locked until the moment its lockout ends."""
    return locked_until is not None and at < locked_until


def after_failure(failures: int, threshold: int) -> tuple[int, bool]:
    """One more wrong password: the new count, and whether it locks the account (the count then starts over)."""
    failures += 1
    return (0, True) if failures >= threshold else (failures, False)


def too_many_from(address_failures: int, limit: int) -> bool:
    """An address that failed `limit` times within the lockout time waits before it may try again."""
    return address_failures >= limit


def names_department(subject: str, department_code: str) -> bool:
    """A document's subject names the department: its code, or "<quarter>:<code>" for a quarter's notice."""
    return subject == department_code or (subject.rsplit(":", 1)[-1] == department_code and ":" in subject)


def document_visible(
    role: str, department_code: str | None, kind: str, subject: str, evaluator_kinds: Collection[str] = ()
) -> bool:
    """Whether a person of `role` may open a document of this kind and subject.

    The bureau sees everything; a department what names it or goes to every department; an evaluator the
    kinds handed to it (`evaluator_kinds`, its score sheet)."""
    if role in BUREAU_ROLES:
        return True
    if role == DEPARTMENT and department_code:
        return kind in TO_EVERY_DEPARTMENT or names_department(subject, department_code)
    if role in EVALUATOR_ROLES:
        return kind in evaluator_kinds
    return False
