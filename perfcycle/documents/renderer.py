"""The one document renderer: Jinja2 templates by name → a tiny line markup → an official-format .docx.

Every document of the cycle goes through here, so the official format (GB/T 9704-2012 essentials) is
applied in exactly one place. Templates never format anything themselves; they write this markup:

    # 标题                 title: centred, 2号 (22 pt) 方正小标宋简体; a title line right under another one is
                           the title's next line (break a title by meaning, never inside a word)
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

A leading backslash makes a line plain body text (``\\# not a title``). A title after the first one begins an
attachment (附件), on a page of its own after the signature.

A document the bureau issues is rendered with its `Frame` (`perfcycle.documents.frame`): the renderer then makes it a
whole 公文 — the 版头 (the red 发文机关标志, the 发文字号, the red line), the 主送机关 under the title, the 附件说明, the
发文机关署名 over the 成文日期 with room for the seal and kept with the last of the text, the 附注, the attachments, and
the 版记 in the footer of a last section that begins on an even page. The page has the grid of 22 lines × 28
characters; the body's characters are drawn as wide as its cells.

Record text is never markup. In a document template (``*.md.j2``) every value a ``{{ … }}`` writes is a
literal run (`literal`): the markup signs in it (``# > | ! [ ] ( ) \\``) stand in as characters that mean
nothing to the parser and are printed as themselves, so a name or finding holding ``# …``, ``## …``,
``|a|b|`` or ``![图](name)`` stays text where it stands, and a line break in it is a space (it never starts a
new line of markup). Other templates are plain text (notices, the policy file): a line break in a value
becomes a space there too, so no record can forge a line of its own (a subject, a 落款).

python-docx sets up the page, styles and footers once per process; each document's body is written as
WordprocessingML text (`wordml`) into that skeleton, as the same XML python-docx would produce.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import math
import os
import posixpath
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
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.image.image import Image as DocxImage
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Mm, Pt
from docx.text.paragraph import Paragraph
from pydantic import BaseModel

from perfcycle.documents import wordml
from perfcycle.documents.charts import CHART_WIDTH_MM, Chart, chart_png
from perfcycle.documents.frame import Frame, text_units
from perfcycle.rules.text import one_line
from perfcycle.settings import get_settings

# Fonts and sizes of GB/T 9704-2012.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
TITLE_SIZE = Pt(22)  # 2号
BODY_SIZE = Pt(16)  # 3号
TABLE_SIZE = Pt(10.5)  # 五号, single-spaced: a table's columns fit the type area
TABLE_CELL_MARGIN = 57  # twips left and right of a cell's text (0.1 cm)
TABLE_LEFT_WIDTH = 8  # a column whose longest text is wider than this many characters is set flush left
PAGE_NUMBER_SIZE = Pt(14)  # 4号
PAGE_NUMBER_LINE = Pt(18)
CAPTION_SIZE = Pt(14)  # 4号, figure captions
LINE_SPACING = Pt(28)
TITLE_LINE_SPACING = Pt(36)
INDENT_CHARS = 2
RIGHT_INDENT_CHARS = 4  # 成文日期右空四字
IMAGE_SPACE_BEFORE = Pt(6)
CHARS_PER_LINE = 28  # the page's character grid: 22 lines of 28 characters
# The language of the Chinese text; digits and Latin letters are en-US, as Word writes it in China: a number is then
# never broken inside by the rules for breaking Chinese text.
LANGUAGE = "zh-CN"
LATIN_LANGUAGE = "en-US"

# The 公文 frame (GB/T 9704-2012 §7).
RED = "FF0000"
MARK_FONT = TITLE_FONT
MARK_SIZE = Pt(42)  # 初号; smaller when a long 发文机关标志 would not fit the line
MARK_TOP = Mm(35)  # 发文机关标志上边缘至版心上边缘
MARK_GAP_LINES = 2  # 发文字号 under the mark, 空二行
RULE_GAP = Pt(8)  # the red line about 4 mm under the 发文字号's characters
RULE_EIGHTHS = 12  # the red line, 1.5 pt
TITLE_GAP_LINES = 2  # 标题 under the red line, 空二行
SEAL_LINES = 2  # room above the 署名 for the seal, whose top is within a line of the text
ATTACHMENT_FONT = HEADING1_FONT  # 附件 and its number: 3号黑体, top left
COLOPHON_SIZE = Pt(14)  # 版记: 4号仿宋
COLOPHON_LINE = Pt(28)
COLOPHON_THICK = 8  # 版记's first and last lines, 1 pt (≈ 0.35 mm)
COLOPHON_THIN = 6  # and the line between, 0.75 pt (≈ 0.25 mm)

# The 信函格式 of a 函 (GB/T 9704-2012 §10.1).
LETTER_MARK_TOP = Mm(30)  # 发文机关标志上边缘至上页边
LETTER_RULE_GAP = Mm(4)  # the first red double line 4 mm under the mark
LETTER_RULE_FOOT = Mm(20)  # the second 20 mm above the foot of the page
LETTER_RULE_LENGTH = Mm(170)  # both 170 mm long, centred on the page
LETTER_RULE_THICK = Pt(2.25)
LETTER_RULE_THIN = Pt(0.75)
LETTER_RULE_PITCH = Mm(1.2)  # from the middle of one line of a double line to the middle of the other
LETTER_MARK_INK = 0.85  # the height of the mark's characters in its size: the double line is 4 mm under them
LETTER_HEAD_FOOT = Mm(2.7)  # the header ends this far under the double line: the 发文字号's characters, in the body's
# first line, then begin 7/8 of a 3号 character's height under the line

PAGE_WIDTH = Mm(210)
PAGE_HEIGHT = Mm(297)
MARGIN_TOP = Mm(37)
MARGIN_BOTTOM = Mm(35)
MARGIN_LEFT = Mm(28)
MARGIN_RIGHT = Mm(26)
FOOTER_DISTANCE = Mm(25.3)  # the page number's dashes 7 mm under the type area

FALLBACK_STAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------- Jinja


def _oneline(value: object) -> str:
    """Record text (findings, reasons, a table cell) on one line, its runs of whitespace one space each."""
    return " ".join(str(value).split())


# The characters the markup's structure is made of. In a literal run each stands in as a private-use character
# that means nothing to `parse_markup`, and is itself again in the blocks' text; a record's own private-use
# character of that range, or a character XML cannot hold, becomes U+FFFD.
MARKUP_SIGNS = "#>|![]()\\"
_STAND_INS = "".join(chr(0xE000 + index) for index in range(len(MARKUP_SIGNS)))
_HIDE = str.maketrans(MARKUP_SIGNS, _STAND_INS)
_SHOW = str.maketrans(_STAND_INS, MARKUP_SIGNS)
_SIGN = re.compile(f"[{re.escape(MARKUP_SIGNS)}]")
_STAND_IN = re.compile(f"[{_STAND_INS}]")
_SPECIAL = re.compile(f"[{re.escape(MARKUP_SIGNS)}{_STAND_INS}\\x00-\\x1f\\x85\\u2028\\u2029\\ufffe\\uffff]")
_UNWRITABLE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff{_STAND_INS}]")


def literal(value: object) -> str:
    """A value written by a document template: a literal run of one line, which `parse_markup` keeps as text."""
    text = str(value)
    if not _SPECIAL.search(text):
        return text
    text = one_line(text)
    if _UNWRITABLE.search(text):
        text = _UNWRITABLE.sub("\ufffd", text)
    return text.translate(_HIDE) if _SIGN.search(text) else text


def _shown(text: str) -> str:
    """A block's text as printed: the markup signs of its literal runs themselves again."""
    return text.translate(_SHOW) if _STAND_IN.search(text) else text


