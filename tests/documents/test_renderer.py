"""The renderer (markup → official-format docx), template/context coverage and safe file names."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Mm, Pt, Twips
from lxml import etree
from pydantic import BaseModel

from perfcycle.documents import TEMPLATES, renderer
from perfcycle.documents.naming import inside, safe_filename, safe_path
from perfcycle.documents.renderer import (
    BODY_FONT,
    BODY_SIZE,
    CAPTION_SIZE,
    CHART_WIDTH_MM,
    HEADING1_FONT,
    HEADING2_FONT,
    INDENT_CHARS,
    LINE_SPACING,
    TABLE_SIZE,
    TITLE_FONT,
    TITLE_LINE_SPACING,
    TITLE_SIZE,
    Block,
    build_docx,
    cn_num,
    docx_text,
    normalize_zip,
    parse_markup,
    render_docx,
    render_text,
    template_variables,
)
from perfcycle.settings import PROJECT_ROOT, get_settings

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


def test_a_title_breaks_where_its_template_or_its_meaning_says() -> None:
    """Title lines in a row are one title, broken there; a title too long for a line and given in one breaks after
    关于 or the year, where the lines come out most alike; one that fits stays whole."""
    (title, body) = parse_markup("# 关于测试区2024年区级预算绩效管理\n# 工作开展情况的说明\n\n正文\n")
    assert (title.kind, title.text, body.text) == (
        "title",
        "关于测试区2024年区级预算绩效管理\n工作开展情况的说明",
        "正文",
    )
    assert [b.kind for b in parse_markup("# 甲\n\n# 乙\n")] == ["title", "title"]  # a blank line between: two titles
    assert (
        renderer.broken_title("关于做好2024年度项目绩效目标申报工作的通知")
        == "关于做好2024年度\n项目绩效目标申报工作的通知"
    )
    assert (
        renderer.broken_title("2024年第二季度预算绩效运行监控预警通知书")
        == "2024年第二季度\n预算绩效运行监控预警通知书"
    )
    assert renderer.broken_title("测试区2024年度绩效自评情况汇总") == "测试区2024年度绩效自评情况汇总"
    unbreakable = "测" * 30
    assert renderer.broken_title(unbreakable) == unbreakable  # no place that means a break: the line wraps


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
    cell = Mm(210 - 28 - 26).pt / 28  # a character of the page's grid: 28 to the line
    assert abs(body.paragraph_format.first_line_indent.pt - 2 * cell) < 0.2  # type: ignore[union-attr]
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
    # The page number's dashes 7 mm under the type area: its line's middle 35 - 7 = 28 mm above the page's edge.
    line = section.footer.paragraphs[0].paragraph_format.line_spacing
    assert abs(_mm(section.footer_distance) + line.mm / 2 - 28) < 1  # type: ignore[union-attr]

    # 22 lines of 28 characters: the grid, and the body's characters as wide as its cells.
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars" and grid.get(qn("w:linePitch")) == str(Pt(28).twips)
    pitch = 16 + int(grid.get(qn("w:charSpace"))) / 4096
    assert round(Mm(210 - 28 - 26).pt / pitch) == 28
    assert 225 // Pt(28).mm == 22
    width = body.runs[0]._r.rPr.find(qn("w:w"))
    assert width is not None and 16 * int(width.get(qn("w:val"))) / 100 <= pitch
    assert normal.element.pPr.find(qn("w:snapToGrid")).get(qn("w:val")) == "0"
    # Chinese text is zh-CN, Latin text en-US (numbers are then never broken by the rules for Chinese).
    langs = {(lang.get(qn("w:val")), lang.get(qn("w:eastAsia"))) for lang in doc.styles.element.iter(qn("w:lang"))}
    assert langs == {("en-US", "zh-CN")}
    assert doc.settings.element.find(qn("w:themeFontLang")).get(qn("w:eastAsia")) == "zh-CN"


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


# ---------------------------------------------------------------------------------------------- docx writer


def _png(width: int, height: int, dpi: int | None = None) -> bytes:
    """A grey PNG of the given size, with a pHYs chunk when `dpi` is given."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    density = round(dpi / 0.0254) if dpi else 0
    phys = chunk(b"pHYs", struct.pack(">IIB", density, density, 1)) if dpi else b""
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + phys + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _zipfile_normalized(data: bytes) -> bytes:
    """An OOXML zip rewritten by zipfile with fixed timestamps (what the renderer's zips must equal)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def _c14n(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def _reference_paragraph(doc: Any, text: str, font: str, size: Pt, line: Pt = LINE_SPACING) -> Any:
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = line
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    if text:
        run = paragraph.add_run(text)
        renderer._set_run_font(run, font, size)
        if size == BODY_SIZE:  # the body's characters are as wide as the grid's cells
            width = OxmlElement("w:w")
            width.set(qn("w:val"), str(renderer._GRID_SCALE))
            run._r.rPr.insert_element_before(width, "w:sz")
    return paragraph


def _reference_indent_and_level(paragraph: Any, level: int | None) -> None:
    paragraph.paragraph_format.first_line_indent = Twips(renderer._CHAR * INDENT_CHARS)
    ppr = paragraph._p.get_or_add_pPr()
    ppr.get_or_add_ind().set(qn("w:firstLineChars"), str(INDENT_CHARS * 100))
    if level is not None:
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), str(level))
        ppr.append(outline)


def _reference_block(doc: Any, block: Block, images: Mapping[str, bytes]) -> None:
    """One block laid out with python-docx's element API, as the renderer laid it out before writing XML."""
    center, justify = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY
    if block.kind == "image":
        paragraph = doc.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
        fmt.space_before = Pt(6)
        fmt.space_after = Pt(0)
        fmt.first_line_indent = Pt(0)
        fmt.keep_with_next = bool(block.text) or None
        paragraph.alignment = center
        paragraph.add_run().add_picture(io.BytesIO(images[block.ref]), width=Mm(CHART_WIDTH_MM))
        paragraph._p.find(".//" + qn("wp:docPr")).set("descr", block.text or block.ref)
        if block.text:
            _reference_paragraph(doc, block.text, BODY_FONT, CAPTION_SIZE).alignment = center
    elif block.kind == "title":
        paragraph = _reference_paragraph(doc, block.text, TITLE_FONT, TITLE_SIZE, TITLE_LINE_SPACING)
        paragraph.paragraph_format.keep_with_next = True
        paragraph.alignment = center
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), "0")
        paragraph._p.get_or_add_pPr().append(outline)
        _reference_paragraph(doc, "", BODY_FONT, BODY_SIZE)
    elif block.kind in ("h1", "h2", "h3"):
        font = {"h1": HEADING1_FONT, "h2": HEADING2_FONT, "h3": BODY_FONT}[block.kind]
        paragraph = _reference_paragraph(doc, block.text, font, BODY_SIZE)
        paragraph.paragraph_format.keep_with_next = True  # a heading is never last on its page
        paragraph.alignment = justify
        _reference_indent_and_level(paragraph, int(block.kind[1]))
    elif block.kind == "addressee":
        _reference_paragraph(doc, block.text, BODY_FONT, BODY_SIZE).alignment = WD_ALIGN_PARAGRAPH.LEFT
    elif block.kind == "right":
        paragraph = _reference_paragraph(doc, block.text, BODY_FONT, BODY_SIZE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        paragraph.paragraph_format.right_indent = Twips(renderer._CHAR * 4)
    elif block.kind == "table":
        section = doc.sections[0]
        widths = renderer.column_widths(
            block.rows, Emu(section.page_width - section.left_margin - section.right_margin).twips
        )
        table = doc.add_table(rows=len(block.rows), cols=len(widths))
        table.style = doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        tbl_w = tbl_pr.find(qn("w:tblW"))
        tbl_w.set(qn("w:type"), "dxa")
        tbl_w.set(qn("w:w"), str(sum(widths)))
        margins = OxmlElement("w:tblCellMar")
        for side in ("left", "right"):
            margin = OxmlElement(f"w:{side}")
            margin.set(qn("w:w"), str(renderer.TABLE_CELL_MARGIN))
            margin.set(qn("w:type"), "dxa")
            margins.append(margin)
        tbl_pr.insert_element_before(margins, "w:tblLook")
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Twips(width)
        for r, values in enumerate(block.rows):
            tr_pr = table.rows[r]._tr.get_or_add_trPr()
            for tag in ("w:cantSplit", "w:tblHeader") if r == 0 else ("w:cantSplit",):
                tr_pr.append(OxmlElement(tag))
            for c, width in enumerate(widths):
                cell = table.cell(r, c)
                cell.width = Twips(width)
                cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
                paragraph = cell.paragraphs[0]
                fmt = paragraph.paragraph_format
                fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
                fmt.space_before = Pt(0)
                fmt.space_after = Pt(0)
                fmt.first_line_indent = Pt(0)
                long = max((len(row[c]) for row in block.rows[1:] if c < len(row)), default=0) > 8
                paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT if long else center
                if c < len(values) and values[c]:
                    renderer._set_run_font(paragraph.add_run(values[c]), BODY_FONT, TABLE_SIZE, bold=r == 0)
        _reference_paragraph(doc, "", BODY_FONT, BODY_SIZE)
    else:
        paragraph = _reference_paragraph(doc, block.text, BODY_FONT, BODY_SIZE)
        paragraph.alignment = justify
        _reference_indent_and_level(paragraph, None)


def _reference_docx(markup: str, *, author: str, images: Mapping[str, bytes]) -> bytes:
    doc = Document()
    renderer._setup(doc)
    sect_pr = doc.sections[0]._sectPr  # a document without a 版记 has one section: its first page is like the others
    references = [*sect_pr.findall(qn("w:footerReference")), *sect_pr.findall(qn("w:headerReference"))]
    for element in [*sect_pr.findall(qn("w:titlePg")), *references]:
        if element.tag == qn("w:titlePg") or element.get(qn("w:type")) == "first":
            sect_pr.remove(element)
    blocks = parse_markup(markup)
    for block in blocks:
        _reference_block(doc, block, images)
    props = doc.core_properties
    props.title = next((b.text for b in blocks if b.kind == "title"), "")
    props.author = props.last_modified_by = author
    props.comments = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = renderer.FALLBACK_STAMP
    buffer = io.BytesIO()
    doc.save(buffer)
    return _zipfile_normalized(buffer.getvalue())


REFERENCE_MARKUP = """# 关于A&B<测试>单位的"绩效目标"审核意见

> 主送：区财政局

\\  前导空格的正文 & <w:t> "引号" 'x'
接续一行。

## 一、总体情况
### （一）项目 & 资金
#### 1. 第三级	带制表符
|项目|金额|备注|
|甲 & 乙|1.00|
|<丙>||"引号"|
||||

|单列|

![亮灯 & <分布>](lights)
![](lights)
![等级](grades)

>> 测试区财政局
>> 2024年12月31日
"""


def test_docx_is_the_xml_python_docx_lays_out() -> None:
    images = {"lights": _png(96, 54, dpi=150), "grades": _png(40, 30)}
    data = build_docx(REFERENCE_MARKUP, author="测试区", images=images)
    reference = _reference_docx(REFERENCE_MARKUP, author="测试区", images=images)
    new, old = _parts(data), _parts(reference)
    assert list(new) == list(old)
    assert _c14n(new["word/document.xml"]) == _c14n(old["word/document.xml"])
    for name, content in old.items():
        assert new[name] == content, name
    assert data == reference


def test_docx_escapes_text_and_attributes(tmp_path: Path) -> None:
    markup = '# A & B <C> "D"\n\n正文 & <w:t> "引号" ]]>\n\n\\  前导空格\n\n|a&b|<c>|\n\n![图 & "题" <x>](p)\n'
    data = build_docx(markup, images={"p": _png(8, 6)})
    document = _parts(data)["word/document.xml"]
    etree.fromstring(document)  # well-formed
    assert b'A &amp; B &lt;C&gt; "D"' in document
    assert b'descr="\xe5\x9b\xbe &amp; &quot;\xe9\xa2\x98&quot; &lt;x&gt;"' in document
    assert '<w:t xml:space="preserve">  前导空格</w:t>'.encode() in document
    path = tmp_path / "escaped.docx"
    path.write_bytes(data)
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert 'A & B <C> "D"' in texts and '正文 & <w:t> "引号" ]]>' in texts and "  前导空格" in texts
    assert [c.text for c in doc.tables[0].rows[0].cells] == ["a&b", "<c>"]
    assert doc.core_properties.title == 'A & B <C> "D"'
    with pytest.raises(ValueError, match="XML compatible"):
        build_docx("控制\x01字符")


def test_docx_images_share_a_part_per_distinct_picture() -> None:
    lights, grades = _png(300, 200, dpi=150), _png(100, 100)
    data = build_docx("# 图\n\n![甲](a)\n![乙](b)\n![](a)\n", images={"a": lights, "b": grades})
    parts = _parts(data)
    assert [name for name in parts if name.startswith("word/media/")] == [
        "word/media/image1.png",
        "word/media/image2.png",
    ]
    assert parts["word/media/image1.png"] == lights and parts["word/media/image2.png"] == grades
    assert parts["[Content_Types].xml"].count(b'<Default Extension="png" ContentType="image/png"/>') == 1
    rels = parts["word/_rels/document.xml.rels"]
    assert b'Target="media/image1.png"' in rels and b'Target="media/image2.png"' in rels
    doc = Document(io.BytesIO(data))
    shapes = doc.inline_shapes
    assert len(shapes) == 3
    assert {shape.width for shape in shapes} == {Mm(CHART_WIDTH_MM)}
    assert abs(shapes[0].height / shapes[0].width - 200 / 300) < 1e-3
    assert shapes[1].height == shapes[1].width
    doc_prs = doc.element.body.findall(".//" + qn("wp:docPr"))
    assert [(p.get("id"), p.get("descr")) for p in doc_prs] == [("1", "甲"), ("2", "乙"), ("3", "a")]
    blips = [b.get(qn("r:embed")) for b in doc.element.body.iter(qn("a:blip"))]
    assert blips[0] == blips[2] != blips[1]
    captions = [p for p in doc.paragraphs if p.text in ("甲", "乙")]
    assert [p.alignment for p in captions] == [WD_ALIGN_PARAGRAPH.CENTER] * 2
    assert not any(name.startswith("word/media/") for name in _parts(build_docx("# 无图\n")))


def test_docx_table_with_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "table.docx"
    path.write_bytes(build_docx("|一|二|三|\n|1|\n|2||4|\n|5|6|7|8|\n\n正文\n"))
    doc = Document(str(path))
    table = doc.tables[0]
    assert table.style is not None and table.style.name == "Table Grid"
    assert table.alignment == WD_TABLE_ALIGNMENT.CENTER
    cells = [[cell.text for cell in row.cells] for row in table.rows]
    assert cells == [["一", "二", "三", ""], ["1", "", "", ""], ["2", "", "4", ""], ["5", "6", "7", "8"]]
    section = doc.sections[0]
    assert section.page_width is not None and section.left_margin is not None and section.right_margin is not None
    type_area = section.page_width - section.left_margin - section.right_margin
    widths = [column.width for column in table.columns]
    assert sum(widths) == Twips(Emu(type_area).twips) and min(widths) > Twips(400)  # type: ignore[operator]
    header, *rows = table.rows
    assert all(run.bold and run.font.size == TABLE_SIZE for cell in header.cells for run in cell.paragraphs[0].runs)
    assert all(run.bold is False for row in rows for cell in row.cells for run in cell.paragraphs[0].runs)
    assert not rows[0].cells[1].paragraphs[0].runs  # an empty cell has no run
    assert {cell.paragraphs[0].alignment for row in table.rows for cell in row.cells} == {WD_ALIGN_PARAGRAPH.CENTER}
    after = doc.element.body[list(doc.element.body).index(table._tbl) + 1]
    assert after.tag == qn("w:p") and not after.findall(qn("w:r"))  # the empty paragraph after the table
    assert docx_text(path).split("\n") == ["一|二|三|", "1|||", "2||4|", "5|6|7|8", "", "正文"]


def test_table_columns_are_sized_to_their_content_and_its_rows_kept_whole(tmp_path: Path) -> None:
    """A code or an amount never breaks inside: its column is at least as wide as it; long text takes the rest. The
    header row repeats on every page, no row splits, and the cells are single-spaced 五号."""
    reason = "上级资金下达较晚，配套资金拨付滞后，项目前期手续办理周期较长" * 2
    rows = [["序号", "项目编码", "项目名称", "年度预算（万元）", "偏差原因"]]
    rows += [[str(i), f"LS2017-124-{i:02d}", "文化惠民演出", "16904.55", reason] for i in range(1, 80)]
    total = Emu(Mm(210 - 28 - 26)).twips
    widths = renderer.column_widths(rows, total)
    assert sum(widths) == total
    digit = TABLE_SIZE.twips * 0.5  # a digit is about half a character wide
    assert widths[1] > len("LS2017-124-01") * digit + 2 * renderer.TABLE_CELL_MARGIN
    assert widths[3] > len("16904.55") * digit + 2 * renderer.TABLE_CELL_MARGIN
    assert widths[4] == max(widths)  # the long text takes what the numbers leave
    short = renderer.column_widths([row[:4] for row in rows], total)
    assert short[2] >= 6 * TABLE_SIZE.twips  # without the long text, the name stays on one line
    assert renderer.column_widths([["甲", "乙"], ["1", "2"]], total)[0] == total // 2  # alike columns, alike widths

    path = tmp_path / "table.docx"
    path.write_bytes(build_docx("如下表：\n" + "\n".join("|" + "|".join(row) + "|" for row in rows) + "\n"))
    doc = Document(str(path))
    (table,) = doc.tables
    first, *others = table.rows
    assert first._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated at the top of every page
    assert all(row._tr.trPr.find(qn("w:tblHeader")) is None for row in others)
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)
    cell = others[0].cells[4].paragraphs[0]
    assert cell.paragraph_format.line_spacing_rule == WD_LINE_SPACING.SINGLE and cell.runs[0].font.size == Pt(10.5)
    assert (
        cell.alignment == WD_ALIGN_PARAGRAPH.LEFT
        and others[0].cells[3].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.CENTER
    )
    assert doc.paragraphs[0].paragraph_format.keep_with_next  # the sentence stays with the table it introduces


