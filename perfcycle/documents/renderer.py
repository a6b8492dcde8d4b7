"""The one document renderer: Jinja2 templates by name → a tiny line markup → an official-format .docx.

Every document of the cycle goes through here, so the official format (GB/T 9704-2012 essentials) is
applied in exactly one place. Templates never format anything themselves; they write this markup:

    # 标题                 title: centred, 2号 (22 pt) 方正小标宋简体
    ## 一、…               level-1 heading: 黑体 3号 (16 pt)
    ### （一）…            level-2 heading: 楷体_GB2312 16 pt
    #### 1. …             level-3 heading: 仿宋_GB2312 16 pt
    > 主送：…              addressee line, no indent
    >> …                   right-aligned line (落款, 成文日期)
    |a|b|c|                table row; consecutive rows form one table, the first row is the header
    ![图题](name)          an image centred on its own line with its caption centred below; `name` is a
                           field of the context holding a `Chart` (drawn to PNG here) or a key of the
                           `images` given to build_docx; an unknown name is an error, never a blank
    (blank line)           ends a paragraph
    anything else          body text, 仿宋_GB2312 16 pt, first line indented 2 characters, fixed 28 pt
                           line spacing; consecutive body lines are joined into one paragraph

A leading backslash makes a line plain body text (``\\# not a title``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from docx import Document as open_docx
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from pydantic import BaseModel

from perfcycle.documents.charts import CHART_WIDTH_MM, Chart, chart_png
from perfcycle.settings import get_settings

# Fonts and sizes of GB/T 9704-2012.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
TITLE_SIZE = Pt(22)  # 2号
BODY_SIZE = Pt(16)  # 3号
TABLE_SIZE = Pt(12)  # 小4号, so that tables fit the type area
PAGE_NUMBER_SIZE = Pt(14)  # 4号
CAPTION_SIZE = Pt(14)  # 4号, figure captions
LINE_SPACING = Pt(28)
TITLE_LINE_SPACING = Pt(36)
INDENT_CHARS = 2

PAGE_WIDTH = Mm(210)
PAGE_HEIGHT = Mm(297)
MARGIN_TOP = Mm(37)
MARGIN_BOTTOM = Mm(35)
MARGIN_LEFT = Mm(28)
MARGIN_RIGHT = Mm(26)
FOOTER_DISTANCE = Mm(28)

FALLBACK_STAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------------------------- Jinja


def _cell(value: object) -> str:
    """Make a value safe inside a table cell: no pipes, no line breaks."""
    return " ".join(str(value).replace("|", "｜").split())


def _oneline(value: object) -> str:
    """Flatten record text (findings, reasons) onto one body line."""
    return " ".join(str(value).split())


_DIGITS = "零一二三四五六七八九"


def cn_num(value: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (for 一是、二是 and （一）（二） numbering, 1..99)."""
    number = int(value)
    if not 0 < number < 100:
        return str(number)
    tens, ones = divmod(number, 10)
    text = ("" if tens == 1 else _DIGITS[tens]) + "十" if tens else ""
    return text + (_DIGITS[ones] if ones else "")