# Signs that make Markdown structure anywhere in a line, and those that do only where a value begins a block
# (a list item's `-`/`+`, an ordered item's `1.`); `0.00` and `2024-01-15` stay as they are.
_MARKDOWN_SIGN = re.compile(r"([\\`*_\[\]#!|<>~])")
_MARKDOWN_START = re.compile(r"^(\s*(?:\d+)?)([-+=.)])(?=\s|$)")


class CodeSpan(str):
    """Markdown already made by the `code` filter (a code span), which `markdown_text` leaves as it is."""


def code_span(value: object) -> CodeSpan:
    """A command as a Markdown code span: one line, in a fence longer than any run of backticks it holds."""
    text = one_line(value)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return CodeSpan(f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}")


def markdown_text(value: object) -> str:
    """A value written by a Markdown template (the Prefect UI's forms): one line, every Markdown sign escaped,
    so a name or a reason shows as typed and never becomes emphasis, a link, a heading or a table cell."""
    if isinstance(value, CodeSpan):
        return value
    text = _MARKDOWN_SIGN.sub(r"\\\1", one_line(value))
    return _MARKDOWN_START.sub(r"\1\\\2", text)


_DIGITS = "零一二三四五六七八九"


def cn_num(value: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (for 一是、二是 and （一）（二） numbering, 1..99)."""
    number = int(value)
    if not 0 < number < 100:
        return str(number)
    tens, ones = divmod(number, 10)
    text = ("" if tens == 1 else _DIGITS[tens]) + "十" if tens else ""
    return text + (_DIGITS[ones] if ones else "")


DOCUMENT_SUFFIX = ".md.j2"
MARKDOWN_SUFFIX = ".markdown.j2"
_FINALIZE = {"document": literal, "markdown": markdown_text, "text": one_line}


def _kind(template_name: str) -> str:
    if template_name.endswith(DOCUMENT_SUFFIX):
        return "document"
    return "markdown" if template_name.endswith(MARKDOWN_SUFFIX) else "text"


@lru_cache(maxsize=8)
def _environment(templates_dir: str, kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir, encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_FINALIZE[kind],
    )
    env.filters["code"] = code_span
    env.filters["cell"] = _oneline
    env.filters["oneline"] = _oneline
    env.filters["cn_num"] = cn_num
    return env


def environment(templates_dir: Path | None = None, template_name: str = "") -> jinja2.Environment:
    """The strict Jinja2 environment over `templates_dir` (default: settings.templates_dir) that renders
    `template_name`: document markup for a `*.md.j2` template, Markdown for a `*.markdown.j2` one (the Prefect UI),
    plain text for any other."""
    folder = templates_dir if templates_dir is not None else get_settings().templates_dir
    return _environment(str(folder), _kind(template_name))


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
    """The text of a template rendered with a context model: document markup, its record values literal runs, for
    a `*.md.j2` template; plain text, each record value on one line, for any other."""
    env = environment(templates_dir, template_name)
    return env.get_template(template_name).render(_variables(context))


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
    """Split the markup into blocks (see the module docstring); a literal run is text wherever it stands."""
    blocks: list[Block] = []
    body: list[str] = []
    table: list[list[str]] = []
    title_open = False  # the last line was a title's: a title line right after it is the title's next line

    def flush() -> None:
        if body:
            blocks.append(Block("body", _shown("".join(body))))
            body.clear()
        if table:
            blocks.append(Block("table", rows=[[_shown(cell) for cell in row] for row in table]))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        continued, title_open = title_open, False
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
            blocks.append(Block("image", _shown(image["caption"].strip()), ref=image["ref"]))
            continue
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            if body:
                flush()
            table.append([c.strip() for c in line[1:-1].split("|")])
            continue
        for prefix, kind in _PREFIXES:
            if line.startswith(prefix) or line == prefix.strip():
                flush()
                value = _shown(line[len(prefix) :].strip())
                if kind == "title" and continued:
                    blocks[-1].text += "\n" + value
                else:
                    blocks.append(Block(kind, value))
                title_open = kind == "title"
                break
        else:
            if table:
                flush()
            body.append(line)
    flush()
    return blocks


# ---------------------------------------------------------------------------------------------- docx: the constant part


_FONT_ATTRS = tuple(qn(attr) for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"))
_VAL = qn("w:val")


def _set_run_font(run: Any, font: str, size: Pt, bold: bool = False) -> None:
    """The run's font in every script slot (w:ascii, w:hAnsi, w:eastAsia, w:cs), size and weight: the w:rPr
    that `wordml.run_properties` writes for the body."""
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
    # Every page holds its 22 lines (§5.2.2): a paragraph breaks at the page's last line, even leaving one line on
    # either side (word processors otherwise move two lines on, which empties the foot of a page).
    normal.paragraph_format.widow_control = False
    # Text is set to the page's grid by its size and width (see _GRID_SCALE), not snapped into its cells: snapped,
    # a number is spread over whole cells and may be broken inside.
    _no_snap(normal.element.get_or_add_pPr())
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
    # The 版记 page shows no page number: its section's footers are an empty one (made here as the first page's).
    section.different_first_page_header_footer = True
    section.first_page_footer.is_linked_to_previous = False
    section.first_page_header.is_linked_to_previous = False  # a 函's 版头 (its section alone shows it)
    for paragraph in (odd, even, section.first_page_footer.paragraphs[0]):
        # A line of its own height, not the body's 28 pt: the footer then fits under the type area.
        paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        paragraph.paragraph_format.line_spacing = PAGE_NUMBER_LINE
    _character_grid(section._sectPr)
    _chinese(doc)


def _no_snap(ppr: Any) -> None:
    """w:snapToGrid off, in its place among the w:pPr children."""
    snap = OxmlElement("w:snapToGrid")
    snap.set(_VAL, "0")
    ppr.insert_element_before(snap, "w:spacing", "w:ind", "w:jc", "w:outlineLvl", "w:rPr", "w:sectPr")


def _character_pitch() -> float:
    """The width of a character cell of the grid, in points: the type area's width over 28."""
    return Emu(PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT).pt / CHARS_PER_LINE


# The body's characters are drawn this narrow (percent of their 3号 width), so that each fits its cell of the grid: a
# word processor that does not squeeze text into the grid (LibreOffice) gives a character wider than its cell two.
_GRID_SCALE = math.floor(_character_pitch() / BODY_SIZE.pt * 100)


def _character_grid(sect_pr: Any) -> None:
    """The page's grid of 22 lines × 28 characters (GB/T 9704 §5.2.2): the cell's difference from the 3号 body
    characters' size, in 4096ths of a point."""
    grid = sect_pr.find(qn("w:docGrid"))
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(LINE_SPACING.twips))
    grid.set(qn("w:charSpace"), str(round((_character_pitch() - BODY_SIZE.pt) * 4096)))


