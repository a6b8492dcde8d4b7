"""The score sheets handed to the review team and the third party: pre-filled with exactly their assigned
objects, by code and name in the workbook's own terms; filled in with scores, each goes back through the
stage's import and ends as the evaluation records."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlmodel import Session, select

from models.tables import Cycle, Evaluation
from perfcycle.documents.catalog import GROUPS, SCORE_FORMS, write_documents
from perfcycle.documents.spreadsheets import SCORE_FORM_BUILDERS, write_score_form
from perfcycle.loaders import import_file
from perfcycle.workbooks.formats import REVIEW_SCORES, THIRD_PARTY_SCORES
from perfcycle.workbooks.reader import ImportRejected
from tasks.imports import import_submissions
from tests.documents.records import PROJECTS, SAMPLED, YEAR, Arranged


def write_form(session: Session, arranged: Arranged, stage: str, out: Path) -> Path:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    (document,) = write_documents(session, cycle, out, (SCORE_FORMS[stage],))
    return document.path


def rows(path: Path) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in load_workbook(path).worksheets[0].iter_rows(values_only=True)]


def fill(path: Path, scores: dict[str, tuple[object, ...]], code_column: int, first_score_column: int) -> None:
    """Score each row as a person would in Excel: the cells right of the pre-filled ones, by the row's code."""
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        for offset, value in enumerate(scores[row[code_column].value]):
            row[first_score_column + offset].value = value
    workbook.save(path)


def submit(path: Path, folder: Path) -> Path:
    """Put the filled sheet where the stage reads its submissions."""
    folder.mkdir(parents=True, exist_ok=True)
    return path.rename(folder / path.name)


