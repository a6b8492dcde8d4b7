"""The renderer (markup → official-format docx), template/context coverage and safe file names."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from pydantic import BaseModel

from perfcycle.documents import TEMPLATES
from perfcycle.documents.naming import safe_filename, safe_path
from perfcycle.documents.renderer import (
    BODY_FONT,
    HEADING1_FONT,
    HEADING2_FONT,
    TITLE_FONT,
    build_docx,
    cn_num,
    docx_text,
    parse_markup,
    render_docx,
    render_text,
    template_variables,
)
from perfcycle.settings import get_settings

MARKUP = """# 关于测试区2024年区级预算绩效管理工作开展情况的说明

> 主送：区人大常委会

开篇第一行，
接续第二行。

## 一、实施全过程预算绩效管理的做法
### （一）严把政策项目准入关
#### 1. 第三级
正文段落。
|项目|金额|
|甲|1.00|
|乙|2.00|

>> 测试区财政局
>> 2024年12月31日
"""


def _docx(tmp_path: Path, markup: str = MARKUP) -> Path:
    path = tmp_path / "out.docx"
    path.write_bytes(build_docx(markup))
    return path


def _mm(length: object) -> float:
    """A docx length in millimetres (python-docx types it as Length | None)."""
    assert length is not None
    return float(length.mm)  # type: ignore[attr-defined]


def _east_asia(run: object) -> str | None:
    """The w:eastAsia font a run declares."""
    rpr = run._element.rPr  # type: ignore[attr-defined]
    assert rpr is not None and rpr.rFonts is not None
    return rpr.rFonts.get(qn("w:eastAsia"))


# ---------------------------------------------------------------------------------------------- markup


def test_parse_markup_blocks() -> None:
    blocks = parse_markup(MARKUP)
    kinds = [b.kind for b in blocks]
    assert kinds == ["title", "addressee", "body", "h1", "h2", "h3", "body", "table", "right", "right"]
    assert blocks[2].text == "开篇第一行，接续第二行。"
    assert blocks[7].rows == [["项目", "金额"], ["甲", "1.00"], ["乙", "2.00"]]
    assert parse_markup("\\# 不是标题")[0].kind == "body"
    assert parse_markup("\\# 不是标题")[0].text == "# 不是标题"


def test_cn_num() -> None:
    assert [cn_num(i) for i in (1, 6, 10, 11, 20, 23)] == ["一", "六", "十", "十一", "二十", "二十三"]


# ---------------------------------------------------------------------------------------------- docx format


def test_docx_page_setup_and_fonts(tmp_path: Path) -> None:
    doc = Document(str(_docx(tmp_path)))
    section = doc.sections[0]
    assert abs(_mm(section.page_width) - 210) < 0.1
    assert abs(_mm(section.page_height) - 297) < 0.1
    assert abs(_mm(section.top_margin) - 37) < 0.1
    assert abs(_mm(section.bottom_margin) - 35) < 0.1
    assert abs(_mm(section.left_margin) - 28) < 0.1
    assert abs(_mm(section.right_margin) - 26) < 0.1

    paragraphs = [p for p in doc.paragraphs if p.text]
    title, addressee, body, h1, h2, h3, last_body = paragraphs[:7]
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _east_asia(title.runs[0]) == TITLE_FONT
    assert title.runs[0].font.size == Pt(22)
    assert addressee.paragraph_format.first_line_indent in (None, 0)
    assert _east_asia(body.runs[0]) == BODY_FONT
    assert body.runs[0].font.size == Pt(16)
    assert body.paragraph_format.first_line_indent == Pt(32)
    assert body.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert body.paragraph_format.line_spacing == Pt(28)
    assert _east_asia(h1.runs[0]) == HEADING1_FONT
    assert _east_asia(h2.runs[0]) == HEADING2_FONT
    assert _east_asia(h3.runs[0]) == BODY_FONT
    assert _east_asia(last_body.runs[0]) == BODY_FONT
    right = next(p for p in doc.paragraphs if p.text.startswith("2024年12月31日"))
    assert right.alignment == WD_ALIGN_PARAGRAPH.RIGHT

    normal = doc.styles["Normal"]
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == BODY_FONT

    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["项目", "金额"]
    assert table.rows[2].cells[1].text == "2.00"

    footer_xml = section.footer._element.xml
    assert "PAGE" in footer_xml and "— " in footer_xml


def test_docx_is_deterministic(tmp_path: Path) -> None:
    first = build_docx(MARKUP)
    second = build_docx(MARKUP)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    (tmp_path / "a.docx").write_bytes(first)
    with zipfile.ZipFile(tmp_path / "a.docx") as archive:
        assert "2000-01-01" in archive.read("docProps/core.xml").decode()
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


class _Ctx(BaseModel):
    district: str
    year: int
    items: list[str]


def test_render_docx_from_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "t.md.j2").write_text(
        "# {{ district }}{{ year }}年\n{% for i in items %}\n{{ i }}\n\n{% endfor %}\n", encoding="utf-8"
    )
    monkeypatch.setenv("PERFCYCLE_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    try:
        ctx = _Ctx(district="测试区", year=2024, items=["甲", "乙"])
        assert render_text("t.md.j2", ctx) == "# 测试区2024年\n甲\n\n乙\n\n"
        assert template_variables("t.md.j2") == {"district", "year", "items"}
        out = tmp_path / "sub" / "t.docx"
        sha = render_docx("t.md.j2", ctx, out)
        assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
        assert render_docx("t.md.j2", ctx, out) == sha
        assert [line for line in docx_text(out).split("\n") if line] == ["测试区2024年", "甲", "乙"]
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp")]
        props = Document(str(out)).core_properties
        assert props.created is not None and props.created.year == 2024
        assert props.author == "测试区"
        (templates / "bad.md.j2").write_text("{{ missing }}", encoding="utf-8")
        with pytest.raises(Exception, match="missing"):
            render_docx("bad.md.j2", ctx, tmp_path / "bad.docx")
        assert not (tmp_path / "bad.docx").exists()
    finally:
        get_settings.cache_clear()


# ---------------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize("template_name", sorted(TEMPLATES))
def test_template_variables_are_context_fields(template_name: str) -> None:
    context_class = TEMPLATES[template_name]
    variables = template_variables(template_name)
    assert variables, template_name
    assert variables <= set(context_class.model_fields), variables - set(context_class.model_fields)


def test_every_template_file_is_registered() -> None:
    files = {p.name for p in get_settings().templates_dir.glob("*.j2")}
    assert set(TEMPLATES) <= files


def test_annual_template_types_no_figures() -> None:
    """Every number of the annual report comes from the context: no digit is typed into the template."""
    source = (get_settings().templates_dir / "annual_report.md.j2").read_text(encoding="utf-8")
    body = "\n".join(line for line in source.splitlines() if not line.startswith("{#"))
    assert not any(ch.isdigit() for ch in body)


# ---------------------------------------------------------------------------------------------- naming


def test_safe_filename_strips_traversal_and_illegal_characters() -> None:
    name = safe_filename("../../etc/x", ".docx")
    assert name == "etc_x.docx"
    assert "/" not in name and ".." not in name
    cleaned = safe_filename('a<b>c:d"e|f?g*h\\i\x00j\x1fk\tl   m', "docx")
    assert cleaned.endswith(".docx")
    assert not set('<>:"/\\|?*\x00\x1f\t') & set(cleaned)
    assert "  " not in cleaned
    assert safe_filename("", ".docx") == "未命名.docx"
    assert safe_filename("...", ".xlsx") == "未命名.xlsx"
    assert safe_filename("CON", ".txt") == "_CON.txt"
    assert safe_filename(" 报告 . ", ".docx") == "报告.docx"


def test_safe_filename_truncates_keeping_the_suffix(tmp_path: Path) -> None:
    ascii_name = safe_filename("a" * 200, ".docx")
    assert len(ascii_name) == 100 and ascii_name.endswith(".docx")
    assert len(safe_filename("a" * 200, ".docx", max_len=20)) == 20
    chinese = safe_filename("关于烈山区预算绩效管理工作" * 20, ".docx")
    assert chinese.endswith(".docx") and len(chinese) <= 100
    assert len(chinese.encode("utf-8")) <= 255
    (tmp_path / chinese).write_bytes(b"ok")  # the file system accepts it


def test_safe_path_stays_inside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = safe_path(out, "../../etc/x")
    assert path.is_relative_to(out.resolve())
    assert (
        safe_path(out, "documents", "2024", "02-监控/Q1", "") == out.resolve() / "documents" / "2024" / "02-监控" / "Q1"
    )
    with pytest.raises(ValueError):
        safe_path(out, "..", "")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "link").symlink_to(outside)
    with pytest.raises(ValueError):
        safe_path(out, "link", "x.docx")
