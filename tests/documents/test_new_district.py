"""A district that is not the demo, set up with `perfcycle init`: every document and message of its cycle names
it and its 发文机关, and nothing of the demo district (烈山区, its approvers, its cost pilot) appears anywhere."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from sqlmodel import Session

from models.tables import Cycle
from perfcycle.district import write_policy
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.renderer import docx_text
from perfcycle.policy import load_policy
from perfcycle.reminding import collect_obligations, compose
from perfcycle.settings import DEMO_POLICY_DIR
from tests.documents.records import YEAR, arrange

DISTRICT, ISSUER = "青山区", "青山区人民政府财政局"


def _demo_marks() -> set[str]:
    """What only the demo district's policy holds: its name and city, its approvers, its cost pilot's code."""
    demo = load_policy(YEAR, DEMO_POLICY_DIR)
    names = {name for levels in demo.approvals.gates.values() for rule in levels.values() for name in rule.approvers}
    assert demo.cost_pilot.project_code is not None
    return {"烈山", "淮北", "烈财", "lieshan", demo.cost_pilot.project_code, *names}


def _parts(path: Path) -> dict[str, str]:
    """Every XML part of a .docx/.xlsx as text (document body, tables, sheets, shared strings, properties)."""
    with zipfile.ZipFile(path) as archive:
        return {
            name: archive.read(name).decode("utf-8") for name in archive.namelist() if name.endswith((".xml", ".rels"))
        }


def test_a_new_districts_documents_name_it_and_nothing_of_the_demo(session: Session, tmp_path: Path) -> None:
    written = write_policy(
        tmp_path / "policies", DISTRICT, YEAR, issuer=ISSUER, coordinators=["王芳", "赵磊"], leaders=["孙伟"]
    )
    policy = load_policy(YEAR, tmp_path / "policies")
    assert (policy.district, policy.issuer, policy.cost_pilot.project_code) == (DISTRICT, ISSUER, None)
    arranged = arrange(session, policy.as_json())
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None and written.placeholders == []
    marks = _demo_marks()
    assert not [mark for mark in marks if mark in written.path.read_text(encoding="utf-8")]

    kinds = [kind for group in GROUPS.values() for kind in group]
    documents = write_documents(session, cycle, tmp_path / "out", kinds)

    assert {d.path.suffix for d in documents} == {".docx", ".xlsx"}
    for document in documents:
        for part, text in _parts(document.path).items():
            leaked = sorted(mark for mark in marks if mark in text)
            assert not leaked, (document.path.name, part, leaked)
        assert not any(mark in document.path.name for mark in marks), document.path.name
    report = next(d.path for d in documents if d.path.name.startswith("关于"))
    assert report.name == f"关于{DISTRICT}{YEAR}年区级预算绩效管理工作开展情况的说明.docx"
    assert "未确定成本预算绩效管理试点项目" in docx_text(report)
    assert f"<dc:creator>{ISSUER}</dc:creator>" in _parts(report)["docProps/core.xml"]
    for document in documents:
        if document.path.suffix == ".docx" and document.kind != "工作开展情况说明":
            assert ISSUER in docx_text(document.path), document.path.name  # 落款

    # The reminders of its red-light departments are signed by its 财政局 too.
    obligations = collect_obligations(session, date(2024, 4, 20))
    messages = [message for o in obligations for message in compose(o, "due:T", date(2024, 4, 20))]
    assert messages
    for _recipient, subject, body in messages:
        assert f"{ISSUER}绩效科" in body
        assert not any(mark in subject + body for mark in marks)
