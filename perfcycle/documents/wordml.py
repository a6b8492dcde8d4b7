"""WordprocessingML written as text: the body elements, the core properties and the zip of a .docx.

The renderer decides the format; this module spells it, element for element and attribute for attribute as
python-docx serializes the same formatting calls, so a document is the same XML whichever of the two wrote it.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_DOS_DATE = (ZIP_DATE_TIME[0] - 1980) << 9 | ZIP_DATE_TIME[1] << 5 | ZIP_DATE_TIME[2]
_DOS_TIME = ZIP_DATE_TIME[3] << 11 | ZIP_DATE_TIME[4] << 5 | ZIP_DATE_TIME[5] // 2
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_VERSION = 20  # deflate
_UNIX = 3
_MODE = 0o600 << 16
_UTF8_NAME = 0x800
_ZIP64_LIMIT = 0x7FFFFFFF

_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RUN_BREAKS = re.compile("([\t\r\n])")


def check_chars(xml: str) -> str:
    """Refuse the characters XML 1.0 cannot hold, with the error lxml raises for them."""
    if _INVALID.search(xml):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return xml


def text(value: str) -> str:
    """Character data escaped as libxml2 escapes it."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def attr(value: str) -> str:
    """An attribute value escaped as libxml2 escapes it (for double quotes)."""
    return text(value).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


# ---------------------------------------------------------------------------------------------- paragraphs


def exact_spacing(line: int, before: int = 0) -> str:
    """Fixed line height `line` (twips), `before` twips above, nothing after."""
    return f'<w:spacing w:lineRule="exact" w:line="{line}" w:before="{before}" w:after="0"/>'


def single_spacing(before: int) -> str:
    """Single line spacing with `before` twips above, nothing after."""
    return f'<w:spacing w:line="240" w:lineRule="auto" w:before="{before}" w:after="0"/>'


def spacing(*, before: int, after: int) -> str:
    """Space before and after in twips, the line spacing left to the style."""
    return f'<w:spacing w:before="{before}" w:after="{after}"/>'


def first_line_indent(twips: int, chars: int | None = None) -> str:
    """First-line indent in twips, and in hundredths of a character when `chars` is given."""
    in_chars = f' w:firstLineChars="{chars * 100}"' if chars is not None else ""
    return f'<w:ind w:firstLine="{twips}"{in_chars}/>'


def right_indent(twips: int) -> str:
    return f'<w:ind w:right="{twips}"/>'


def justification(value: str) -> str:
    """w:jc: left, center, right or both."""
    return f'<w:jc w:val="{value}"/>'


def outline_level(level: int) -> str:
    return f'<w:outlineLvl w:val="{level}"/>'


def indent(*, left: int = 0, right: int = 0, hanging: int = 0) -> str:
    """Left and right indents and a hanging first line, in twips."""
    hang = f' w:hanging="{hanging}"' if hanging else ""
    return f'<w:ind w:left="{left}" w:right="{right}"{hang}/>'


def keep_next() -> str:
    """w:keepNext: the paragraph stays on the page of the next one (the first of the w:pPr children written here)."""
    return "<w:keepNext/>"


def page_break_before() -> str:
    return "<w:pageBreakBefore/>"


def border(side: str, eighths: int, color: str, space: int = 0) -> str:
    """One single line of a w:pBdr or w:tcBorders: `eighths` of a point thick, `space` points from the text."""
    return f'<w:{side} w:val="single" w:sz="{eighths}" w:space="{space}" w:color="{color}"/>'


def paragraph_borders(*borders: str) -> str:
    return f"<w:pBdr>{''.join(borders)}</w:pBdr>"


def right_tab(position: int) -> str:
    """A right-aligned tab stop `position` twips from the left indent."""
    return f'<w:tabs><w:tab w:val="right" w:pos="{position}"/></w:tabs>'


def paragraph(properties: str, content: str = "") -> str:
    """A w:p with its w:pPr children and its runs."""
    return f"<w:p><w:pPr>{properties}</w:pPr>{content}</w:p>"


def run_properties(font: str, half_points: int, bold: bool = False, color: str = "", scale: int = 0) -> str:
    """w:rPr with the font in every script slot, the size, an explicit weight and, if given, a colour (RRGGBB) and
    a width `scale` in percent of the characters' own."""
    name = attr(font)
    weight = "<w:b/>" if bold else '<w:b w:val="0"/>'
    hue = f'<w:color w:val="{color}"/>' if color else ""
    width = f'<w:w w:val="{scale}"/>' if scale else ""
    return (
        f'<w:rPr><w:rFonts w:ascii="{name}" w:hAnsi="{name}" w:eastAsia="{name}" w:cs="{name}"/>'
        f'{weight}{hue}{width}<w:sz w:val="{half_points}"/></w:rPr>'
    )


