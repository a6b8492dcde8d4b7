"""The whole cycle on the demo district, on Prefect: the seed's figures, idempotence and resumption."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from docx import Document as DocxDocument
from sqlalchemy import text
from sqlmodel import Session, SQLModel, col, select

from flows.annual_cycle import annual_cycle
from models import Approval, Cycle, StageState, TargetReview, get_engine, session_scope
from perfcycle.approvals import GateGroup, OpenGate
from perfcycle.demo import DemoFiles
from perfcycle.gate_figures import FIGURES, GateFigures, gate_figures
from perfcycle.settings import get_settings

pytestmark = pytest.mark.prefect

# Timestamps and the Prefect run that last ran a stage record when and which run, not what.
VOLATILE = {
    "created_at",
    "finished_at",
    "started_at",
    "reviewed_at",
    "received_at",
    "decided_at",
    "opened_at",
    "flow_run_id",
}


def table_digest(url: str) -> dict[str, str]:
    """A digest of every table's rows, leaving out what is VOLATILE."""
    engine = get_engine(url)
    digests = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c.name for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY id")).all()
            digests[table.name] = hashlib.sha256(repr([tuple(map(str, r)) for r in rows]).encode()).hexdigest()
            digests[table.name + ".count"] = str(len(rows))
    return digests


def figures_shown(session: Session, gate: str) -> GateFigures:
    """The figures the approval form of the gate's first level shows (its gates as a group)."""
    cycle = session.exec(select(Cycle).where(Cycle.year == 2024)).one()
    approvals = session.exec(select(Approval).where(Approval.gate == gate).order_by(col(Approval.level))).all()
    level = approvals[0].level
    gates = tuple(
        OpenGate(a.id or 0, 2024, a.gate, a.subject, a.level, a.opened_at, a.due_at, ())
        for a in approvals
        if a.level == level
    )
    return gate_figures(session, cycle, GateGroup(2024, gate, level, gates, {}))


def run_demo(files: DemoFiles, tmp_path: Path) -> dict[str, Any]:
    return annual_cycle(
        year=2024,
        data=str(files.base),
        submissions=str(files.submissions),
        out_dir=str(tmp_path),
        auto_approve=True,
    )


def test_demo_cycle_reproduces_the_seed_and_reruns_change_nothing(
    db_url: str, prefect_harness: None, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    summary = run_demo(demo_2024, tmp_path)

    assert summary["status"] == "done", summary["waiting"]
    assert (summary["year"], summary["budget_year"], summary["departments"]) == (2024, 2026, 54)
    assert summary["ex_ante"] == {"units": 4, "projects": 10, "amount_wan": 16904.55, "cut_wan": 2090.55}
    assert summary["monitoring"]["departments_covered"] == 54
    for quarter, lights in summary["monitoring"]["lights"].items():
        assert sum(lights.values()) == 54, quarter
    assert summary["sampling"]["departments"] == 11
    assert summary["sampling"]["ratio"] == 0.2
    assert summary["sampling"]["cumulative_coverage"] >= 0.6
    fiscal = summary["fiscal_evaluation"]
    assert (fiscal["projects"], fiscal["policies"], fiscal["departments"]) == (9, 1, 2)
    assert fiscal["amount_wan"] == 160491.47
    assert summary["self_evaluation"]["coverage"] == 1.0
    assert summary["budget"]["projects"] == summary["projects"]
    assert summary["budget"]["cut_projects"] > 0

    report = next(
        p for p in summary["documents"] if p.endswith("关于烈山区2024年区级预算绩效管理工作开展情况的说明.docx")
    )
    text_of_report = "\n".join(p.text for p in DocxDocument(report).paragraphs)
    for figure in ("16904.55", "2090.55", "54", "11", "20%", "160491.47", "2026"):
        assert figure in text_of_report, figure

    with session_scope(db_url) as session:
        approvals = session.exec(select(Approval)).all()
        assert approvals and all(a.decided_by == "auto-policy" and a.decided_at for a in approvals)
        assert {a.gate for a in approvals} >= {"targets", "ex_ante_conclusions", "sample", "budget_table"}

    # What each gate's approval form shows is what the stages recorded.
    with session_scope(db_url) as session:
        shown = {gate: figures_shown(session, gate).lines for gate in FIGURES}
    with session_scope(db_url) as session:
        complete = len(session.exec(select(TargetReview).where(TargetReview.status == "approved")).all())
    assert shown["targets"][0].startswith(f"54 个部门，{summary['projects']} 个项目（目标完整 {complete} 个），预算 ")
    assert shown["ex_ante_conclusions"][0] == "4 家单位 10 个项目，申请 16904.55 万元，建议压减 2090.55 万元"
    assert (
        shown["sample"][0] == f"抽取 11 个部门（比例 20%），累计覆盖率 {summary['sampling']['cumulative_coverage']:.2%}"
    )
    assert shown["key_evaluation_selection"] == ["项目 9 个、财政政策 1 个、部门整体支出 2 个，涉及资金 160491.47 万元"]
    assert shown["key_evaluation_reports"][0].startswith("评价对象 12 个（已选 12 个），等级：")
    budget = summary["budget"]
    assert shown["budget_table"] == [
        f"2026 年预算安排建议：{budget['projects']} 个项目，申请 {budget['request_wan']:.2f} 万元，"
        f"事前评估压减 {budget['ex_ante_cut_wan']:.2f} 万元，建议安排 {budget['recommended_wan']:.2f} 万元",
        f"压减 {budget['cut_projects']} 个项目共 {budget['cut_wan']:.2f} 万元，优先保障 {budget['priority_projects']} 个",
        f"重点评价政策 {budget['consequences']['policies']} 项、部门整体 {budget['consequences']['departments']} 个"
        f"按评价等级安排：涉及 {budget['consequences']['funds_wan']:.2f} 万元，"
        f"建议安排 {budget['consequences']['recommended_wan']:.2f} 万元",
    ]
    assert "关于烈山区2024年区级预算绩效管理工作开展情况的说明.docx" in shown["annual_report"][0]

    before = table_digest(db_url)
    again = run_demo(demo_2024, tmp_path)
    assert again == summary
    assert table_digest(db_url) == before

    # Every stage forced to run again over the same records: upserts only, nothing doubles.
    with session_scope(db_url) as session:
        for state in session.exec(select(StageState)):
            state.status = "pending"
            session.add(state)
        cycle = session.exec(select(Cycle).where(Cycle.year == 2024)).one()
        cycle.status = "open"
        session.add(cycle)
    rerun = run_demo(demo_2024, tmp_path)
    assert rerun == summary
    after = table_digest(db_url)
    assert {k: v for k, v in after.items() if k.endswith(".count")} == {
        k: v for k, v in before.items() if k.endswith(".count")
    }
    assert after == before


def run_logs(flow_run_id: Any) -> list[str]:
    """The messages the Prefect server holds for one flow run, in order."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=20)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), sort=LogSort.TIMESTAMP_ASC
        )
    return [log.message for log in logs]


def stage_runs(parent_id: Any) -> dict[str, Any]:
    """The stage flow runs a cycle run started, by flow run name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id]))
        )
    return {run.name: run for run in runs}


