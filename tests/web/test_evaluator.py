"""The ex-ante panel and the review team score only the objects assigned to them, under their own names, and
reach nothing else."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from sqlmodel import Session, col, select

from models import Cycle, Department, Project, Sample, SampleMember, session_scope
from models.audit_log import AuditEntry
from perfcycle.accounts import create_account
from tests.web.conftest import Browser, activate, run_targets

REVIEWER = "复核组王敏"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sample(session: Session, cycle: int, *codes: str) -> None:
    drawn = Sample(cycle_id=cycle, seed="1", size=len(codes))
    session.add(drawn)
    session.flush()
    for code in codes:
        department = session.exec(select(Department).where(Department.code == code)).one()
        session.add(SampleMember(sample_id=drawn.id or 0, department_id=department.id or 0))
    session.commit()


def reviewer(browser: Browser) -> Browser:
    with session_scope() as session:
        create_account(session, "fhz01", name=REVIEWER, role="review")
    activate("fhz01")
    assert browser.sign_in("fhz01").status_code == 303  # type: ignore[attr-defined]
    return browser


def scored(content: bytes, folder: Path, name: str, scorer: str = REVIEWER, extra: list[object] | None = None) -> Path:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        row[headers.index("复核得分")].value = 88
        row[headers.index("复核人")].value = scorer
    if extra:
        sheet.append(extra)
    path = folder / name
    workbook.save(path)
    return path


def upload(browser: Browser, path: Path) -> object:
    return browser.client.post(
        "/scores", data={"csrf": browser.csrf}, files={"file": (path.name, path.read_bytes(), XLSX)}
    )


def test_the_review_team_scores_its_sample_only_and_under_its_own_name(
    session: Session, cycle: int, submissions: Path, browser: Browser, tmp_path: Path
) -> None:
    run_targets(cycle, submissions)
    sample(session, cycle, "101", "102")
    reviewer(browser)
    page = browser.client.get("/").text
    assert "抽中 2 个部门" in page
    sheet = browser.client.get("/scores/template")
    assert sheet.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).worksheets[0].iter_rows(min_row=2, values_only=True))
    sampled = {d.id for d in session.exec(select(Department).where(col(Department.code).in_(["101", "102"])))}
    expected = session.exec(select(Project.code).where(col(Project.department_id).in_(sampled))).all()
    assert sorted(r[2] for r in rows) == sorted(expected)

    outsider = session.exec(select(Project).join(Department).where(Department.code == "103")).first()
    assert outsider is not None
    wrong = upload(
        browser,
        scored(sheet.content, tmp_path, "多了一行.xlsx", extra=["103", "", outsider.code, "", 90, "", REVIEWER]),
    )
    assert wrong.status_code == 422 and f"「{outsider.code}」不是分配给您评分的对象" in wrong.text  # type: ignore[attr-defined]
    someone = upload(browser, scored(sheet.content, tmp_path, "代签.xlsx", scorer="别人"))
    assert someone.status_code == 422 and "不能以「别人」的名义报送评分" in someone.text  # type: ignore[attr-defined]
    assert not (submissions / "review_scores").exists()

    right = upload(browser, scored(sheet.content, tmp_path, "复核评分.xlsx"))
    assert right.status_code == 200 and "已收到抽查复核评分表" in right.text  # type: ignore[attr-defined]
    filed = submissions / "review_scores" / "fhz01.xlsx"
    assert filed.read_bytes() == (tmp_path / "复核评分.xlsx").read_bytes()
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "scores.received")).all()
    assert entry.actor == REVIEWER


PANELIST = "专家组李华"
PANEL_DIMENSIONS = ("立项必要性", "投入经济性", "绩效目标合理性", "实施方案可行性", "筹资合规性")


def panelist(browser: Browser) -> Browser:
    with session_scope() as session:
        create_account(session, "zjz01", name=PANELIST, role="panel")
    activate("zjz01")
    assert browser.sign_in("zjz01").status_code == 303  # type: ignore[attr-defined]
    return browser


def panel_scored(content: bytes, folder: Path, name: str, score: int = 18, extra: list[object] | None = None) -> Path:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        for dimension in PANEL_DIMENSIONS:
            row[headers.index(dimension)].value = score
        row[headers.index("建议压减（万元）")].value = 0
        row[headers.index("评估人")].value = PANELIST
    if extra:
        sheet.append(extra)
    path = folder / name
    workbook.save(path)
    return path


def test_the_panel_scores_the_projects_of_the_ex_ante_scope_only_with_the_imports_checks(
    session: Session, cycle: int, submissions: Path, browser: Browser, tmp_path: Path
) -> None:
    from perfcycle.cycle_context import cycle_policy
    from perfcycle.rules.ex_ante import needs_ex_ante

    run_targets(cycle, submissions)
    scope = cycle_policy(session.get(Cycle, cycle)).ex_ante  # type: ignore[arg-type]
    projects = session.exec(select(Project)).all()
    in_scope = sorted(p.code for p in projects if needs_ex_ante(p.attribute, p.request_fen, scope))
    outsider = next(p for p in projects if not needs_ex_ante(p.attribute, p.request_fen, scope))
    assert in_scope
    panelist(browser)
    page = browser.client.get("/").text
    assert f"{len(in_scope)} 个项目" in page and "「评估人」一栏请填写" in page
    sheet = browser.client.get("/scores/template")
    assert sheet.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert sorted(r[1] for r in rows) == in_scope

    extra = ["", outsider.code, "", 18, 18, 18, 18, 18, 0, "", PANELIST]
    wrong = upload(browser, panel_scored(sheet.content, tmp_path, "多了一行.xlsx", extra=extra))
    assert wrong.status_code == 422 and f"「{outsider.code}」不是分配给您评分的对象" in wrong.text  # type: ignore[attr-defined]
    (refused,) = session.exec(select(AuditEntry).where(AuditEntry.action == "scores.refused")).all()
    assert refused.actor == PANELIST and outsider.code in refused.payload_json
    # The stage's own import checks it as `perfcycle import` does: a score above the policy's maximum.
    over = upload(browser, panel_scored(sheet.content, tmp_path, "超分.xlsx", score=25))
    assert over.status_code == 422 and "得分应在 0 到 20 之间" in over.text  # type: ignore[attr-defined]
    assert not (submissions / "panel_scores").exists()

    right = upload(browser, panel_scored(sheet.content, tmp_path, "事前评估评分.xlsx"))
    assert right.status_code == 200 and "已收到事前绩效评估评分表" in right.text  # type: ignore[attr-defined]
    filed = submissions / "panel_scores" / "zjz01.xlsx"
    assert filed.read_bytes() == (tmp_path / "事前评估评分.xlsx").read_bytes()
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "scores.received")).all()
    assert entry.actor == PANELIST


def test_an_evaluator_reaches_no_department_or_bureau_page(session: Session, cycle: int, browser: Browser) -> None:
    reviewer(browser)
    for path in ("/matrix", "/forms/target_setting/template", "/gates/targets/1"):
        assert browser.client.get(path).status_code == 403, path
    assert browser.post("/warnings/Q1", {"cause": "x", "measures": "y"}).status_code == 403  # type: ignore[attr-defined]


def test_a_department_cannot_send_scores(session: Session, cycle: int, browser: Browser) -> None:
    activate("101")
    browser.sign_in("101")
    assert browser.client.get("/scores/template").status_code == 403
    assert (
        browser.client.post("/scores", data={"csrf": browser.csrf}, files={"file": ("a.xlsx", b"x", XLSX)}).status_code
        == 403
    )