def run(value: str, properties: str) -> str:
    """A w:r of text: tabs become w:tab, line breaks w:br, the rest w:t (space-preserving when padded)."""
    if "\t" not in value and "\r" not in value and "\n" not in value:
        return f"<w:r>{properties}{_t(value)}</w:r>"
    pieces = []
    for piece in _RUN_BREAKS.split(value):
        if piece == "\t":
            pieces.append("<w:tab/>")
        elif piece in ("\r", "\n"):
            pieces.append("<w:br/>")
        elif piece:
            pieces.append(_t(piece))
    return f"<w:r>{properties}{''.join(pieces)}</w:r>"


def _t(value: str) -> str:
    if len(value.strip()) < len(value):
        return f'<w:t xml:space="preserve">{text(value)}</w:t>'
    return f"<w:t>{text(value)}</w:t>"


# ---------------------------------------------------------------------------------------------- tables


def table(
    rows: list[list[str]],
    *,
    style_id: str,
    widths: list[int],
    cell_properties: list[str],
    header: str,
    body: str,
    margin: int,
    keep_with_next: bool = False,
) -> str:
    """A centred grid with columns `widths` twips wide (as many as the longest row, rows padded with empty cells) and
    a fixed layout. The first row is the header, repeated on every page; no row is split across pages; cells are
    centred vertically. `cell_properties` are each column's w:pPr children, `header` and `body` the run properties
    of the first row and of the others, `margin` the twips left and right of a cell's text. `keep_with_next` keeps
    the table with what follows it (every row's w:keepNext: Word keeps the last rows with it, LibreOffice the table)."""
    total = sum(widths)
    parts = [
        f'<w:tbl><w:tblPr><w:tblStyle w:val="{attr(style_id)}"/><w:tblW w:type="dxa" w:w="{total}"/>'
        '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/>'
        f'<w:tblCellMar><w:left w:w="{margin}" w:type="dxa"/><w:right w:w="{margin}" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:firstColumn="1" w:firstRow="1" '
        'w:lastColumn="0" w:lastRow="0" w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>',
        "".join(f'<w:gridCol w:w="{width}"/>' for width in widths),
        "</w:tblGrid>",
    ]
    keep = keep_next() if keep_with_next else ""
    for r, values in enumerate(rows):
        properties = header if r == 0 else body
        parts.append("<w:tr><w:trPr><w:cantSplit/>" + ("<w:tblHeader/>" if r == 0 else "") + "</w:trPr>")
        for c, width in enumerate(widths):
            value = values[c] if c < len(values) else ""
            parts.append(
                f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{width}"/><w:vAlign w:val="center"/></w:tcPr>'
                f"<w:p><w:pPr>{keep}{cell_properties[c]}</w:pPr>"
            )
            if value:
                parts.append(run(value, properties))
            parts.append("</w:p></w:tc>")
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    return "".join(parts)


def colophon_row(*, width: int, margin: int, top: int, bottom: int, content: str) -> str:
    """A row of the 版记 across `width` twips: its text `margin` twips in on each side, a line `top` / `bottom`
    eighths of a point thick above and below (0: none), no line at the sides; never split across pages."""
    nil = 'w:val="nil"'
    top_line = border("top", top, "000000") if top else f"<w:top {nil}/>"
    bottom_line = border("bottom", bottom, "000000") if bottom else f"<w:bottom {nil}/>"
    return (
        f'<w:tr><w:trPr><w:cantSplit/></w:trPr><w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{width}"/>'
        f"<w:tcBorders>{top_line}<w:left {nil}/>{bottom_line}<w:right {nil}/></w:tcBorders>"
        f'<w:tcMar><w:top w:w="0" w:type="dxa"/><w:left w:w="{margin}" w:type="dxa"/>'
        f'<w:bottom w:w="0" w:type="dxa"/><w:right w:w="{margin}" w:type="dxa"/></w:tcMar></w:tcPr>'
        f"{content}</w:tc></w:tr>"
    )


def colophon_table(width: int, rows: str) -> str:
    """The 版记's table: one column as wide as the type area, at its left edge."""
    return (
        f'<w:tbl><w:tblPr><w:tblW w:type="dxa" w:w="{width}"/><w:tblInd w:w="0" w:type="dxa"/>'
        '<w:tblLayout w:type="fixed"/><w:tblLook w:firstColumn="0" w:firstRow="0" w:lastColumn="0" w:lastRow="0" '
        f'w:noHBand="1" w:noVBand="1" w:val="0000"/></w:tblPr><w:tblGrid><w:gridCol w:w="{width}"/></w:tblGrid>'
        f"{rows}</w:tbl>"
    )


# ---------------------------------------------------------------------------------------------- pictures

_PICTURE_URI = "http://schemas.openxmlformats.org/drawingml/2006/picture"


def picture_run(*, shape_id: int, rid: str, filename: str, cx: int, cy: int, descr: str) -> str:
    """A w:r holding an inline picture `cx` × `cy` EMU of the image related as `rid`."""
    return (
        '<w:r><w:drawing><wp:inline xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        f'xmlns:pic="{_PICTURE_URI}"><wp:extent cx="{cx}" cy="{cy}"/>'
        f'<wp:docPr id="{shape_id}" name="Picture {shape_id}" descr="{attr(descr)}"/>'
        '<wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr>'
        f'<a:graphic><a:graphicData uri="{_PICTURE_URI}"><pic:pic><pic:nvPicPr>'
        f'<pic:cNvPr id="0" name="{attr(filename)}"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        f'<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"/>'
        "</pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
    )