def artifact(flow_run_id: Any, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
    return str(found.data)


def test_cycle_stops_at_the_first_open_gate_without_auto_approval(
    db_url: str, prefect_harness: None, demo_2024: DemoFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = demo_2024
    monkeypatch.setenv("PERFCYCLE_DOCUMENTS_URL", "http://files.test:4201/")  # where `perfcycle ui` serves tmp_path
    get_settings.cache_clear()
    state = annual_cycle(
        year=2024,
        data=str(files.base),
        submissions=str(files.submissions),
        out_dir=str(tmp_path),
        auto_approve=False,
        return_state=True,
    )
    summary = state.result()
    assert summary["status"] == "open"
    assert summary["waiting"] == ["target_setting"]
    with session_scope(db_url) as session:
        gates = session.exec(select(Approval).order_by(col(Approval.id))).all()
        assert gates and {g.gate for g in gates} == {"targets"}
        assert all(g.status == "open" and not g.decided_by for g in gates)
        first_ids = f"{gates[0].id}-{gates[-1].id}"
    assert summary["ex_ante"] is None and summary["budget"] is None  # not run: no figures, not zeros
    assert summary["stages"]["target_setting"] == "waiting" and summary["stages"]["reporting"] == "pending"

    # In the UI the run is not a plain Completed: its state says it waits for a decision, and its log says which.
    assert state.is_completed() and state.name == "等待审批"
    (line,) = [m for m in run_logs(state.state_details.flow_run_id) if m.startswith("等待")]
    assert line == state.message
    assert line.startswith("等待审批：2024年度绩效目标第1级审批（54 个部门）：")
    assert "区教育局" in line and "可审批人：周晓梅、陈立军" in line
    assert f"perfcycle approve {first_ids} --by <审批人> --resume" in line
    stages = stage_runs(state.state_details.flow_run_id)
    target_setting = stages["2024 target setting"]
    assert target_setting.state.name == "等待审批"

    # The documents the stage wrote are links into the served output folder, not file:// paths.
    listed = artifact(target_setting.id, "2024-target-setting-documents").splitlines()
    assert len(listed) > 54 and "file://" not in "".join(listed)
    for item in listed:
        assert item.startswith("- [") and "](http://files.test:4201/" in item, item
    name, url = listed[0][3:].rstrip(")").split("](")
    served = tmp_path / unquote(url.removeprefix("http://files.test:4201/"))
    assert served.name == name and served.is_file()