def _chinese(doc: Document) -> None:
    """Chinese text is Simplified Chinese (zh-CN) by default, in the styles and in the theme's font language."""
    for element in doc.styles.element.iter(qn("w:lang")):
        element.set(_VAL, LATIN_LANGUAGE)
        element.set(qn("w:eastAsia"), LANGUAGE)
    for tag in ("w:sz", "w:szCs"):  # the default size is the body's, which the grid's cells are measured from
        for element in doc.styles.element.find(qn("w:docDefaults")).iter(qn(tag)):
            element.set(_VAL, str(round(BODY_SIZE.pt * 2)))
    for element in doc.settings.element.iter(qn("w:themeFontLang")):
        element.set(_VAL, LATIN_LANGUAGE)
        element.set(qn("w:eastAsia"), LANGUAGE)
    for part in doc.part.package.iter_parts():
        if str(part.partname) == "/word/stylesWithEffects.xml":
            part._blob = re.sub(
                rb'<w:lang w:val="[^"]*" w:eastAsia="[^"]*"',
                f'<w:lang w:val="{LATIN_LANGUAGE}" w:eastAsia="{LANGUAGE}"'.encode(),
                part.blob,
            )


_DOCUMENT_PART = "word/document.xml"
_CORE_PART = "docProps/core.xml"
_DOCUMENT_RELS = "word/_rels/document.xml.rels"
_CONTENT_TYPES = "[Content_Types].xml"


@dataclass(frozen=True)
class _Skeleton:
    """What every document shares: the parts of python-docx's default template set up by `_setup`, in the order
    python-docx saves them, with the document.xml around the body and the facts the body is laid out with."""

    parts: tuple[tuple[str, bytes | wordml.Deflated], ...]
    head: str  # document.xml up to and including <w:body>
    section: str  # the body's w:sectPr: page, margins, grid and the page-number footers
    colophon_section: str  # the 版记's: from the next even page, its one page's footer the 版记
    end: str  # </w:body></w:document>
    colophon_part: str  # the footer part that holds a document's 版记
    colophon_head: str  # that part up to and including <w:ftr …>
    letter_section: str  # a 函's: its first page's header the 版头 with the red double lines, no page number there
    letter_head_part: str  # the header part that holds a 函's 版头
    letter_head_head: str  # that part up to and including <w:hdr …>
    rels: str
    content_types: str
    media_at: int  # python-docx saves the image parts after the part of the document's last relationship
    used_rids: frozenset[str]
    table_style: str
    block_width: int  # EMU between the margins

    def entries(
        self,
        document: bytes,
        core: bytes,
        media: _Media,
        colophon: bytes | None = None,
        letter_head: bytes | None = None,
    ) -> list[tuple[str, bytes | wordml.Deflated]]:
        """The parts of one document, the media parts in their place, the 版记 in its footer, a 函's 版头 in its header."""
        replaced: dict[str, bytes] = {_DOCUMENT_PART: document, _CORE_PART: core}
        if colophon is not None:
            replaced[self.colophon_part] = colophon
        if letter_head is not None:
            replaced[self.letter_head_part] = letter_head
        if media.parts:
            replaced[_DOCUMENT_RELS] = self.rels.replace(
                "</Relationships>", "".join(media.relationships) + "</Relationships>"
            ).encode("utf-8")
            replaced[_CONTENT_TYPES] = _with_defaults(self.content_types, media.content_types).encode("utf-8")
        entries = [(name, replaced.get(name, data)) for name, data in self.parts]
        entries[self.media_at : self.media_at] = media.parts
        return entries


