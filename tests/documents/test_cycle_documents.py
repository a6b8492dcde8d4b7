"""The full set of the cycle's documents on the small test district: the target-setting documents, the
publication list, the charts, the official format of every .docx, the records with their sha256,
determinism, safe file names and `perfcycle docs`."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
import typer
from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models.tables import Cycle, Department, Document, Indicator
from perfcycle.commands.docs import DocsError, docs_command, regenerate, register
from perfcycle.documents import (
    annual_report_context,
    chart_png,
    publication_list_context,
    render_docx,
    self_evaluation_summary_context,
    target_form_contexts,
    target_notice_context,
    target_review_contexts,
    write_monitoring_summary,
    write_target_form,
)
from perfcycle.documents.catalog import GROUPS, all_kinds, subject_file, write_documents
from perfcycle.documents.contexts import quarter_light_chart
from perfcycle.documents.naming import MAX_NAME_BYTES
from perfcycle.documents.renderer import (
    BODY_FONT,
    HEADING1_FONT,
    HEADING2_FONT,
    PAGE_NUMBER_FONT,
    TITLE_FONT,
    docx_text,
)
from perfcycle.loaders import load
from perfcycle.money import fmt_wan
from perfcycle.policy import policy_from_json
from perfcycle.rules.ex_ante import needs_ex_ante
from perfcycle.workbooks.formats import LEVEL1, LEVEL2, OPERATORS, TARGETS
from perfcycle.workbooks.reader import read_workbook
from tasks.documents import write_and_record
from tests.documents.records import (
    INDICATORS,
    RETURN_REASON,
    YEAR,
    Arranged,
    east_asia,
    mm,
    policy_json,
    write_kind,
)

FONTS = {TITLE_FONT, BODY_FONT, HEADING1_FONT, HEADING2_FONT, PAGE_NUMBER_FONT}
H1 = re.compile(r"^[一二三四五六七八九十]+、")
H2 = re.compile(r"^（[一二三四五六七八九十]+）")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outline_level(paragraph: object) -> int | None:
    ppr = paragraph._p.pPr  # type: ignore[attr-defined]
    if ppr is None:
        return None
    element = ppr.find(qn("w:outlineLvl"))
    return int(element.get(qn("w:val"))) if element is not None else None


def assert_official_format(path: Path) -> None:
    """GB/T 9704 essentials read back with python-docx: A4, margins, fonts in every slot, heading levels."""
    doc = open_docx(str(path))
    section = doc.sections[0]
    assert abs(mm(section.page_width) - 210) < 0.1 and abs(mm(section.page_height) - 297) < 0.1, path.name
    assert abs(mm(section.top_margin) - 37) < 0.1 and abs(mm(section.bottom_margin) - 35) < 0.1, path.name
    assert abs(mm(section.left_margin) - 28) < 0.1 and abs(mm(section.right_margin) - 26) < 0.1, path.name
    assert "PAGE" in section.footer._element.xml and "PAGE" in section.even_page_footer._element.xml
    # Every run with text names its font for Latin and East Asian text alike.
    runs = [r for r in doc.element.body.iter(qn("w:r")) if "".join(t.text or "" for t in r.iter(qn("w:t")))]
    assert runs, path.name
    for run in runs:
        rfonts = run.rPr.rFonts if run.rPr is not None else None
        assert rfonts is not None, path.name
        ascii_font, east_asia_font = rfonts.get(qn("w:ascii")), rfonts.get(qn("w:eastAsia"))
        assert ascii_font in FONTS and east_asia_font == ascii_font, (path.name, ascii_font, east_asia_font)
    paragraphs = [p for p in doc.paragraphs if p.text]
    first = next(i for i, p in enumerate(paragraphs) if outline_level(p) == 0)  # after the 版头, if any
    title = paragraphs[first]
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER and east_asia(title.runs[0]) == TITLE_FONT
    for paragraph in paragraphs[first + 1 :]:
        level = outline_level(paragraph)
        if level == 1:
            assert H1.match(paragraph.text) and east_asia(paragraph.runs[0]) == HEADING1_FONT, paragraph.text
        elif level == 2:
            assert H2.match(paragraph.text) and east_asia(paragraph.runs[0]) == HEADING2_FONT, paragraph.text
        elif H1.match(paragraph.text) and len(paragraph.text) < 30:
            pytest.fail(f"{path.name}: heading-like line is not a heading: {paragraph.text}")


def png_images(path: Path) -> list[bytes]:
    """The PNG images a .docx embeds (its image parts), in part-name order."""
    doc = open_docx(str(path))
    parts = [p for p in doc.part.package.iter_parts() if p.content_type == "image/png"]
    return [p.blob for p in sorted(parts, key=lambda p: str(p.partname))]


# ---------------------------------------------------------------------------------------------- target setting


def test_target_notice(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    ctx = target_notice_context(session, arranged.cycle_id)
    projects = arranged.projects
    owners = {p.department_id for p in projects}
    assert ctx.departments_total == len(owners) and ctx.projects_total == len(projects)
    assert ctx.budget_total_wan == fmt_wan(sum(p.budget_fen for p in projects))
    rules = policy_from_json(policy_json())
    assert ctx.ex_ante_projects == sum(1 for p in projects if needs_ex_ante(p.attribute, p.request_fen, rules.ex_ante))
    assert [d.projects for d in ctx.departments] == [
        Counter(p.department_id for p in projects)[d.id] for d in arranged.departments if d.id in owners
    ]
    path = write_kind(session, arranged.cycle_id, tmp_path, "绩效目标申报通知")["*"]
    text = docx_text(path)
    assert f"{YEAR}年区级{len(owners)}家预算部门的{len(projects)}个项目" in text
    assert f"涉及年度预算{ctx.budget_total_wan}万元" in text
    assert "、".join(LEVEL1) in text and "、".join(OPERATORS) in text
    assert f"本年度涉及{ctx.ex_ante_projects}个项目" in text
    assert "附件：各部门项目和预算情况表" in text and "区直各预算部门：" in text
    assert "于2024年1月31日前将工作簿报送" in text  # the policy's deadline: the test district opened no window
    assert_official_format(path)


def test_target_reviews(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    reviews = {r.department_code: r for r in target_review_contexts(session, arranged.cycle_id)}
    assert list(reviews) == ["D01", "D02", "D03", "D04", "D05", "D06"]
    d01 = reviews["D01"]
    assert [(p.project_code, p.indicators) for p in d01.approved_projects] == [
        (code, sum(1 for i in INDICATORS if i[0] == code)) for code in ("P01", "P02")
    ]
    d05 = reviews["D05"]
    assert (d05.approved, d05.returned, d05.missing) == (1, 1, 0)
    assert d05.returned_projects[0].reasons == [RETURN_REASON]
    d06 = reviews["D06"]
    assert (d06.approved, d06.missing) == (0, 1) and d06.missing_projects[0].project_code == "P08"
    for code in ("D05", "D06"):
        path = tmp_path / f"{code}.docx"
        render_docx("target_review.md.j2", reviews[code], path)
        assert_official_format(path)
    text = docx_text(tmp_path / "D05.docx")
    assert "1个项目绩效目标审核通过，1个项目退回修改" in text
    assert f"测试项目07|{RETURN_REASON}" in text
    assert "二、退回修改的项目" in text
    assert "未报送绩效目标的项目" in docx_text(tmp_path / "D06.docx")


def _validations(ws: object) -> dict[str, str]:
    """Column letter → list formula of the sheet's data validations."""
    found = {}
    for dv in ws.data_validations.dataValidation:  # type: ignore[attr-defined]
        assert dv.type == "list"
        for ref in str(dv.sqref).split():
            found[re.sub(r"\d", "", ref.split(":")[0])] = dv.formula1
    return found