_SHAPE_URI = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"


def line_run(*, shape_id: int, x: int, y: int, length: int, weight: int, color: str) -> str:
    """A w:r holding a horizontal line `length` EMU long and `weight` EMU thick, its middle `y` EMU under the top of
    the page and its start `x` EMU from the page's left edge, behind the text and taking no room."""
    half = weight // 2
    return (
        '<w:r><w:drawing><wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" '
        f'relativeHeight="{251658240 + shape_id}" behindDoc="1" locked="1" layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/>'
        f'<wp:positionH relativeFrom="page"><wp:posOffset>{x}</wp:posOffset></wp:positionH>'
        f'<wp:positionV relativeFrom="page"><wp:posOffset>{y}</wp:posOffset></wp:positionV>'
        f'<wp:extent cx="{length}" cy="0"/><wp:effectExtent l="0" t="{half}" r="0" b="{half}"/><wp:wrapNone/>'
        f'<wp:docPr id="{shape_id}" name="Line {shape_id}"/><wp:cNvGraphicFramePr/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        f'<a:graphicData uri="{_SHAPE_URI}"><wps:wsp><wps:cNvCnPr/><wps:spPr>'
        f'<a:xfrm><a:off x="0" y="0"/><a:ext cx="{length}" cy="0"/></a:xfrm><a:prstGeom prst="line"><a:avLst/></a:prstGeom>'
        f'<a:ln w="{weight}"><a:solidFill><a:srgbClr val="{color}"/></a:solidFill></a:ln></wps:spPr>'
        "<wps:bodyPr/></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></w:r>"
    )


def bottom_frame(width: int) -> str:
    """w:framePr: the paragraph set `width` twips wide at the foot of the type area, flush left (a 函's 版记)."""
    return (
        f'<w:framePr w:w="{width}" w:wrap="notBeside" w:vAnchor="margin" w:hAnchor="margin" '
        'w:xAlign="left" w:yAlign="bottom"/>'
    )


def image_relationship(rid: str, target: str) -> str:
    return (
        f'<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" '
        f'Target="{attr(target)}"/>'
    )


def default_content_type(extension: str, content_type: str) -> str:
    return f'<Default Extension="{attr(extension)}" ContentType="{attr(content_type)}"/>'


# ---------------------------------------------------------------------------------------------- core properties

XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_CORE_PROPERTY_LIMIT = 255


def core_properties(*, title: str, author: str, stamp: dt.datetime) -> bytes:
    """docProps/core.xml: title, author and last editor, revision 1, created = modified = printed = `stamp`."""
    for value in (title, author):
        if len(value) > _CORE_PROPERTY_LIMIT:
            raise ValueError(f"exceeded {_CORE_PROPERTY_LIMIT} char limit for property, got:\n\n'{value}'")
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f"{XML_DECLARATION}"
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{text(title)}</dc:title><dc:subject/><dc:creator>{text(author)}</dc:creator><cp:keywords/>"
        f"<dc:description></dc:description><cp:lastModifiedBy>{text(author)}</cp:lastModifiedBy>"
        f'<cp:revision>1</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified><cp:category/>'
        f"<cp:lastPrinted>{when}</cp:lastPrinted></cp:coreProperties>"
    )
    return check_chars(xml).encode("utf-8")


# ---------------------------------------------------------------------------------------------- zip


@dataclass(frozen=True)
class Deflated:
    """A part compressed ahead of time: its raw deflate stream, CRC-32 and size."""

    data: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, data: bytes) -> Deflated:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        return cls(compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


def write_zip(entries: Iterable[tuple[str, bytes | Deflated]]) -> bytes:
    """A zip of the entries in order, deflated, dated 1980-01-01 with permissions 0600: the bytes zipfile writes
    for the same entries, without compressing again the parts given `Deflated`."""
    out = bytearray()
    directory = []
    for name, data in entries:
        part = data if isinstance(data, Deflated) else Deflated.of(data)
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), _UTF8_NAME
        offset = len(out)
        if max(offset, part.size, len(part.data)) >= _ZIP64_LIMIT:
            raise ValueError(f"{name}: too large for a zip without Zip64")
        fields = (flags, zipfile.ZIP_DEFLATED, _DOS_TIME, _DOS_DATE, part.crc, len(part.data), part.size, len(encoded))
        out += _LOCAL_HEADER.pack(b"PK\x03\x04", _VERSION, 0, *fields, 0)
        out += encoded
        out += part.data
        directory.append(
            _CENTRAL_HEADER.pack(b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, *fields, 0, 0, 0, 0, _MODE, offset)
        )
        directory.append(encoded)
    start = len(out)
    out += b"".join(directory)
    count = len(directory) // 2
    out += _END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, len(out) - start, start, 0)
    return bytes(out)
