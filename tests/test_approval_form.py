"""The approval form of a suspended run: one form per gate group, the figures it decides on, a decision that
must be chosen, refusals recorded and shown when the form asks again (tests/flows/test_deployed_cycle.py
answers it on a real server)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from sqlmodel import Session, col, select

from models import Approval
from models.audit_log import DecisionRefusal
from perfcycle.approvals import decide, form_answer
from tasks.gates import apply_group_decision, approval_form, decide_gate, find_open_group, record_waiting_run
from tests.test_approvals import COORDINATOR, arrange, gate


def statuses(session: Session) -> dict[str, str]:
    session.expire_all()
    return {f"{a.gate}:{a.subject}": a.status for a in session.exec(select(Approval).order_by(col(Approval.id)))}


def schema_of(group: dict[str, Any]) -> dict[str, Any]:
    form = approval_form(group)
    return form.model_json_schema()


def answer(decision: str = "通过", approver: str = COORDINATOR, comment: str = "", **rows: dict[str, str]) -> dict:
    """An answer as the UI submits it: every row of the form, some with their own decision."""
    return {"approver": approver, "decision": decision, "comment": comment, "subjects": list(rows.values())}


def row(gate_id: int | None, decision: str = "按总体决定", comment: str = "") -> dict[str, Any]:
    return {"gate_id": gate_id, "subject": "", "decision": decision, "comment": comment}


def test_one_form_decides_every_departments_targets_and_shows_what_it_decides_on(session: Session) -> None:
    cycle = arrange(session)
    assert cycle.id is not None
    g101, g102, budget = gate(session, "targets", "101"), gate(session, "targets", "102"), gate(session, "budget_table")

    group = find_open_group.fn(cycle.id)
    assert group is not None
    assert group["ids"] == [g101.id, g102.id] and group["label"] == "2024年度绩效目标第1级审批（2 个部门）"
    assert group["key"].startswith("gate-2024-targets-1-") and group["others"] == 1
    assert group["rows"] == [
        {"gate_id": g101.id, "subject": "101 区教育局"},
        {"gate_id": g102.id, "subject": "102 区卫健委"},
    ]

    form = approval_form(group)
    description = form._description
    assert isinstance(description, str)
    assert "2 个部门，3 个项目（目标完整 3 个）" in description
    assert f"| {g101.id} | 101 | 区教育局 | 2 | 2 | 0.00 | 0 |" in description
    assert f"perfcycle approve {g101.id}-{g102.id} --by <审批人>" in description

    schema = form.model_json_schema()
    assert "decision" in schema["required"] and "default" not in schema["properties"]["decision"]
    assert [r["gate_id"] for r in schema["properties"]["subjects"]["default"]] == [g101.id, g102.id]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"approver": COORDINATOR}, schema)  # no decision chosen
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"approver": COORDINATOR, "decision": "approve"}, schema)

    given = answer(a=row(g101.id), b=row(g102.id, "退回修改", "满意度指标不够具体"))
    jsonschema.validate(given, schema)
    result = apply_group_decision.fn(group, given)
    assert result == {"recorded": 2, "refused": [], "kept": 0}
    assert statuses(session) == {"targets:101": "approved", "targets:102": "returned", "budget_table:*": "open"}
    assert gate(session, "targets", "102").comment == "满意度指标不够具体"

    following = find_open_group.fn(cycle.id)
    assert following is not None and following["ids"] == [budget.id] and following["others"] == 0
    assert (
        following["label"] == "2024年度预算安排建议表第1级审批" and "预算调整" in approval_form(following)._description
    )


def test_a_refused_answer_is_recorded_and_the_form_asks_again_with_its_reason(session: Session) -> None:
    cycle = arrange(session)
    assert cycle.id is not None
    g101, g102, budget = gate(session, "targets", "101"), gate(session, "targets", "102"), gate(session, "budget_table")
    group = find_open_group.fn(cycle.id)
    assert group is not None

    # Someone the policy does not know: refused once for the whole group (recorded once), nothing is decided.
    result = apply_group_decision.fn(group, answer(approver="王五", a=row(g101.id), b=row(g102.id)))
    assert result["recorded"] == 0 and len(result["refused"]) == 1
    assert result["refused"][0].startswith("王五 不在2024年度绩效目标第1级审批（2 个部门）的审批人名单中")
    assert statuses(session)["targets:101"] == statuses(session)["targets:102"] == "open"
    refusals = session.exec(select(DecisionRefusal)).all()
    assert [(r.approval_id, r.actor) for r in refusals] == [(g101.id, "王五")]
    again = find_open_group.fn(cycle.id)
    assert again is not None and again["ids"] == group["ids"] and again["key"] != group["key"]
    assert [(r["subject"], r["actor"], r["decision"]) for r in again["refusals"]] == [("本组全部对象", "王五", "通过")]
    shown = approval_form(again)._description
    assert isinstance(shown, str) and "上次提交的决定未被接受" in shown and "王五 不在" in shown
    assert "本组对象均未决定" in shown

    # Nobody named: the same, once.
    result = apply_group_decision.fn(again, answer(approver=" ", a=row(g101.id), b=row(g102.id)))
    assert result["refused"] == ["必须写明决定人（--by 姓名）；本组对象均未决定"]
    assert len(session.exec(select(DecisionRefusal)).all()) == 2
    again = find_open_group.fn(cycle.id)
    assert again is not None

    # A return without its comment: that row is refused, the other one stands; the form asks for that one only.
    result = apply_group_decision.fn(again, answer(a=row(g101.id), b=row(g102.id, "退回修改")))
    assert result["recorded"] == 1 and result["refused"] == ["退回修改必须写明意见（--comment）"]
    assert statuses(session)["targets:101"] == "approved" and statuses(session)["targets:102"] == "open"
    third = find_open_group.fn(cycle.id)
    assert third is not None and third["ids"] == [g102.id]
    assert [r["reason"] for r in third["refusals"]] == ["退回修改必须写明意见（--comment）"]

    # A row for a gate the form does not ask (the budget table) is refused; an answer deciding nothing too.
    result = apply_group_decision.fn(third, answer(a=row(budget.id)))
    assert result["recorded"] == 0 and "不在本次审批的关口中" in result["refused"][0]
    assert statuses(session)["budget_table:*"] == "open"
    fourth = find_open_group.fn(cycle.id)
    assert fourth is not None and fourth["key"] != third["key"]
    result = apply_group_decision.fn(fourth, answer())
    assert result["refused"] == ["答复没有列出本组任何待审批的对象，未作决定"]
    fifth = find_open_group.fn(cycle.id)
    assert fifth is not None and fifth["key"] != fourth["key"]
    reasons = session.exec(select(DecisionRefusal.reason).where(DecisionRefusal.approval_id == g102.id)).all()
    assert len(reasons) == 3


def test_a_decision_taken_on_the_command_line_is_not_recorded_again(session: Session) -> None:
    cycle = arrange(session)
    assert cycle.id is not None
    g101, g102 = gate(session, "targets", "101"), gate(session, "targets", "102")
    assert g101.id is not None and g102.id is not None
    group = find_open_group.fn(cycle.id)
    assert group is not None
    decide(session, g101.id, "approve", COORDINATOR, "同意")
    session.commit()

    handed = form_answer("approve", COORDINATOR, "同意", [g101.id])
    jsonschema.validate(handed, schema_of(group))
    assert apply_group_decision.fn(group, handed) == {"recorded": 0, "refused": [], "kept": 1}
    decided = session.exec(select(Approval).where(Approval.decided_by == COORDINATOR)).all()
    assert [a.id for a in decided] == [g101.id]
    following = find_open_group.fn(cycle.id)
    assert following is not None and following["ids"] == [g102.id] and following["key"] != group["key"]


def test_record_text_in_the_form_shows_as_typed_and_never_becomes_markdown(session: Session) -> None:
    from markdown_it import MarkdownIt

    from models import Department

    cycle = arrange(session)
    assert cycle.id is not None
    hostile = "**区教育局**|[链接](http://x)\n## 伪造标题 <b>"
    department = session.exec(select(Department).where(Department.code == "101")).one()
    department.name = hostile
    session.add(department)
    session.commit()

    group = find_open_group.fn(cycle.id)
    assert group is not None
    description = approval_form(group)._description
    assert isinstance(description, str)
    tokens = MarkdownIt("commonmark").enable("table").parse(description)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"strong_open", "link_open", "html_inline", "html_block"}
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "伪造标题" not in " ".join(headings)
    rows = [t for t in tokens if t.type == "tr_open"]
    cells = [t for t in tokens if t.type == "td_open"]
    assert len(rows) == 3 and len(cells) == 2 * len(group["figures"]["columns"])  # header + one row a department
    text = " ".join(t.content for t in tokens if t.type == "inline")
    assert "**区教育局**｜[链接](http://x) ## 伪造标题 <b>" in text.replace("\\", "")  # a cell's | is ｜
    assert "perfcycle approve" in text and "--by <审批人>" in text  # the command is a code span, as typed


def test_a_resumed_run_finds_the_form_it_was_suspended_at_though_other_gates_opened_since(session: Session) -> None:
    cycle = arrange(session)
    assert cycle.id is not None
    g101, g102 = gate(session, "targets", "101"), gate(session, "targets", "102")
    asked = find_open_group.fn(cycle.id)
    assert asked is not None
    record_waiting_run.fn(asked["ids"], "run-1")
    assert find_open_group.fn(cycle.id, waited_on_by="run-2") is None

    # Another department's targets came in and opened a gate while the run waited: the run's form is unchanged.
    with Session(session.get_bind()) as own:
        own_cycle = own.get(type(cycle), cycle.id)
        assert own_cycle is not None
        decide_gate(own, own_cycle, "targets", "103")
        own.commit()
    now_open = find_open_group.fn(cycle.id)
    assert now_open is not None and len(now_open["ids"]) == 3 and now_open["key"] != asked["key"]
    waited = find_open_group.fn(cycle.id, waited_on_by="run-1")
    assert waited is not None and waited["key"] == asked["key"] and waited["ids"] == [g101.id, g102.id]


def test_a_decision_answered_in_the_prefect_form_is_the_shared_accounts_on_behalf_of_the_named_approver(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everyone opens the Prefect UI under one credential: the form's approver is who it was entered for."""
    import json

    from models.audit_log import AuditEntry
    from perfcycle.settings import get_settings

    monkeypatch.setenv("PERFCYCLE_PREFECT_UI_ACTOR", "admin")
    get_settings.cache_clear()
    cycle = arrange(session)
    assert cycle.id is not None
    group = find_open_group.fn(cycle.id)
    assert group is not None
    result = apply_group_decision.fn(group, answer(a=row(group["ids"][0]), b=row(group["ids"][1])))
    get_settings.cache_clear()
    assert result["recorded"] == 2
    session.expire_all()
    decided = [session.get(Approval, i) for i in group["ids"]]
    assert {(a.decided_by, a.entered_by) for a in decided if a is not None} == {(COORDINATOR, "admin")}
    entries = session.exec(select(AuditEntry).where(AuditEntry.action == "approval.decided")).all()
    assert [(e.actor, json.loads(e.payload_json)["on_behalf_of"]) for e in entries] == [("admin", COORDINATOR)] * 2