_DEFAULT = re.compile(r'<Default Extension="([^"]*)"[^>]*/>')


def _with_defaults(content_types: str, added: Mapping[str, str]) -> str:
    """[Content_Types].xml with a Default for each added extension, the Defaults sorted as python-docx writes them."""
    defaults = {match[1]: match[0] for match in _DEFAULT.finditer(content_types)}
    for extension, content_type in added.items():
        defaults.setdefault(extension, wordml.default_content_type(extension, content_type))
    first = content_types.index("<Default ")
    others = _DEFAULT.sub("", content_types)
    return others[:first] + "".join(defaults[e] for e in sorted(defaults)) + others[first:]


@lru_cache(maxsize=1)
def _skeleton() -> _Skeleton:
    """The default template with the page, styles, footers and settings of the official format, saved once."""
    doc = open_docx()
    _setup(doc)
    section = doc.sections[-1]
    assert section.page_width is not None and section.left_margin is not None and section.right_margin is not None
    table_style = doc.styles["Table Grid"].style_id
    buffer = io.BytesIO()
    doc.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        parts = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    files = dict(parts)
    rels = files[_DOCUMENT_RELS].decode("utf-8")
    targets = dict(re.findall(r'<Relationship Id="([^"]*)"[^>]*Target="([^"]*)"', rels))
    document = files[_DOCUMENT_PART].decode("utf-8")
    body = document.index("<w:body>") + len("<w:body>")
    section_at = document.index("<w:sectPr", body)
    end_at = document.index("</w:sectPr>", section_at) + len("</w:sectPr>")
    last_section = document[section_at:end_at]
    first = re.search(r'<w:footerReference w:type="first" r:id="([^"]*)"/>', last_section)
    first_head = re.search(r'<w:headerReference w:type="first" r:id="([^"]*)"/>', last_section)
    assert first is not None and first_head is not None
    plain_section = last_section.replace(first[0], "").replace(first_head[0], "").replace("<w:titlePg/>", "")
    # A 函's section: its first page shows the first-page header (the 版头, 30 mm from the top of the page) and the
    # empty first-page footer (no page number); the other pages are numbered as every document's.
    letter_section = re.sub(r'w:header="\d+"', f'w:header="{Emu(LETTER_MARK_TOP).twips}"', last_section)
    letter_head_part = posixpath.normpath(posixpath.join("word", targets[first_head[1]]))
    header = files[letter_head_part].decode("utf-8")
    header_body = header.index(">", header.index("<w:hdr")) + 1
    # The 版记's section: from the next even page (a blank page before it if need be), its footer the 版记, whose
    # last line lies on the foot of the type area.
    colophon_section = re.sub(
        r'(<w:footerReference w:type="(?:default|even)" r:id=")[^"]*"', rf'\g<1>{first[1]}"', plain_section
    )
    colophon_section = colophon_section.replace("<w:pgSz ", '<w:type w:val="evenPage"/><w:pgSz ', 1)
    colophon_section = re.sub(r'w:footer="\d+"', f'w:footer="{Emu(MARGIN_BOTTOM).twips}"', colophon_section)
    colophon_part = posixpath.normpath(posixpath.join("word", targets[first[1]]))
    footer = files[colophon_part].decode("utf-8")
    footer_body = footer.index(">", footer.index("<w:ftr")) + 1
    names = [name for name, _data in parts]
    media_at = names.index(posixpath.normpath(posixpath.join("word", list(targets.values())[-1]))) + 1
    return _Skeleton(
        parts=tuple((name, wordml.Deflated.of(data)) for name, data in parts),
        head=document[:body],
        section=plain_section,
        colophon_section=colophon_section,
        end=document[end_at:],
        colophon_part=colophon_part,
        colophon_head=footer[:footer_body],
        letter_section=letter_section,
        letter_head_part=letter_head_part,
        letter_head_head=header[:header_body],
        rels=rels,
        content_types=files[_CONTENT_TYPES].decode("utf-8"),
        media_at=media_at,
        used_rids=frozenset(re.findall(r'<Relationship Id="([^"]*)"', rels)),
        table_style=table_style,
        block_width=section.page_width - section.left_margin - section.right_margin,
    )


# ---------------------------------------------------------------------------------------------- docx: the body


def _run_properties(font: str, size: Pt, bold: bool = False) -> str:
    return wordml.run_properties(font, round(size.pt * 2), bold)  # half-points


_CHAR = math.floor(_character_pitch() * 20)  # one character of the body: a cell of the grid, in twips
_INDENT = wordml.first_line_indent(INDENT_CHARS * _CHAR, INDENT_CHARS)
_BLANK_LINE = wordml.paragraph(wordml.exact_spacing(LINE_SPACING.twips))  # under the title, after a table
_CELL = wordml.single_spacing(0) + wordml.first_line_indent(0)
_HEADINGS = {"h1": (HEADING1_FONT, 1), "h2": (HEADING2_FONT, 2), "h3": (BODY_FONT, 3)}


def _text_paragraph(
    text: str,
    properties: str,
    font: str = BODY_FONT,
    size: Pt = BODY_SIZE,
    line: Pt = LINE_SPACING,
    *,
    lead: str = "",
    before: int = 0,
    color: str = "",
) -> str:
    """A paragraph at a fixed line height, its text (if any) in one run of `font` at `size`; a line break in the
    text is a line break in the paragraph. `lead` holds the w:pPr children that come before w:spacing (w:keepNext,
    w:pBdr, w:snapToGrid …), `before` the space above in twips."""
    scale = _GRID_SCALE if size == BODY_SIZE else 0
    content = wordml.run(text, wordml.run_properties(font, round(size.pt * 2), color=color, scale=scale))
    return wordml.paragraph(lead + wordml.exact_spacing(line.twips, before) + properties, content if text else "")


