"""Who may see which document, and which logins and passwords the workbench accepts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from perfcycle.rules.access import (
    after_failure,
    document_visible,
    is_locked,
    login_problem,
    names_department,
    password_problem,
    too_many_from,
)


@pytest.mark.parametrize(
    ("role", "code", "kind", "subject", "seen"),
    [
        ("department", "101", "绩效目标审核意见", "101", True),
        ("department", "101", "绩效目标审核意见", "102", False),
        ("department", "101", "绩效监控预警通知书", "Q2:101", True),
        ("department", "101", "绩效监控预警通知书", "Q2:1011", False),
        ("department", "101", "绩效目标申报通知", "*", True),  # addressed to every department
        ("department", "101", "预算安排建议表", "*", False),
        ("department", None, "绩效目标审核意见", "101", False),
        ("coordinator", None, "预算安排建议表", "*", True),
        ("leader", None, "绩效目标审核意见", "102", True),
        ("review", None, "抽查复核评分表", "*", True),
        ("review", None, "绩效目标审核意见", "101", False),
        ("nobody", "101", "绩效目标申报通知", "*", False),
    ],
)
def test_document_visibility(role: str, code: str | None, kind: str, subject: str, seen: bool) -> None:
    assert document_visible(role, code, kind, subject, {"抽查复核评分表"}) is seen


def test_a_subject_names_a_department_by_its_whole_code() -> None:
    assert names_department("101", "101") and names_department("Q4:101", "101")
    assert not names_department("1101", "101") and not names_department("Q4:1101", "101")


@pytest.mark.parametrize("login", ["", "a b", "a/b", "a\\b", "x" * 65, "a\u200bb"])
def test_logins_that_are_refused(login: str) -> None:
    assert login_problem(login) is not None


@pytest.mark.parametrize("login", ["101", "101-head", "zhouxiaomei", "周晓梅", "x" * 64])
def test_logins_that_are_accepted(login: str) -> None:
    assert login_problem(login) is None


def test_password_rules_at_their_boundaries() -> None:
    assert password_problem("abcdefghi", "u", "n") == "密码至少 10 个字符"
    assert password_problem("abcdefghij", "u1", "n1") is None
    assert password_problem("a" * 257, "u", "n") is not None and password_problem("abcd" * 64, "u", "n") is None
    assert password_problem("abcabcabca", "u", "n") is not None  # three different characters only
    assert password_problem("xx-ZHANG-1234", "zhang", "张三") == "密码不能包含账号或姓名"
    assert password_problem("张三的密码很长很长很长", "zs", "张三") == "密码不能包含账号或姓名"


def test_lockout_counts_and_lasts_until_its_end() -> None:
    assert after_failure(3, 5) == (4, False)
    assert after_failure(4, 5) == (0, True)
    start = datetime(2026, 1, 1, 9, 0)
    assert is_locked(start + timedelta(minutes=15), start)
    assert not is_locked(start, start) and not is_locked(None, start)
    assert not too_many_from(19, 20) and too_many_from(20, 20)