def test_the_review_form_lists_the_sampled_departments_projects_and_imports_back(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    path = write_form(session, arranged, "sampling_review", tmp_path / "out")
    assert path == tmp_path.resolve() / "out/documents/2024/05-抽查复核/抽查复核评分表.xlsx"

    names = {d.code: d.name for d in arranged.departments}
    expected = sorted(
        (dept, names[dept], code, name, None, None, None)
        for code, dept, name, _attribute, _budget in PROJECTS
        if dept in SAMPLED[YEAR]
    )
    assert len(expected) == 3
    assert rows(path) == [tuple(REVIEW_SCORES.sheets[0].headers), *expected]
    assert load_workbook(path).sheetnames == ["复核评分", "填报说明"]
    guide = [row[1] for row in load_workbook(path)["填报说明"].iter_rows(values_only=True)]
    assert guide[0] == f"测试区{YEAR}年度抽查复核评分表"
    assert "抽中 2 个部门，共 3 个项目" in guide
    assert any("「复核得分」「复核人」" in str(line) and "review_scores" in str(line) for line in guide)
    form = SCORE_FORM_BUILDERS["review_scores"](session, arranged.cycle_id)
    assert form is not None  # the same records give the same bytes
    assert write_score_form(form, tmp_path / "again.xlsx") == hashlib.sha256(path.read_bytes()).hexdigest()

    scores = {
        "P06": (Decimal("71.5"), "资料不全", "复核组甲"),
        "P07": (88, None, "复核组甲"),
        "P08": (90, "", "复核组乙"),
    }
    fill(path, scores, code_column=2, first_score_column=4)
    root = tmp_path / "submissions"
    submit(path, root / "review_scores")
    received = import_submissions.fn(YEAR, "review_scores", str(root))
    assert (received["files"], received["rows"]) == (1, 3)

    reviews = session.exec(
        select(Evaluation).where(Evaluation.cycle_id == arranged.cycle_id, Evaluation.kind == "review")
    ).all()
    assert {(e.object_type, e.object_code, e.score, e.findings, e.evaluator) for e in reviews} == {
        ("project", "P06", Decimal("71.50"), "资料不全", "复核组甲"),
        ("project", "P07", Decimal("88.00"), "", "复核组甲"),
        ("project", "P08", Decimal("90.00"), "", "复核组乙"),
    }
    owners = {code: dept for code, dept, *_ in PROJECTS}
    departments = {d.id: d.code for d in arranged.departments}
    assert all(e.department_id is not None and departments[e.department_id] == owners[e.object_code] for e in reviews)


def test_the_evaluation_form_names_its_objects_in_the_workbooks_terms_and_imports_back(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    path = write_form(session, arranged, "fiscal_evaluation", tmp_path / "out")
    assert path.relative_to(tmp_path.resolve()) == Path("out/documents/2024/06-财政重点评价/财政重点评价评分表.xlsx")
    assert rows(path) == [
        tuple(THIRD_PARTY_SCORES.sheets[0].headers),
        ("项目", "P01", "测试项目01", *[None] * 7),
        ("项目", "P03", "测试项目03", *[None] * 7),
        ("政策", "ZC01", "测试财政政策", *[None] * 7),
        ("部门", "D01", "测试部门01", *[None] * 7),
    ]
    (validation,) = load_workbook(path).worksheets[0].data_validations.dataValidation
    assert validation.formula1 == '"项目,部门,政策"' and str(validation.sqref).startswith("A2:A")
    guide = [row[1] for row in load_workbook(path)["填报说明"].iter_rows(values_only=True)]
    assert "2 个项目、1 项政策、1 个部门" in guide

    # The score, its 决策 / 过程 / 产出 / 效益 parts (all of them or none), the findings, the evaluator.
    scores = {
        "P01": (Decimal("92.5"), 19, Decimal("18.5"), Decimal("27.5"), Decimal("27.5"), "按期完成", "某评价公司"),
        "P03": (Decimal("61"), 12, 13, 18, 18, "进度滞后", "某评价公司"),
        "ZC01": (85, None, None, None, None, "效果良好", "某评价公司"),
        "D01": (79, None, None, None, None, "预算执行偏慢", "某评价公司"),
    }
    fill(path, scores, code_column=1, first_score_column=3)
    root = tmp_path / "submissions"
    filed = submit(path, root / "third_party_scores")
    received = import_submissions.fn(YEAR, "third_party_scores", str(root))
    assert (received["files"], received["rows"]) == (1, 4)
    fiscal = session.exec(
        select(Evaluation).where(Evaluation.cycle_id == arranged.cycle_id, Evaluation.kind == "fiscal")
    ).all()
    amounts = {s.object_code: s.amount_fen for s in arranged.selections}
    assert {(e.object_type, e.object_code, e.score, e.findings, e.amount_fen) for e in fiscal} == {
        ("project", "P01", Decimal("92.50"), "按期完成", amounts["P01"]),
        ("project", "P03", Decimal("61.00"), "进度滞后", amounts["P03"]),
        ("policy", "ZC01", Decimal("85.00"), "效果良好", amounts["ZC01"]),
        ("department", "D01", Decimal("79.00"), "预算执行偏慢", amounts["D01"]),
    }
    parts = {e.object_code: json.loads(e.breakdown_json) for e in fiscal}
    assert parts["P01"] == {"决策": "19.00", "过程": "18.50", "产出": "27.50", "效益": "27.50"}
    assert parts["ZC01"] == {}

    # The artifacts' old word for a department's overall spending is not one the workbook accepts.
    workbook = load_workbook(filed)
    workbook.worksheets[0]["A5"] = "部门整体支出"
    workbook.save(filed)
    try:
        import_file(filed, year=YEAR)
    except ImportRejected as exc:
        assert [(p.row, p.column) for p in exc.problems] == [(5, "对象类型")]
    else:
        raise AssertionError("部门整体支出 was accepted as an object type")


def test_the_scores_of_the_dimensions_are_all_or_none_within_their_points_and_add_up(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    path = write_form(session, arranged, "fiscal_evaluation", tmp_path / "out")
    scores = {
        "P01": (90, 18, 18, 27, None, "缺一项", "某评价公司"),
        "P03": (61, 12, 13, 18, 17, "和不等于得分", "某评价公司"),
        "ZC01": (85, 25, 10, 25, 25, "决策超过其分值", "某评价公司"),
        "D01": (79, 19, 18, 21, 21, "无误", "某评价公司"),
    }
    fill(path, scores, code_column=1, first_score_column=3)
    try:
        import_file(path, year=YEAR)
    except ImportRejected as exc:
        found = {(p.row, p.column): p.reason for p in exc.problems}
    else:
        raise AssertionError("the scores were accepted")
    assert "效益得分未填写" in found[(2, "得分")]
    assert "四项得分之和 60.00 与得分 61.00 不一致" in found[(3, "得分")]
    assert "0 到 20 之间" in found[(4, "决策得分")]
    assert all(row != 5 for row, _column in found)  # the department's scores are right


def test_no_form_before_the_objects_are_known(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    cycle = Cycle(year=YEAR + 1, budget_year=YEAR + 3, district="测试区")
    session.add(cycle)
    session.commit()
    forms = [k for group in GROUPS.values() for k in group if k in SCORE_FORMS.values()]
    assert len(forms) == 2 and write_documents(session, cycle, tmp_path, forms) == []