# Where a title too long for one line may break by meaning: after a leading 关于, after the year (2024年, 2024年度) or
# the quarter (第一季度).
_TITLE_BREAK = re.compile(r"(?<=^关于)|(?<=\d年度)|(?<=\d年)(?!度)|(?<=季度)")


def broken_title(text: str) -> str:
    """A title as its lines: as written when it has its lines or fits one; else broken, by `_TITLE_BREAK`, where the
    two lines come closest to the same length, both fitting (left to the word processor when no break fits)."""
    width = _type_width() / 20 / TITLE_SIZE.pt  # in characters of the title's size
    if "\n" in text or _cell_units(text) <= width:
        return text
    best: tuple[float, int] | None = None
    for match in _TITLE_BREAK.finditer(text):
        left, right = _cell_units(text[: match.start()]), _cell_units(text[match.start() :])
        if left and right and max(left, right) <= width:
            best = min(best or (math.inf, 0), (abs(left - right), match.start()))
    return text if best is None else f"{text[: best[1]]}\n{text[best[1] :]}"


def _blank(lead: str = "") -> str:
    """An empty line of the body."""
    return wordml.paragraph(lead + wordml.exact_spacing(LINE_SPACING.twips)) if lead else _BLANK_LINE


def _block_xml(block: Block, media: _Media, skeleton: _Skeleton, *, keep: bool = False, before: int = 0) -> str:
    """The WordprocessingML of one block of the markup; `keep` keeps it on the page of what follows it (the
    signature), `before` is space above a title (under the 版头's red line)."""
    lead = wordml.keep_next() if keep else ""
    if block.kind == "image":
        # Single spacing: a fixed line height would clip the picture. The picture stays with its caption.
        centred = wordml.single_spacing(IMAGE_SPACE_BEFORE.twips) + wordml.first_line_indent(0)
        picture_lead = wordml.keep_next() if block.text or keep else ""
        picture = wordml.paragraph(picture_lead + centred + wordml.justification("center"), media.picture_run(block))
        if not block.text:
            return picture
        caption = _text_paragraph(block.text, wordml.justification("center"), size=CAPTION_SIZE, lead=lead)
        return picture + caption
    if block.kind == "title":
        centred = wordml.justification("center") + wordml.outline_level(0)
        title = _text_paragraph(
            broken_title(block.text),
            centred,
            TITLE_FONT,
            TITLE_SIZE,
            TITLE_LINE_SPACING,
            lead=wordml.keep_next(),
            before=before,
        )
        return title + _blank(lead)
    if block.kind in _HEADINGS:
        font, level = _HEADINGS[block.kind]
        outline = _INDENT + wordml.justification("both") + wordml.outline_level(level)
        return _text_paragraph(block.text, outline, font, lead=wordml.keep_next())  # never last on its page
    if block.kind == "addressee":
        return _text_paragraph(block.text, wordml.justification("left"), lead=lead)
    if block.kind == "right":
        indent = wordml.right_indent(RIGHT_INDENT_CHARS * _CHAR)
        return _text_paragraph(block.text, indent + wordml.justification("right"), lead=lead)
    if block.kind == "table":
        # Two tables never merge, body text keeps its distance.
        return _table_xml(block.rows, skeleton, keep=keep) + _blank(lead)
    return _text_paragraph(block.text, _INDENT + wordml.justification("both"), lead=lead)


# What a table never breaks inside: a run of digits, Latin letters and their signs (1845.00, LS2017-124-05, 61.1%).
_UNBROKEN = re.compile(r"[0-9A-Za-z.,%+\-−/:_#@&*()（）]+")
# The width of a digit, Latin letter or sign in characters of its size: the widest of the fonts a word processor may
# set them in (a Latin font's digits are 0.5–0.64 of its size, its % nearly a whole): a number's cell never too narrow.
_LATIN_WIDTHS = {"%": 1.0, ".": 0.35, ",": 0.35, ":": 0.35, "-": 0.45, "W": 1.0, "M": 0.9}
_HALF_WIDTH = 0.65
_HEADER_MIN = 2  # characters a header cell keeps on a line at least
_WORD = 5  # a cell of this many characters or fewer is a word, never broken
_SLACK = 0.4  # characters of room a column keeps beyond its text: bold headers and fonts a little wider


@lru_cache(maxsize=4096)
def _char_units(ch: str) -> float:
    return 1.0 if text_units(ch) == 1 else _LATIN_WIDTHS.get(ch, _HALF_WIDTH)


@lru_cache(maxsize=8192)
def _cell_units(text: str) -> float:
    """The width of a cell's text on one line, in characters of the table's size (a table's texts repeat, and
    each is measured for its column's least and wanted width: once is enough)."""
    return sum(map(_char_units, text))


def _least_units(text: str, header: bool) -> float:
    """The narrowest a cell's text can be set: a short word whole (有可能, 予以支持), its longest number or code, a
    header's first characters, else one character."""
    if not header and len(text) <= _WORD:
        return _cell_units(text)
    runs = [_cell_units(run) for run in _UNBROKEN.findall(text)]
    least = max([*runs, 1.0 if text else 0.0])
    return max(least, min(_cell_units(text), _HEADER_MIN)) if header else least