def test_docx_bytes_are_the_same_in_a_fresh_process() -> None:
    script = "import sys\nfrom perfcycle.documents.renderer import build_docx\nsys.stdout.buffer.write(build_docx(sys.stdin.read()))"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], input=MARKUP.encode(), env=env, capture_output=True, check=True, timeout=120
    )
    assert done.stdout == build_docx(MARKUP)


def test_zip_writer_is_zipfiles_bytes() -> None:
    source = io.BytesIO()
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>" * 500)
        archive.writestr("word/media/image1.png", _png(20, 10))
        archive.writestr("目录/空.xml", b"")
    assert normalize_zip(source.getvalue()) == _zipfile_normalized(source.getvalue())


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


def test_inside_keeps_a_name_as_it_is_and_refuses_what_would_leave_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "submissions"
    (root / "targets").mkdir(parents=True)
    assert inside(root, "targets", "D01.xlsx") == root.resolve() / "targets" / "D01.xlsx"
    assert inside(root, "history", "targets", "D01") == root.resolve() / "history" / "targets" / "D01"
    for name in ("../../x.xlsx", "a/b.xlsx", "..\\x.xlsx", "..", ".", "", " ", "x\0.xlsx"):
        with pytest.raises(ValueError):
            inside(root, "targets", name)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "linked").symlink_to(outside)
    with pytest.raises(ValueError, match="路径越出目录"):
        inside(root, "linked", "D01.xlsx")
    assert not any(outside.iterdir())
