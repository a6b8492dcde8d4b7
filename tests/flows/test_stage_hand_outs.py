"""What the stages hand the people who act on them, run as the bureau runs them (no auto-approval): the review
team's and the third party's score sheets as soon as their objects are known, taken back scored through the
stage's import; the budget table with codes beside names before the leader decides, and the leader's
adjustment by code in the table afterwards."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from flows.budget_linkage import budget_linkage
from flows.fiscal_evaluation import fiscal_evaluation
from flows.sampling_review import sampling_review
from models import Approval, BudgetRecommendation, Evaluation, Project, StageState, get_engine
from perfcycle.approvals import BudgetOverride, decide
from perfcycle.budget_gate import budget_gate_view
from perfcycle.documents.spreadsheets import BUDGET_HEADERS
from tests.documents.records import PROJECTS, SAMPLED, YEAR, arrange

pytestmark = pytest.mark.prefect

COORDINATOR, LEADER = "周晓梅", "刘建国"


def artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def latest_artifact(key: str) -> Any:
    """The artifact a run published last under `key` (the Prefect server is shared by the tests of a run)."""
    return max(artifacts(key), key=lambda a: a.created)


def table_artifact(key: str) -> list[dict[str, Any]]:
    data = latest_artifact(key).data
    return json.loads(data) if isinstance(data, str) else data


def approve(db_url: str, gate: str, by: str, level: int = 1, overrides: tuple[BudgetOverride, ...] = ()) -> None:
    with Session(get_engine(db_url)) as session:
        approval = session.exec(select(Approval).where(Approval.gate == gate, Approval.level == level)).one()
        assert approval.id is not None and approval.status == "open"
        decide(session, approval.id, "approve", by, overrides=overrides)
        session.commit()


def stage_summary(db_url: str, stage: str) -> dict[str, Any]:
    with Session(get_engine(db_url)) as session:
        state = session.exec(select(StageState).where(StageState.stage == stage)).one()
        return {"status": state.status, **json.loads(state.summary_json)}


def score(path: Path, scores: dict[str, tuple[object, ...]], code_column: int, headers: tuple[str, ...]) -> None:
    """Score the sheet as a person would in Excel, row by row next to the pre-filled codes and names, each value
    in the column under its header."""
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    columns = [[c.value for c in sheet[1]].index(header) for header in headers]
    for row in sheet.iter_rows(min_row=2):
        for column, value in zip(columns, scores[row[code_column].value], strict=True):
            row[column].value = value
    workbook.save(path)


def file_in(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / path.name).write_bytes(path.read_bytes())


def evaluations(db_url: str, kind: str) -> set[tuple[str, str, Decimal | None, str]]:
    with Session(get_engine(db_url)) as session:
        rows = session.exec(select(Evaluation).where(Evaluation.kind == kind)).all()
        return {(e.object_type, e.object_code, e.score, e.evaluator) for e in rows}


def test_the_review_team_gets_its_sheet_at_the_draw_and_its_scores_come_back_through_the_stage(
    db_url: str, prefect_harness: None, session: Session, tmp_path: Path
) -> None:
    arranged = arrange(session)
    out, submissions = tmp_path / "out", tmp_path / "submissions"
    run = {"year": YEAR, "cycle_id": arranged.cycle_id, "submissions": str(submissions), "out_dir": str(out)}

    waiting = sampling_review(**run)
    assert waiting["status"] == "waiting"  # the sample waits for the coordinator; the sheet is out already
    form = Path(waiting["summary"]["form"])
    assert form == out.resolve() / "documents" / str(YEAR) / "05-抽查复核" / "抽查复核评分表.xlsx"
    assert stage_summary(db_url, "sampling_review")["form"] == str(form)
    markdown = str(latest_artifact(f"{YEAR}-sampling-review-form").data)
    assert str(form) in markdown and "review_scores" in markdown
    assert [row["部门编码"] for row in table_artifact(f"{YEAR}-sample")] == sorted(SAMPLED[YEAR])
    sampled_projects = sorted(code for code, dept, *_ in PROJECTS if dept in SAMPLED[YEAR])
    assert [row[2] for row in load_workbook(form).worksheets[0].iter_rows(min_row=2, values_only=True)] == (
        sampled_projects
    )

    scores = {"P06": (Decimal("64.5"), "佐证不足", "复核组"), "P07": (81, None, "复核组"), "P08": (77, "", "复核组")}
    score(form, scores, code_column=2, headers=("复核得分", "复核意见", "复核人"))
    file_in(form, submissions / "review_scores")
    approve(db_url, "sample", COORDINATOR)
    done = sampling_review(**run)

    assert done["status"] == "done"
    assert done["summary"]["form"] == str(form)
    assert done["summary"]["received"]["files"] == 1 and done["summary"]["reviewed_projects"] == 3
    assert evaluations(db_url, "review") == {
        ("project", "P06", Decimal("64.50"), "复核组"),
        ("project", "P07", Decimal("81.00"), "复核组"),
        ("project", "P08", Decimal("77.00"), "复核组"),
    }


def test_the_third_party_gets_its_objects_in_the_workbooks_terms_and_its_scores_come_back(
    db_url: str, prefect_harness: None, session: Session, tmp_path: Path
) -> None:
    arranged = arrange(session)
    out, submissions = tmp_path / "out", tmp_path / "submissions"
    run = {"year": YEAR, "cycle_id": arranged.cycle_id, "submissions": str(submissions), "out_dir": str(out)}

    waiting = fiscal_evaluation(**run)
    assert waiting["status"] == "waiting"
    form = Path(waiting["summary"]["form"])
    assert form.parent.name == "06-财政重点评价" and form.name == "财政重点评价评分表.xlsx"
    selection = table_artifact(f"{YEAR}-key-evaluation-selection")
    listed = [(row["对象类型"], row["对象编码"], row["对象名称"]) for row in selection]
    sheet = load_workbook(form).worksheets[0]
    assert (
        [row[:3] for row in sheet.iter_rows(min_row=2, values_only=True)]
        == listed
        == [
            ("项目", "P01", "测试项目01"),
            ("项目", "P03", "测试项目03"),
            ("政策", "ZC01", "测试财政政策"),
            ("部门", "D01", "测试部门01"),
        ]
    )

    scores = {code: (Decimal("80") + i, f"发现{i}", "某评价公司") for i, (_, code, _) in enumerate(listed)}
    score(form, scores, code_column=1, headers=("得分", "主要发现", "评价机构"))
    file_in(form, submissions / "third_party_scores")
    approve(db_url, "key_evaluation_selection", COORDINATOR)
    reports = fiscal_evaluation(**run)

    assert reports["status"] == "waiting"  # now the reports wait for their approval
    results = reports["summary"]["results"]
    assert (results["scored"], results["missing"]) == (4, [])
    types = {"项目": "project", "政策": "policy", "部门": "department"}
    assert evaluations(db_url, "fiscal") == {
        (types[kind], code, Decimal("80") + i, "某评价公司") for i, (kind, code, _) in enumerate(listed)
    }


def test_the_leader_decides_on_a_budget_table_with_codes_and_sees_the_adjustment_by_code(
    db_url: str, prefect_harness: None, session: Session, tmp_path: Path
) -> None:
    arranged = arrange(session)
    out = tmp_path / "out"

    waiting = budget_linkage(year=YEAR, cycle_id=arranged.cycle_id, out_dir=str(out))
    assert waiting["status"] == "waiting"
    (path,) = (Path(p) for p in waiting["summary"]["documents"])
    assert path.name == f"{YEAR + 2}年预算安排建议表.xlsx" and path.is_file()  # there before the gate

    def table() -> dict[str, tuple[Any, ...]]:
        sheet = load_workbook(path).worksheets[0]
        header = [cell.value for cell in sheet[2]]
        assert header == BUDGET_HEADERS
        assert header.index("项目编码") + 1 == header.index("项目名称")  # the code right beside the name
        return {row[2]: row for row in sheet.iter_rows(min_row=3, values_only=True) if row[2]}

    with Session(get_engine(db_url)) as fresh:
        projects = {p.code: p.name for p in fresh.exec(select(Project).where(Project.year == YEAR))}
        view = budget_gate_view(fresh, arranged.cycle_id)
    rows = table()
    assert {code: row[3] for code, row in rows.items()} == projects
    assert view.table_path == str(path)
    assert [(e.project_code, e.project_name) for e in view.entries] == [(c, row[3]) for c, row in rows.items()]
    cut = table_artifact(f"{YEAR}-budget-cuts")
    assert cut and {(row["项目编码"], row["项目名称"]) for row in cut} == {
        (e.project_code, e.project_name) for e in view.cut
    }

    # The leader adjusts a cut project by the code read from the table (测算安排 below 安排基数).
    code = next(code for code, row in rows.items() if row[12] < row[6])
    approve(db_url, "budget_table", COORDINATOR)
    approve(db_url, "budget_table", LEADER, level=2, overrides=(BudgetOverride(code, "123.45", "据实调整"),))
    done = budget_linkage(year=YEAR, cycle_id=arranged.cycle_id, out_dir=str(out))

    assert done["status"] == "done"
    adjusted = table()[code]
    assert (adjusted[15], adjusted[16]) == (123.45, "据实调整")  # 调整后安排, 调整理由
    assert all(row[15] == row[12] and not row[16] for other, row in table().items() if other != code)
    with Session(get_engine(db_url)) as fresh:
        assert [e.project_code for e in budget_gate_view(fresh, arranged.cycle_id).adjusted] == [code]
        (rec,) = fresh.exec(
            select(BudgetRecommendation).where(col(BudgetRecommendation.override_fen).is_not(None))
        ).all()
        assert rec.override_reason == "据实调整"