def test_target_form_has_lists_prefills_and_imports_back(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    forms = {f.department_code: f for f in target_form_contexts(session, arranged.cycle_id)}
    form = forms["D01"]
    path = tmp_path / "D01.xlsx"
    digest = write_target_form(form, path)
    assert write_target_form(form, tmp_path / "again.xlsx") == digest  # deterministic
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["绩效指标", "项目清单", "填报说明"]
    ws = workbook["绩效指标"]
    sheet = TARGETS.sheets[0]
    assert [c.value for c in ws[1]] == sheet.headers
    letters = {c.field: chr(ord("A") + i) for i, c in enumerate(sheet.columns)}
    lists = _validations(ws)
    assert lists[letters["level1"]] == '"' + ",".join(LEVEL1) + '"'
    assert lists[letters["level2"]] == '"' + ",".join(LEVEL2) + '"'
    assert lists[letters["operator"]] == '"' + ",".join(OPERATORS) + '"'
    assert lists[letters["project_code"]] == "'项目清单'!$A$2:$A$3"
    assert lists[letters["department_code"]] == "'填报说明'!$B$3"
    assert workbook["填报说明"]["B3"].value == "D01"
    assert [row[0].value for row in workbook["项目清单"].iter_rows(min_row=2)] == ["P01", "P02"]
    assert [row[7].value for row in workbook["项目清单"].iter_rows(min_row=2)] == ["审核通过", "审核通过"]
    prefilled = [r for r in INDICATORS if r[0] in ("P01", "P02")]
    assert ws.max_row == 1 + len(prefilled)
    assert [c.value for c in ws[2]][:6] == ["D01", "P01", "产出", "数量", "新建校舍面积", "≥"]

    # Sent back unchanged, it goes through the normal import and declares the same indicators.
    def declared() -> list[tuple[object, ...]]:
        rows = session.exec(
            select(Indicator).where(Indicator.cycle_id == arranged.cycle_id).order_by(col(Indicator.name))
        ).all()
        ids = {p.id: p.code for p in arranged.projects}
        return [
            (ids[i.project_id], i.level1, i.level2, i.name, i.operator, i.target_value, i.target_text, i.unit, i.weight)
            for i in rows
            if ids[i.project_id] in ("P01", "P02")
        ]

    before = declared()
    parsed = read_workbook(path, "targets")
    assert parsed.rows == len(prefilled)
    result = load(session, parsed, year=YEAR)
    session.commit()
    assert result.rows == len(prefilled)
    session.expire_all()
    assert declared() == before

    # A department without indicators gets the headers, the lists and its projects to fill in.
    empty = forms["D06"]
    write_target_form(empty, tmp_path / "D06.xlsx")
    ws6 = load_workbook(tmp_path / "D06.xlsx")["绩效指标"]
    assert ws6.max_row == 1 and len(ws6.data_validations.dataValidation) == 5


# ---------------------------------------------------------------------------------------------- disclosure


def test_publication_list(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    ctx = publication_list_context(session, arranged.cycle_id)
    assert (ctx.on_time, ctx.late, ctx.unpublished) == (1, 1, 1)
    assert [(p.department_code, p.status) for p in ctx.publications] == [
        ("D01", "按期公开"),
        ("D02", "逾期公开"),
        ("D03", "未公开"),
    ]
    assert ctx.fiscal_amount_wan == fmt_wan(sum(s.amount_fen for s in arranged.selections))
    first = ctx.evaluations[0]
    assert (first.object_name, first.score, first.grade) == ("测试项目01", "91.50", "优")
    path = tmp_path / "publication.docx"
    render_docx("publication_list.md.j2", ctx, path)
    text = docx_text(path)
    assert "按期公开1家，逾期公开1家，未公开1家" in text
    assert "2025年3月1日" in text and "测试项目01|项目|测试部门01" in text
    assert f"涉及资金{ctx.fiscal_amount_wan}万元" in text
    assert_official_format(path)


# ---------------------------------------------------------------------------------------------- charts


def test_charts_are_embedded_in_the_annual_report(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    ctx = annual_report_context(session, arranged.cycle_id)
    assert ctx.light_chart is not None and ctx.grade_chart is not None
    assert ctx.light_chart.categories == ["第一季度", "第二季度"]
    by_quarter = {q.quarter: q for q in ctx.quarters}
    assert [s.values for s in ctx.light_chart.series] == [
        [by_quarter[q].green for q in ("Q1", "Q2")],
        [by_quarter[q].yellow for q in ("Q1", "Q2")],
        [by_quarter[q].red for q in ("Q1", "Q2")],
    ]
    grades = ["优", "良", "中", "差"]
    final = Counter(r.grade for r in arranged.recommendations)
    assert ctx.grade_chart.categories == grades
    assert [s.values for s in ctx.grade_chart.series] == [[0, 7, 0, 0], [final[g] for g in grades]]

    path = tmp_path / "annual.docx"
    render_docx("annual_report.md.j2", ctx, path)
    doc = open_docx(str(path))
    assert len(doc.inline_shapes) == 2
    assert sorted(png_images(path)) == sorted([chart_png(ctx.light_chart), chart_png(ctx.grade_chart)])
    captions = [p for p in doc.paragraphs if p.text in (ctx.light_chart.caption, ctx.grade_chart.caption)]
    assert len(captions) == 2 and all(p.alignment == WD_ALIGN_PARAGRAPH.CENTER for p in captions)
    assert_official_format(path)

    summary = self_evaluation_summary_context(session, arranged.cycle_id)
    assert summary.grade_chart is not None
    render_docx("self_evaluation_summary.md.j2", summary, tmp_path / "self.docx")
    assert png_images(tmp_path / "self.docx") == [chart_png(summary.grade_chart)]


def test_monitoring_summary_chart_covers_the_quarters_so_far(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    for quarter, expected_rows in (("Q1", 1), ("Q2", 2)):
        path = tmp_path / f"{quarter}.xlsx"
        write_monitoring_summary(session, arranged.cycle_id, quarter, path)
        workbook = load_workbook(path)
        assert workbook.sheetnames == ["监控汇总", "亮灯分布"]
        ws = workbook["亮灯分布"]
        rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3) if row[0].value]
        assert len(rows) == expected_rows
        lights = [light for light in arranged.lights if light.quarter == "Q1"]
        assert rows[0] == [
            "第一季度",
            len(lights),
            *(sum(1 for x in lights if x.light == c) for c in ("green", "yellow", "red")),
        ]
        assert len(ws._images) == 1
        ctx = annual_report_context(session, arranged.cycle_id)
        chart = quarter_light_chart(YEAR, ctx.quarters[:expected_rows])
        assert chart is not None and ws._images[0]._data() == chart_png(chart)
        # The light cells of the main sheet stay coloured.
        main = workbook["监控汇总"]
        fills = {row[10].value: row[10].fill.fgColor.rgb for row in main.iter_rows(min_row=3) if row[10].value}
        assert fills["绿灯"].endswith("C6EFCE")


# ---------------------------------------------------------------------------------------------- the whole set


def _write_all(session: Session, arranged: Arranged, out: Path) -> dict[tuple[str, str], tuple[Path, str]]:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group]
    return {(d.kind, d.subject): (d.path, d.sha256) for d in write_documents(session, cycle, out, kinds)}


def test_every_document_official_format_and_deterministic(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    first = _write_all(session, arranged, tmp_path / "a")
    second = _write_all(session, arranged, tmp_path / "b")
    assert {k: v[1] for k, v in first.items()} == {k: v[1] for k, v in second.items()}
    assert {kind for kind, _ in first} == set(all_kinds())
    for (kind, subject), (path, digest) in first.items():
        assert path.is_relative_to((tmp_path / "a").resolve()), path
        assert sha(path) == digest, (kind, subject)
        if path.suffix == ".docx":
            assert_official_format(path)
        else:
            assert load_workbook(path).sheetnames
    assert {subject for kind, subject in first if kind == "绩效目标申报表"} == {f"D0{i}" for i in range(1, 7)}


def test_documents_are_recorded_and_docs_command_regenerates_them(
    session: Session, arranged: Arranged, db_url: str, tmp_path: Path
) -> None:
    generated = write_and_record(
        session, arranged.cycle_id, str(tmp_path / "run"), tuple(k for g in GROUPS.values() for k in g)
    )
    session.commit()
    rows = session.exec(select(Document).where(Document.cycle_id == arranged.cycle_id)).all()
    assert len(rows) == len(generated)
    for row in rows:
        assert row.sha256 == sha(Path(row.path)), row.kind
        assert row.stage and row.subject
    # Recording again changes nothing.
    write_and_record(session, arranged.cycle_id, str(tmp_path / "run"), tuple(k for g in GROUPS.values() for k in g))
    session.commit()
    assert len(session.exec(select(Document)).all()) == len(rows)

    recorded = {(r.kind, r.subject): r.sha256 for r in rows}
    paths = docs_command(YEAR, None, tmp_path / "again", db_url)
    assert len(paths) == len(rows)
    regenerated = regenerate(YEAR, None, tmp_path / "again2", db_url)
    assert all(r.matches_record for r in regenerated)
    assert {(r.document.kind, r.document.subject): r.document.sha256 for r in regenerated} == recorded

    notices = docs_command(YEAR, "绩效监控预警通知书", tmp_path / "one", db_url)
    assert notices and all("预警通知书" in p.name for p in notices)
    assert len(notices) == sum(1 for k, _ in recorded if k == "绩效监控预警通知书")
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    cycle.out_dir = str(tmp_path / "recorded")
    session.add(cycle)
    session.commit()
    in_recorded = docs_command(YEAR, "绩效监控预警通知书", None, db_url)  # no --out: the cycle's folder
    assert [p.name for p in in_recorded] == [p.name for p in notices]
    assert all(p.is_relative_to(tmp_path / "recorded") and p.exists() for p in in_recorded)

    with pytest.raises(DocsError, match=r"可用: .*预算安排建议表"):
        docs_command(YEAR, "不存在的文件", tmp_path / "x", db_url)
    with pytest.raises(DocsError, match="没有 1999 年度"):
        docs_command(1999, None, tmp_path / "x", db_url)

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command, so that Typer keeps `docs` as a sub-command
        """Nothing."""

    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "docs",
            "--year",
            str(YEAR),
            "--kind",
            "预算安排建议表",
            "--out",
            str(tmp_path / "cli"),
            "--database-url",
            db_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "与记录一致" in result.output and "共生成 1 份文件" in result.output
    bad = runner.invoke(app, ["docs", "--year", str(YEAR), "--kind", "x", "--database-url", db_url])
    assert bad.exit_code == 1 and "未知的文件类型" in bad.output


# ---------------------------------------------------------------------------------------------- safe names


def test_department_names_make_safe_file_names(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    long_a = "很长的部门名称" * 28 + "甲"  # 197 characters
    long_b = "很长的部门名称" * 28 + "乙"
    departments = {d.code: d for d in session.exec(select(Department)).all()}
    departments["D01"].name = "../../etc/x"
    departments["D05"].name = long_a
    departments["D06"].name = long_b
    session.add_all(departments.values())
    session.commit()
    out = tmp_path / "out"
    written = _write_all(session, arranged, out)
    base = out.resolve()
    names: Counter[Path] = Counter()
    for path, _digest in written.values():
        assert path.is_relative_to(base), path
        assert len(path.name.encode("utf-8")) <= MAX_NAME_BYTES + 10 and len(path.name) <= 100, path.name
        assert ".." not in path.name and "/" not in path.name
        names[path] += 1
    assert max(names.values()) == 1  # two long names cut to the same text still get different files
    forms = {subject: path for (kind, subject), (path, _) in written.items() if kind == "绩效目标申报表"}
    assert forms["D01"].name == "etc_x.xlsx" and forms["D01"].parent.name == "绩效目标申报表"
    assert forms["D05"].name.startswith("D05-") and forms["D06"].name.startswith("D06-")
    assert not (tmp_path / "etc").exists()

    folder = tmp_path / "f"
    folder.mkdir()
    assert subject_file(folder, "Q1提醒函-", "../../etc/x", "D01", ".docx").parent == folder.resolve()
    assert subject_file(folder, "", "区教育局", "D11", ".docx").name == "区教育局.docx"
