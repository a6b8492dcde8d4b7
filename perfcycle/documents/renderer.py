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
TABLE_SIZE = Pt(12)  # 小4号, so that tables fit the type area
PAGE_NUMBER_SIZE = Pt(14)  # 4号
CAPTION_SIZE = Pt(14)  # 4号, figure captions
LINE_SPACING = Pt(28)
TITLE_LINE_SPACING = Pt(36)
INDENT_CHARS = 2
RIGHT_INDENT_CHARS = 4  # 成文日期右空四字
IMAGE_SPACE_BEFORE = Pt(6)

PAGE_WIDTH = Mm(210)
PAGE_HEIGHT = Mm(297)
MARGIN_TOP = Mm(37)
MARGIN_BOTTOM = Mm(35)
MARGIN_LEFT = Mm(28)
MARGIN_RIGHT = Mm(26)
FOOTER_DISTANCE = Mm(28)

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

    def flush() -> None:
        if body:
            blocks.append(Block("body", _shown("".join(body))))
            body.clear()
        if table:
            blocks.append(Block("table", rows=[[_shown(cell) for cell in row] for row in table]))
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
                blocks.append(Block(kind, _shown(line[len(prefix) :].strip())))
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
    tail: str  # the w:sectPr, </w:body></w:document>
    rels: str
    content_types: str
    media_at: int  # python-docx saves the image parts after the part of the document's last relationship
    used_rids: frozenset[str]
    table_style: str
    block_width: int  # EMU between the margins

    def entries(self, document: bytes, core: bytes, media: _Media) -> list[tuple[str, bytes | wordml.Deflated]]:
        """The parts of one document, the media parts in their place."""
        replaced: dict[str, bytes] = {_DOCUMENT_PART: document, _CORE_PART: core}
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
    document = files[_DOCUMENT_PART].decode("utf-8")
    body = document.index("<w:body>") + len("<w:body>")
    rels = files[_DOCUMENT_RELS].decode("utf-8")
    targets = re.findall(r'<Relationship [^>]*Target="([^"]*)"', rels)
    names = [name for name, _data in parts]
    media_at = names.index(posixpath.normpath(posixpath.join("word", targets[-1]))) + 1
    return _Skeleton(
        parts=tuple((name, wordml.Deflated.of(data)) for name, data in parts),
        head=document[:body],
        tail=document[body:],
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


_INDENT = wordml.first_line_indent(Pt(BODY_SIZE.pt * INDENT_CHARS).twips, INDENT_CHARS)
_BLANK_LINE = wordml.paragraph(wordml.exact_spacing(LINE_SPACING.twips))  # under the title, after a table
_CELL = wordml.spacing(before=0, after=0) + wordml.first_line_indent(0) + wordml.justification("center")
_HEADINGS = {"h1": (HEADING1_FONT, 1), "h2": (HEADING2_FONT, 2), "h3": (BODY_FONT, 3)}


def _text_paragraph(
    text: str, properties: str, font: str = BODY_FONT, size: Pt = BODY_SIZE, line: Pt = LINE_SPACING
) -> str:
    """A paragraph at a fixed line height, its text (if any) in one run of `font` at `size`."""
    content = wordml.run(text, _run_properties(font, size)) if text else ""
    return wordml.paragraph(wordml.exact_spacing(line.twips) + properties, content)


def _block_xml(block: Block, media: _Media, skeleton: _Skeleton) -> str:
    """The WordprocessingML of one block of the markup."""
    if block.kind == "image":
        # Single spacing: a fixed line height would clip the picture.
        centred = wordml.single_spacing(IMAGE_SPACE_BEFORE.twips) + wordml.first_line_indent(0)
        picture = wordml.paragraph(centred + wordml.justification("center"), media.picture_run(block))
        if not block.text:
            return picture
        return picture + _text_paragraph(block.text, wordml.justification("center"), size=CAPTION_SIZE)
    if block.kind == "title":
        centred = wordml.justification("center") + wordml.outline_level(0)
        return _text_paragraph(block.text, centred, TITLE_FONT, TITLE_SIZE, TITLE_LINE_SPACING) + _BLANK_LINE
    if block.kind in _HEADINGS:
        font, level = _HEADINGS[block.kind]
        return _text_paragraph(block.text, _INDENT + wordml.justification("both") + wordml.outline_level(level), font)
    if block.kind == "addressee":
        return _text_paragraph(block.text, wordml.justification("left"))
    if block.kind == "right":
        indent = wordml.right_indent(Pt(BODY_SIZE.pt * RIGHT_INDENT_CHARS).twips)
        return _text_paragraph(block.text, indent + wordml.justification("right"))
    if block.kind == "table":
        return _table_xml(block.rows, skeleton) + _BLANK_LINE  # two tables never merge, body text keeps its distance
    return _text_paragraph(block.text, _INDENT + wordml.justification("both"))


def _table_xml(rows: list[list[str]], skeleton: _Skeleton) -> str:
    """A centred Table Grid table sharing the type area evenly; 小4号 text centred in the cells, the header bold."""
    return wordml.table(
        rows,
        style_id=skeleton.table_style,
        col_width=Emu(skeleton.block_width // max(len(r) for r in rows)).twips,
        cell_properties=_CELL,
        header=_run_properties(BODY_FONT, TABLE_SIZE, bold=True),
        body=_run_properties(BODY_FONT, TABLE_SIZE),
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
    skeleton = _skeleton()
    blocks = parse_markup(markup)
    media = _Media(images or {}, skeleton.used_rids)
    body = "".join([_block_xml(block, media, skeleton) for block in blocks])
    document = wordml.check_chars(skeleton.head + body + skeleton.tail).encode("utf-8")
    core = wordml.core_properties(
        title=title or next((b.text for b in blocks if b.kind == "title"), ""), author=author, stamp=stamp
    )
    return wordml.write_zip(skeleton.entries(document, core, media))


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