def column_widths(rows: list[list[str]], total: int) -> list[int]:
    """Columns sized to their content, in twips adding up to `total`: each at least as wide as its widest number or
    code (never broken inside). When the texts do not all fit on one line, the room is shared in proportion to what
    each column's longest text needs, so that the long ones wrap to about as many lines; a column that would get more
    than its text needs keeps just that, one that would get less than its numbers keeps those, and the others share
    again. Room to spare goes to each in proportion to its text."""
    count = max(len(row) for row in rows)
    char = TABLE_SIZE.twips
    pad = 2 * TABLE_CELL_MARGIN
    want = [0.0] * count
    least = [0.0] * count
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            least[c] = max(least[c], (_least_units(text, header=r == 0) + _SLACK) * char)
            if r > 0 or len(rows) == 1:  # a header may wrap: the columns share the room by what they hold
                want[c] = max(want[c], (_cell_units(text) + _SLACK) * char)
    want = [max(w, n) for w, n in zip(want, least, strict=True)]
    room = total - pad * count
    if sum(want) <= room:  # everything fits on one line: the rest shared in proportion
        widths = [w + (room - sum(want)) * w / sum(want) if sum(want) else room / count for w in want]
    elif sum(least) <= room:
        fixed: dict[int, float] = {}
        while True:
            free = [c for c in range(count) if c not in fixed]
            share = (room - sum(fixed.values())) / sum(want[c] for c in free)
            settle = {c: want[c] for c in free if want[c] * share >= want[c]}
            settle |= {c: least[c] for c in free if want[c] * share < least[c]}
            if not settle:
                break
            fixed |= settle
        widths = [fixed.get(c, want[c] * share) for c in range(count)]
    else:  # too many columns for the page: each in proportion to its narrowest
        widths = [n * room / sum(least) for n in least]
    out = [math.floor(w) + pad for w in widths]
    out[max(range(count), key=lambda c: widths[c])] += total - sum(out)
    return out


def _table_xml(rows: list[list[str]], skeleton: _Skeleton, *, keep: bool = False) -> str:
    """A centred Table Grid table as wide as the type area, its columns sized to their content; 五号 text single-spaced
    and centred in the cells (a column of long text flush left), the header bold and repeated on every page, no row
    split across pages."""
    widths = column_widths(rows, Emu(skeleton.block_width).twips)
    flush = [
        max(_cell_units(row[c]) for row in rows[1:] if c < len(row)) > TABLE_LEFT_WIDTH if len(rows) > 1 else False
        for c in range(len(widths))
    ]
    return wordml.table(
        rows,
        style_id=skeleton.table_style,
        widths=widths,
        cell_properties=[_CELL + wordml.justification("left" if left else "center") for left in flush],
        header=_run_properties(BODY_FONT, TABLE_SIZE, bold=True),
        body=_run_properties(BODY_FONT, TABLE_SIZE),
        margin=TABLE_CELL_MARGIN,
        keep_with_next=keep,
    )


class _Media:
    """The pictures of one document: a part per distinct image, numbered and related in order of first use."""

    def __init__(self, images: Mapping[str, bytes], used_rids: frozenset[str]) -> None:
        self._images = images
        self._free_rids = (rid for n in itertools.count(1) if (rid := f"rId{n}") not in used_rids)
        self._related: dict[bytes, tuple[str, DocxImage]] = {}
        self._shapes = 0
        self.parts: list[tuple[str, bytes]] = []
        self.relationships: list[str] = []
        self.content_types: dict[str, str] = {}

    def picture_run(self, block: Block) -> str:
        """The run showing the block's picture `CHART_WIDTH_MM` wide, described by its caption."""
        if block.ref not in self._images:
            known = "、".join(sorted(self._images)) or "（无）"
            raise ValueError(f"图片「{block.ref}」没有提供；可用: {known}")
        blob = self._images[block.ref]
        if blob not in self._related:
            image = DocxImage.from_blob(blob)
            rid, target = next(self._free_rids), f"media/image{len(self._related) + 1}.{image.ext}"
            self._related[blob] = (rid, image)
            self.parts.append((f"word/{target}", blob))
            self.relationships.append(wordml.image_relationship(rid, target))
            self.content_types.setdefault(image.ext, image.content_type)
        rid, image = self._related[blob]
        cx, cy = image.scaled_dimensions(Mm(CHART_WIDTH_MM), None)
        self._shapes += 1
        return wordml.picture_run(
            shape_id=self._shapes, rid=rid, filename=image.filename, cx=cx, cy=cy, descr=block.text or block.ref
        )


# ---------------------------------------------------------------------------------------------- docx: the 公文 frame


def _type_width() -> int:
    """The width of the type area (版心), in twips."""
    return Emu(PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT).twips


def _type_height() -> int:
    return Emu(PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM).twips


def _head_xml(frame: Frame) -> str:
    """版头: the 发文机关标志 in red 35 mm under the top of the type area, the 发文字号 two lines under it, and the red
    line under the number across the type area."""
    size = _mark_size(frame.mark, _type_width() / 20)
    mark = _text_paragraph(
        frame.mark,
        wordml.justification("center"),
        MARK_FONT,
        size,
        Pt(round(size.pt * 1.25)),
        lead=wordml.keep_next(),
        before=MARK_TOP.twips,
        color=RED,
    )
    rule = wordml.paragraph_borders(wordml.border("bottom", RULE_EIGHTHS, RED, round(RULE_GAP.pt)))
    number = _text_paragraph(
        frame.number,
        wordml.justification("center"),
        lead=wordml.keep_next() + rule,
        before=MARK_GAP_LINES * LINE_SPACING.twips,
    )
    return mark + number


def _mark_size(mark: str, width_pt: float) -> Pt:
    """初号, smaller when the mark would not fit `width_pt` on one line."""
    return Pt(min(MARK_SIZE.pt, math.floor(width_pt / max(text_units(mark), 1))))


def _double_line(first_id: int, y: int, *, thick_first: bool) -> str:
    """A red double line across 170 mm centred on the page, its upper line's middle `y` EMU under the top of the page:
    上粗下细 (`thick_first`) or 上细下粗."""
    x = (PAGE_WIDTH - LETTER_RULE_LENGTH) // 2
    weights = (LETTER_RULE_THICK, LETTER_RULE_THIN) if thick_first else (LETTER_RULE_THIN, LETTER_RULE_THICK)
    return "".join(
        wordml.line_run(
            shape_id=first_id + index,
            x=x,
            y=y + index * LETTER_RULE_PITCH,
            length=LETTER_RULE_LENGTH,
            weight=weight,
            color=RED,
        )
        for index, weight in enumerate(weights)
    )