@lru_cache(maxsize=8)
def _environment(templates_dir: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir, encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    env.filters["oneline"] = _oneline
    env.filters["cn_num"] = cn_num
    return env


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The strict Jinja2 environment over `templates_dir` (default: settings.templates_dir)."""
    return _environment(str(templates_dir if templates_dir is not None else get_settings().templates_dir))


def template_variables(template_name: str) -> set[str]:
    """The names a template reads from its context (for the context-coverage test)."""
    env = environment()
    assert env.loader is not None
    source, _filename, _uptodate = env.loader.get_source(env, template_name)
    return set(jinja2.meta.find_undeclared_variables(env.parse(source)))


def _variables(context: BaseModel) -> dict[str, Any]:
    # Attributes, not model_dump(): nested models keep their attributes and Decimals stay Decimals.
    return {name: getattr(context, name) for name in type(context).model_fields}


def render_text(template_name: str, context: BaseModel, templates_dir: Path | None = None) -> str:
    """The markup text of a template rendered with a context model."""
    return environment(templates_dir).get_template(template_name).render(_variables(context))


# ---------------------------------------------------------------------------------------------- markup


@dataclass
class Block:
    """One block of the markup: kind is title/h1/h2/h3/addressee/right/body/table/image.

    An image block has its caption in `text` and the name of its picture in `ref`."""

    kind: str
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    ref: str = ""


_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<ref>[^()\s]+)\)$")
_PREFIXES = (("#### ", "h3"), ("### ", "h2"), ("## ", "h1"), ("# ", "title"), (">> ", "right"), ("> ", "addressee"))


def parse_markup(text: str) -> list[Block]:
    """Split the markup into blocks (see the module docstring)."""
    blocks: list[Block] = []
    body: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if body:
            blocks.append(Block("body", "".join(body)))
            body.clear()
        if table:
            blocks.append(Block("table", rows=[list(r) for r in table]))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("\\"):
            if table:
                flush()
            body.append(line[1:])
            continue
        image = _IMAGE.match(line)
        if image:
            flush()
            blocks.append(Block("image", image["caption"].strip(), ref=image["ref"]))
            continue
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            if body:
                flush()
            table.append([c.strip() for c in line[1:-1].split("|")])
            continue
        for prefix, kind in _PREFIXES:
            if line.startswith(prefix) or line == prefix.strip():
                flush()
                blocks.append(Block(kind, line[len(prefix) :].strip()))
                break
        else:
            if table:
                flush()
            body.append(line)
    flush()
    return blocks


# ---------------------------------------------------------------------------------------------- docx


_FONT_ATTRS = tuple(qn(attr) for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"))
_VAL = qn("w:val")


def _set_run_font(run: Any, font: str, size: Pt, bold: bool = False) -> None:
    """The run's font in every script slot (w:ascii, w:hAnsi, w:eastAsia, w:cs), size and weight.

    Built as one w:rPr element (the XML python-docx's font setters would write, in the same order): the
    setters search the schema's successor list on every call, which dominated the rendering of tables."""
    r = run._r
    old = r.rPr
    if old is not None:
        r.remove(old)
    rpr = OxmlElement("w:rPr")
    rfonts = OxmlElement("w:rFonts")
    for attr in _FONT_ATTRS:
        rfonts.set(attr, font)
    rpr.append(rfonts)
    weight = OxmlElement("w:b")
    if not bold:
        weight.set(_VAL, "0")
    rpr.append(weight)
    sz = OxmlElement("w:sz")
    sz.set(_VAL, str(round(size.pt * 2)))  # half-points
    rpr.append(sz)
    r.insert(0, rpr)


def _set_style_font(style: Any, font: str, size: Pt, bold: bool = False) -> None:
    style.font.name = font
    style.font.size = size
    style.font.bold = bold
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)


def _indent_chars(paragraph: Paragraph, chars: int, size: Pt) -> None:
    """First-line indent in characters (w:firstLineChars) with a point fallback for other readers."""
    paragraph.paragraph_format.first_line_indent = Pt(size.pt * chars)
    ind = paragraph._p.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def _outline_level(paragraph: Paragraph, level: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    element = OxmlElement("w:outlineLvl")
    element.set(qn("w:val"), str(level))
    ppr.append(element)


def _fixed_spacing(paragraph: Paragraph, spacing: Pt) -> None:
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = spacing
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)


def _paragraph(doc: Document, text: str, font: str, size: Pt, *, bold: bool = False) -> Paragraph:
    paragraph = doc.add_paragraph()
    _fixed_spacing(paragraph, LINE_SPACING)
    if text:
        _set_run_font(paragraph.add_run(text), font, size, bold)
    return paragraph


def _add_image(doc: Document, block: Block, images: Mapping[str, bytes]) -> None:
    """The picture centred on its own line (single spacing: a fixed line height would clip it), then the caption."""
    if block.ref not in images:
        known = "、".join(sorted(images)) or "（无）"
        raise ValueError(f"图片「{block.ref}」没有提供；可用: {known}")
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.space_before = Pt(6)
    fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(0)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run().add_picture(io.BytesIO(images[block.ref]), width=Mm(CHART_WIDTH_MM))
    doc_pr = paragraph._p.find(".//" + qn("wp:docPr"))
    if doc_pr is not None:
        doc_pr.set("descr", block.text or block.ref)
    if block.text:
        caption = _paragraph(doc, block.text, BODY_FONT, CAPTION_SIZE)
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _add_block(doc: Document, block: Block, images: Mapping[str, bytes]) -> None:
    if block.kind == "image":
        _add_image(doc, block, images)
    elif block.kind == "title":
        paragraph = _paragraph(doc, block.text, TITLE_FONT, TITLE_SIZE)
        _fixed_spacing(paragraph, TITLE_LINE_SPACING)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _outline_level(paragraph, 0)
        _paragraph(doc, "", BODY_FONT, BODY_SIZE)  # 标题下空一行
    elif block.kind in ("h1", "h2", "h3"):
        font = {"h1": HEADING1_FONT, "h2": HEADING2_FONT, "h3": BODY_FONT}[block.kind]
        paragraph = _paragraph(doc, block.text, font, BODY_SIZE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        _indent_chars(paragraph, INDENT_CHARS, BODY_SIZE)
        _outline_level(paragraph, {"h1": 1, "h2": 2, "h3": 3}[block.kind])
    elif block.kind == "addressee":
        paragraph = _paragraph(doc, block.text, BODY_FONT, BODY_SIZE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    elif block.kind == "right":
        paragraph = _paragraph(doc, block.text, BODY_FONT, BODY_SIZE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        paragraph.paragraph_format.right_indent = Pt(BODY_SIZE.pt * 4)  # 成文日期右空四字
    elif block.kind == "table":
        _add_table(doc, block.rows)
    else:
        paragraph = _paragraph(doc, block.text, BODY_FONT, BODY_SIZE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        _indent_chars(paragraph, INDENT_CHARS, BODY_SIZE)


def _cell_ppr() -> Any:
    """<w:pPr> of a table cell's paragraph: no space before/after, no first-line indent, centred."""
    ppr = OxmlElement("w:pPr")
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:before"), "0")
    spacing.set(qn("w:after"), "0")
    ind = OxmlElement("w:ind")
    ind.set(qn("w:firstLine"), "0")
    jc = OxmlElement("w:jc")
    jc.set(_VAL, "center")
    ppr.extend((spacing, ind, jc))
    return ppr


def _add_table(doc: Document, rows: list[list[str]]) -> None:
    width = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows), cols=width)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # Row by row: table.cell(r, c) re-walks the whole grid on every call, quadratic in the table size.
    for r, (row, values) in enumerate(zip(table.rows, rows, strict=True)):
        for c, cell in enumerate(row.cells):
            paragraph = cell.paragraphs[0]
            paragraph._p.insert(0, _cell_ppr())  # centred, no indent, no spacing
            text = values[c] if c < len(values) else ""
            if text:
                _set_run_font(paragraph.add_run(text), BODY_FONT, TABLE_SIZE, bold=r == 0)
    # A short empty paragraph after the table so two tables never merge and body text keeps its distance.
    _paragraph(doc, "", BODY_FONT, BODY_SIZE)


def _page_number(paragraph: Paragraph) -> None:
    """ "— N —" with a PAGE field, 4号 宋体."""
    _set_run_font(paragraph.add_run("— "), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        _set_run_font(run, PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        if kind is not None:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            run.text = text or ""
    _set_run_font(paragraph.add_run(" —"), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)


def _setup(doc: Document) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = PAGE_WIDTH
    section.page_height = PAGE_HEIGHT
    section.top_margin = MARGIN_TOP
    section.bottom_margin = MARGIN_BOTTOM
    section.left_margin = MARGIN_LEFT
    section.right_margin = MARGIN_RIGHT
    section.footer_distance = FOOTER_DISTANCE
    normal = doc.styles["Normal"]
    _set_style_font(normal, BODY_FONT, BODY_SIZE)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.line_spacing = LINE_SPACING
    # Page numbers: odd pages right, even pages left, one character in from the margin.
    doc.settings.odd_and_even_pages_header_footer = True
    odd = section.footer.paragraphs[0]
    odd.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    odd.paragraph_format.right_indent = PAGE_NUMBER_SIZE
    _page_number(odd)
    even = section.even_page_footer.paragraphs[0]
    even.alignment = WD_ALIGN_PARAGRAPH.LEFT
    even.paragraph_format.left_indent = PAGE_NUMBER_SIZE
    _page_number(even)


def document_stamp(context: BaseModel) -> dt.datetime:
    """A fixed creation time derived from the context (never now()), so output is reproducible:
    the context's `issued_on` date if it has one, else 31 December of its `year`."""
    issued = getattr(context, "issued_on", None)
    if isinstance(issued, dt.date):
        return dt.datetime(issued.year, issued.month, issued.day, tzinfo=dt.UTC)
    year = getattr(context, "year", None)
    if isinstance(year, int) and 1900 < year < 3000:
        return dt.datetime(year, 12, 31, tzinfo=dt.UTC)
    return FALLBACK_STAMP


def build_docx(
    markup: str,
    *,
    title: str = "",
    author: str = "",
    stamp: dt.datetime = FALLBACK_STAMP,
    images: Mapping[str, bytes] | None = None,
) -> bytes:
    """The bytes of a .docx laid out from markup text; identical input gives identical bytes.

    `images` maps the names used by image lines (`![图题](name)`) to PNG bytes."""
    doc = open_docx()
    _setup(doc)
    blocks = parse_markup(markup)
    for block in blocks:
        _add_block(doc, block, images or {})
    props = doc.core_properties
    props.title = title or next((b.text for b in blocks if b.kind == "title"), "")
    props.author = author or get_settings().district
    props.last_modified_by = props.author
    props.comments = ""
    props.revision = 1
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalize_zip(buffer.getvalue())


def normalize_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed entry timestamps, so the same content gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def atomic_write(path: Path, data: bytes) -> str:
    """Write bytes through a temp file in the same folder and rename it into place; returns the sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def context_images(context: BaseModel) -> dict[str, bytes]:
    """The pictures a context offers its template: each field holding a `Chart`, drawn to PNG, by field name."""
    return {
        name: chart_png(value)
        for name in type(context).model_fields
        if isinstance(value := getattr(context, name), Chart)
    }


def render_docx(
    template_name: str,
    context: BaseModel,
    path: Path,
    *,
    templates_dir: Path | None = None,
    district: str | None = None,
) -> str:
    """Render a template with its context into an official-format .docx at `path`; returns its sha256.

    `templates_dir` and `district` (the author when the context names none) default to the settings; a worker
    process is handed the parent's, so that it renders what the parent would."""
    markup = render_text(template_name, context, templates_dir)
    author = getattr(context, "district", "")
    if not (isinstance(author, str) and author):
        author = district or ""
    data = build_docx(
        markup,
        author=author,
        stamp=document_stamp(context),
        images=context_images(context),
    )
    return atomic_write(path, data)


def image_refs(template_name: str) -> set[str]:
    """The picture names a template's image lines use (for the context-coverage test)."""
    env = environment()
    assert env.loader is not None
    source, _filename, _uptodate = env.loader.get_source(env, template_name)
    return {match["ref"] for line in source.splitlines() if (match := _IMAGE.match(line.strip()))}


def docx_text(path: Path) -> str:
    """The visible text of a .docx (paragraphs, then table cells row by row), for checks and tests."""
    doc = open_docx(str(path))
    return "\n".join(_iter_text(doc))


def _iter_text(doc: Document) -> Iterator[str]:
    body = doc.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, doc).text
        elif child.tag == qn("w:tbl"):
            for row in child.iterchildren(qn("w:tr")):
                yield "|".join(_cell_texts(row.iterchildren(qn("w:tc")), doc))


def _cell_texts(cells: Iterable[Any], doc: Document) -> Iterator[str]:
    for tc in cells:
        yield "".join(Paragraph(p, doc).text for p in tc.iterchildren(qn("w:p")))