def _letter_head_xml(frame: Frame) -> str:
    """A 函's 版头 (信函格式, GB/T 9704 §10.1), the header of its first page: the 发文机关标志 in red centred 30 mm from
    the top of the page, a red double line 上粗下细 4 mm under it and one 上细下粗 20 mm above the foot of the page,
    both 170 mm long and centred; the header reaches past the first line so that the text begins under it."""
    size = _mark_size(frame.mark, _type_width() / 20)
    first = LETTER_MARK_TOP + round(size * LETTER_MARK_INK) + LETTER_RULE_GAP
    second = PAGE_HEIGHT - LETTER_RULE_FOOT - LETTER_RULE_PITCH
    lines = _double_line(1, first, thick_first=True) + _double_line(3, second, thick_first=False)
    mark = wordml.paragraph(
        wordml.exact_spacing(size.twips) + wordml.first_line_indent(0) + wordml.justification("center"),
        wordml.run(frame.mark, wordml.run_properties(MARK_FONT, round(size.pt * 2), color=RED)) + lines,
    )
    below = Emu(first + LETTER_RULE_PITCH + LETTER_HEAD_FOOT - LETTER_MARK_TOP - size).twips
    return mark + wordml.paragraph(wordml.exact_spacing(below) + wordml.first_line_indent(0))


def _letter_number_xml(frame: Frame) -> str:
    """A 函's 发文字号, flush right under the first red double line."""
    return _text_paragraph(frame.number, wordml.justification("right"), lead=wordml.keep_next())


def _letter_colophon_xml(frame: Frame) -> str:
    """A 函's 版记: the 抄送 alone, without the 印发机关, the 印发日期 or the lines, at the foot of the type area of its
    last page (GB/T 9704 §10.1)."""
    if not frame.copy_line:
        return ""
    char = COLOPHON_SIZE.twips
    label = round(text_units("抄送：") * char)
    return _text_paragraph(
        frame.copy_line,
        wordml.indent(left=char + label, right=char, hanging=label) + wordml.justification("left"),
        BODY_FONT,
        COLOPHON_SIZE,
        COLOPHON_LINE,
        lead=wordml.bottom_frame(_type_width()),
    )


def _addressee_xml(frame: Frame) -> str:
    """主送机关, one line under the title, flush left."""
    return _text_paragraph(f"{frame.addressee}：", wordml.justification("left")) if frame.addressee else ""


def _attachment_note_xml(titles: list[str]) -> str:
    """附件说明 one line under the text: 附件：1. 名称, each further name aligned with the first."""
    if not titles:
        return ""
    label = "附件："
    numbered = len(titles) > 1
    hang = round(text_units(label) * _CHAR)
    parts = [_blank(wordml.keep_next())]
    for index, title in enumerate(titles, start=1):
        text = f"{index}. {title}" if numbered else title
        indent = wordml.indent(left=INDENT_CHARS * _CHAR + hang, hanging=hang if index == 1 else 0)
        first = label if index == 1 else ""
        parts.append(_text_paragraph(first + text, indent + wordml.justification("left"), lead=wordml.keep_next()))
    return "".join(parts)


def _signature_xml(frame: Frame) -> str:
    """The 发文机关署名 centred over the 成文日期 (右空四字), with room above for the seal, kept with the text and the
    附注; the 附注 （联系人：…，电话：…） two characters in, under the date."""
    keep = wordml.keep_next()
    seal = "".join(_blank(keep) for _ in range(SEAL_LINES))
    date_right = RIGHT_INDENT_CHARS * _CHAR
    offset = (text_units(frame.date_text) - text_units(frame.signature)) / 2 * _CHAR
    signature = _text_paragraph(
        frame.signature,
        wordml.right_indent(max(0, round(date_right + offset))) + wordml.justification("right"),
        lead=keep,
    )
    note = frame.note
    date = _text_paragraph(
        frame.date_text, wordml.right_indent(date_right) + wordml.justification("right"), lead=keep if note else ""
    )
    annex = _text_paragraph(note, _INDENT + wordml.justification("left")) if note else ""
    return seal + signature + date + annex


def _attachment_head_xml(number: int, count: int, title: Block) -> str:
    """An attachment's first page: 附件N on the first line, top left (3号黑体), its title centred on the third."""
    label = "附件" if count == 1 else f"附件{number}"
    head = _text_paragraph(
        label,
        wordml.first_line_indent(0) + wordml.justification("left"),
        ATTACHMENT_FONT,
        lead=wordml.keep_next() + wordml.page_break_before(),
    )
    return head + _blank(wordml.keep_next())


def _colophon_xml(frame: Frame) -> str:
    """版记, the footer of the last even page: 抄送 between a thick and a thin line, then the 印发机关 (左空一字) and the
    印发日期 (右空一字) above the last thick line, which lies on the foot of the type area (GB/T 9704 §7.4)."""
    width = _type_width()
    char = COLOPHON_SIZE.twips
    text_width = width - 2 * char
    rows: list[tuple[str, str]] = []
    if frame.copy_line:
        label = round(text_units("抄送：") * char)
        rows.append((frame.copy_line, wordml.indent(left=label, hanging=label)))
    rows.append((f"{frame.printer or frame.signature}\t{frame.printed_line}", wordml.right_tab(text_width)))
    cells = []
    for index, (text, indent) in enumerate(rows):
        line = _text_paragraph(text, indent + wordml.justification("left"), BODY_FONT, COLOPHON_SIZE, COLOPHON_LINE)
        top = COLOPHON_THICK if index == 0 else 0
        bottom = COLOPHON_THICK if index == len(rows) - 1 else COLOPHON_THIN
        cells.append(wordml.colophon_row(width=width, margin=char, top=top, bottom=bottom, content=line))
    end = wordml.paragraph(wordml.exact_spacing(20))  # a footer ends with a paragraph
    return wordml.colophon_table(width, "".join(cells)) + end


def _split_attachments(blocks: list[Block]) -> tuple[list[Block], list[tuple[Block, list[Block]]]]:
    """The document's own blocks, and each attachment's title with its blocks: a title after the first one begins an
    attachment."""
    main: list[Block] = []
    attachments: list[tuple[Block, list[Block]]] = []
    for block in blocks:
        if block.kind == "title" and (main and any(b.kind == "title" for b in main)):
            attachments.append((block, []))
        elif attachments:
            attachments[-1][1].append(block)
        else:
            main.append(block)
    return main, attachments


def _plain(frame: Frame) -> Frame:
    """The frame with each text on one line and writable: its names come from the records and the policy."""
    values = {name: getattr(frame, name) for name in type(frame).model_fields}
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = _shown(literal(value))
        elif isinstance(value, list):
            values[name] = [_shown(literal(item)) for item in value]
    return Frame(**values)


_INTRODUCTION = 2 * CHARS_PER_LINE  # a text this short before a table or a picture introduces it


def _blocks_xml(blocks: list[Block], media: _Media, skeleton: _Skeleton, *, keep_last: bool = False) -> str:
    """Blocks in a row: a short text that introduces a table or a picture (如下表：) stays on its page; with
    `keep_last` so does the last block with what follows (the signature)."""
    parts = []
    for index, block in enumerate(blocks):
        following = blocks[index + 1].kind if index + 1 < len(blocks) else ""
        introduces = (
            block.kind in ("body", "addressee")
            and following in ("table", "image")
            and text_units(block.text) <= _INTRODUCTION
        )
        parts.append(_block_xml(block, media, skeleton, keep=introduces or (keep_last and not following)))
    return "".join(parts)


def _body_xml(blocks: list[Block], media: _Media, skeleton: _Skeleton, frame: Frame | None) -> str:
    """The body: with a frame, the 版头, the title, the 主送机关, the text, the 附件说明, the signature and 附注, the
    attachments, and the 版记 in a section of its own beginning on an even page; without one, the blocks alone."""
    if frame is None:
        return _blocks_xml(blocks, media, skeleton) + skeleton.section
    main, attachments = _split_attachments(blocks)
    parts = [_letter_number_xml(frame) if frame.letter else _head_xml(frame)]
    if main and main[0].kind == "title":
        parts.append(_block_xml(main[0], media, skeleton, before=TITLE_GAP_LINES * LINE_SPACING.twips))
        parts.append(_addressee_xml(frame))
        main = main[1:]
    parts.append(_blocks_xml(main, media, skeleton, keep_last=True))
    parts.append(_attachment_note_xml([title.text.replace("\n", "") for title, _blocks in attachments]))
    parts.append(_signature_xml(frame))
    for number, (title, content) in enumerate(attachments, start=1):
        parts.append(_attachment_head_xml(number, len(attachments), title))
        parts.append(_blocks_xml([title, *content], media, skeleton))
    if frame.letter:  # 信函格式: the 版头 is the first page's header, the 版记 at the foot of the last page
        return "".join(parts) + _letter_colophon_xml(frame) + skeleton.letter_section
    body = "".join(parts)
    at = body.rindex("</w:pPr>")  # the body's last paragraph ends its section; the 版记's page holds nothing else
    return body[:at] + skeleton.section + body[at:] + wordml.paragraph("") + skeleton.colophon_section


def document_stamp(context: BaseModel) -> dt.datetime:
    """A fixed creation time derived from the context (never now()), so output is reproducible: its frame's date
    (成文日期), else its `issued_on` date if it has one, else 31 December of its `year`."""
    frame = getattr(context, "frame", None)
    issued = frame.dated if isinstance(frame, Frame) else getattr(context, "issued_on", None)
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
    frame: Frame | None = None,
) -> bytes:
    """The bytes of a .docx laid out from markup text; identical input gives identical bytes.

    `images` maps the names used by image lines (`![图题](name)`) to PNG bytes; `frame` makes it a whole 公文."""
    skeleton = _skeleton()
    blocks = parse_markup(markup)
    media = _Media(images or {}, skeleton.used_rids)
    frame = _plain(frame) if frame is not None else None
    body = _body_xml(blocks, media, skeleton, frame)
    document = wordml.check_chars(skeleton.head + body + skeleton.end).encode("utf-8")
    colophon = letter_head = None
    if frame is not None and frame.letter:
        header = skeleton.letter_head_head + _letter_head_xml(frame) + "</w:hdr>"
        letter_head = wordml.check_chars(header).encode("utf-8")
    elif frame is not None:
        footer = skeleton.colophon_head + _colophon_xml(frame) + "</w:ftr>"
        colophon = wordml.check_chars(footer).encode("utf-8")
    first_title = next((b.text for b in blocks if b.kind == "title"), "")
    core = wordml.core_properties(title=title or first_title.replace("\n", ""), author=author, stamp=stamp)
    return wordml.write_zip(skeleton.entries(document, core, media, colophon, letter_head))


def normalize_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed entry timestamps, so the same content gives the same bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        return wordml.write_zip((info.filename, src.read(info.filename)) for info in src.infolist())


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
) -> str:
    """Render a template with its context into an official-format .docx at `path`; returns its sha256.

    The document's author is the context's issuer (发文机关), else its district. `templates_dir` defaults to the
    settings; a worker process is handed the parent's, so that it renders what the parent would."""
    markup = render_text(template_name, context, templates_dir)
    author = next((v for v in (getattr(context, "issuer", ""), getattr(context, "district", "")) if v), "")
    frame = getattr(context, "frame", None)
    data = build_docx(
        markup,
        author=author,
        stamp=document_stamp(context),
        images=context_images(context),
        frame=frame if isinstance(frame, Frame) else None,
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
