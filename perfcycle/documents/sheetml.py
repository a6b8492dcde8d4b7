"""Workbooks written straight as SpreadsheetML text: cells, styles by id, zipped once with fixed timestamps.

The generated workbooks are many (one per department) or large; openpyxl's object model and its save cost
far more than the text they come to. Only the style sheet is left to openpyxl, built once per process."""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill
from openpyxl.styles.stylesheet import write_stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.writer.theme import theme_xml
from openpyxl.xml.functions import tostring

from perfcycle.workbooks.ooxml import cell_text
from perfcycle.workbooks.printing import A4, MARGINS, PageSetup, landscape

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
MAX_TEXT = 32767  # Excel's longest cell text; openpyxl cuts there too
EMU_PER_PIXEL = 9525

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
CT = "application/vnd.openxmlformats-officedocument."
EXTENDED_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
#: Content type of each kind of part, by the start of its name.
PART_TYPES = (
    ("xl/workbook.xml", CT + "spreadsheetml.sheet.main+xml"),
    ("xl/styles.xml", CT + "spreadsheetml.styles+xml"),
    ("xl/theme/", CT + "theme+xml"),
    ("xl/worksheets/sheet", CT + "spreadsheetml.worksheet+xml"),
    ("xl/drawings/drawing", CT + "drawing+xml"),
    ("docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
    ("docProps/app.xml", CT + "extended-properties+xml"),
)
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

PAGE_MARGINS = "<pageMargins " + " ".join(f'{side}="{inches:g}"' for side, inches in MARGINS.items()) + "/>"
SHEET_FORMAT = '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'

_LETTERS = [""] + [get_column_letter(i) for i in range(1, 703)]  # A … ZZ
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
)


def escape(text: str) -> str:
    """Element text, with the characters XML would otherwise eat (`&`, `<`, `>`, carriage returns)."""
    if "&" in text or "<" in text or ">" in text or "\r" in text:  # translate() is slow even with nothing to do
        return text.translate(_TEXT_ESCAPES)
    return text


def attribute(text: str) -> str:
    """An attribute value in double quotes (line breaks and tabs kept as character references)."""
    return text.translate(_ATTRIBUTE_ESCAPES)


class Formula(str):
    """A cell formula, without its leading `=` (plain text starting with `=` stays text)."""

    __slots__ = ()


@dataclass(frozen=True)
class Calculated:
    """A formula with the value it comes to, stored with it: a reader that does not calculate sees the value."""

    formula: str
    value: int | Decimal


@dataclass(frozen=True)
class CellStyle:
    """A cell's look in openpyxl's terms; `Stylesheet` turns a set of them into styles.xml and `s=` ids."""

    font: Font | None = None
    fill: PatternFill | None = None
    border: Border | None = None
    alignment: Alignment | None = None
    number_format: str = "General"


class Stylesheet:
    """styles.xml holding named cell styles, and the cellXfs id of each, as openpyxl writes them."""

    def __init__(self, styles: Mapping[str, CellStyle]) -> None:
        workbook = Workbook()
        ws = workbook.active
        assert ws is not None
        ids: dict[str, int] = {}
        for row, (name, style) in enumerate(styles.items(), start=1):
            cell = ws.cell(row=row, column=1)
            if style.font is not None:
                cell.font = style.font
            if style.fill is not None:
                cell.fill = style.fill
            if style.border is not None:
                cell.border = style.border
            if style.alignment is not None:
                cell.alignment = style.alignment
            cell.number_format = style.number_format
            ids[name] = cell.style_id
        self.ids = ids
        self.xml: bytes = tostring(write_stylesheet(workbook))

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


def _number(value: int | float | Decimal) -> str:
    """The shortest exact text of a number: equal numbers give equal bytes (12.50 and 12.5000 alike), a Decimal
    never goes through float and a whole one reads back as an int; empty for NaN and infinities."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return ""
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


@lru_cache(maxsize=4096)
def _inline(value: str) -> str:
    """The rest of a text cell after its reference and style (codes and choices recur on every row): always
    text, never a formula, shown by Excel exactly as given (see `perfcycle.workbooks.ooxml`)."""
    text = cell_text(value[:MAX_TEXT])
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f' t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def _cell(ref: str, value: object, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, Formula):
        return f'<c r="{ref}"{s}><f>{escape(value)}</f></c>'
    if isinstance(value, Calculated):
        return f'<c r="{ref}"{s}><f>{escape(value.formula)}</f><v>{_number(value.value)}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}"{s}{_inline(value)}'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{s}><v>{_number(value)}</v></c>'
    raise TypeError(f"cannot write a {type(value).__name__} to a cell")


@dataclass(frozen=True)
class Picture:
    """A PNG shown at `width` × `height` pixels with its top-left corner at column A of `row`."""

    png: bytes
    row: int
    width: int
    height: int


def png_size(png: bytes) -> tuple[int, int]:
    """Pixel width and height of a PNG, from its header chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


class Sheet:
    """One worksheet, written row by row from the top (rows may be skipped, never revisited).

    Printed, it fits the page's width (landscape when its columns are wide), its `frozen_rows` (the title and
    header rows) repeat at the top of every page."""

    def __init__(self, name: str, widths: Sequence[float] = (), *, frozen_rows: int = 0) -> None:
        self.name = name
        self.widths = tuple(widths)
        self.frozen_rows = frozen_rows
        self.last_row = 0
        self.last_column = 0
        self.picture: Picture | None = None
        self._rows: list[str] = []
        self._merged: list[str] = []
        self._validations: list[str] = []

    def append(self, values: Sequence[object], styles: int | Sequence[int] = 0, *, height: float | None = None) -> int:
        """Write the next row (one style id for every cell, or one per cell); returns its number."""
        self.last_row = r = self.last_row + 1
        if isinstance(styles, int):
            styles = [styles] * len(values)
        row = f'<row r="{r}" ht="{height:g}" customHeight="1">' if height is not None else f'<row r="{r}">'
        cells = [_cell(f"{_LETTERS[c]}{r}", v, s) for c, (v, s) in enumerate(zip(values, styles, strict=True), 1)]
        self._rows.append(row + "".join(cells) + "</row>")
        self.last_column = max(self.last_column, len(values))
        return r

    def skip(self, rows: int = 1) -> None:
        """Leave rows empty."""
        self.last_row += rows

    def merge(self, row: int, first_column: int, last_column: int) -> None:
        """Merge cells of one row."""
        self._merged.append(f'<mergeCell ref="{_LETTERS[first_column]}{row}:{_LETTERS[last_column]}{row}"/>')

    def list_validation(self, sqref: str, formula: str, *, allow_blank: bool, error: str, error_title: str) -> None:
        """A drop-down list on `sqref` that refuses anything else, with the given error box."""
        self._validations.append(
            f'<dataValidation type="list" allowBlank="{int(allow_blank)}" showErrorMessage="1"'
            f' errorTitle="{attribute(error_title)}" error="{attribute(error)}" sqref="{sqref}">'
            f"<formula1>{escape(formula)}</formula1></dataValidation>"
        )

    @property
    def landscape(self) -> bool:
        return landscape(self.widths)

    def xml(self, page: PageSetup | None = None) -> str:
        """The worksheet part, set up to print when `page` is given."""
        last = f"{_LETTERS[max(self.last_column, 1)]}{max(self.last_row, 1)}"
        if self.frozen_rows:
            top = f"A{self.frozen_rows + 1}"
            view = (
                f'<pane ySplit="{self.frozen_rows}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A1" sqref="A1"/>'
            )
        else:
            view = '<selection activeCell="A1" sqref="A1"/>'
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>' for i, w in enumerate(self.widths, 1)
        )
        parts = [
            XML_DECLARATION,
            f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">',
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>' if page is not None else "",
            f'<dimension ref="A1:{last}"/>',
            f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>',
            SHEET_FORMAT,
            f"<cols>{cols}</cols>" if cols else "",
            "<sheetData>",
            *self._rows,
            "</sheetData>",
        ]
        if self._merged:
            parts.append(f'<mergeCells count="{len(self._merged)}">{"".join(self._merged)}</mergeCells>')
        if self._validations:
            parts.append(
                f'<dataValidations count="{len(self._validations)}">{"".join(self._validations)}</dataValidations>'
            )
        if page is not None:
            parts.append('<printOptions horizontalCentered="1"/>')
        parts.append(PAGE_MARGINS)
        if page is not None:
            orientation = "landscape" if self.landscape else "portrait"
            parts.append(f'<pageSetup paperSize="{A4}" orientation="{orientation}" fitToWidth="1" fitToHeight="0"/>')
            parts.append(page.header_footer())
        if self.picture is not None:
            parts.append('<drawing r:id="rId1"/>')
        parts.append("</worksheet>")
        return "".join(parts)


def _drawing(picture: Picture) -> str:
    """The drawing part holding one picture, anchored by its top-left cell and sized in EMU."""
    return (
        f'{XML_DECLARATION}<xdr:wsDr xmlns:xdr="{DRAWING_NS}" xmlns:a="{A_NS}" xmlns:r="{REL_NS}">'
        f"<xdr:oneCellAnchor><xdr:from><xdr:col>0</xdr:col><xdr:colOff>0</xdr:colOff>"
        f"<xdr:row>{picture.row - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
        f'<xdr:ext cx="{picture.width * EMU_PER_PIXEL}" cy="{picture.height * EMU_PER_PIXEL}"/>'
        '<xdr:pic><xdr:nvPicPr><xdr:cNvPr id="1" name="Image 1" descr="Picture"/><xdr:cNvPicPr/></xdr:nvPicPr>'
        '<xdr:blipFill><a:blip r:embed="rId1" cstate="print"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>'
        '<xdr:spPr><a:prstGeom prst="rect"/></xdr:spPr></xdr:pic><xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>'
    )


def _relationships(targets: Sequence[tuple[str, str]]) -> str:
    """A .rels part: (type, target) pairs numbered rId1, rId2, …; a type without a scheme is an office one."""
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{kind if "://" in kind else f"{REL_NS}/{kind}"}" Target="{target}"/>'
        for i, (kind, target) in enumerate(targets, 1)
    )
    return f'{XML_DECLARATION}<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'


def _content_types(names: Sequence[str]) -> str:
    """[Content_Types].xml of a package holding the parts `names`."""
    overrides = "".join(
        f'<Override PartName="/{name}" ContentType="{kind}"/>'
        for name in names
        for prefix, kind in PART_TYPES
        if name.startswith(prefix)
    )
    return (
        f'{XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>'
        f'<Default Extension="png" ContentType="image/png"/>{overrides}</Types>'
    )


def _workbook(sheets: Sequence[Sheet], printed: bool = False) -> str:
    names = "".join(
        f'<sheet name="{attribute(sheet.name)}" sheetId="{i}" r:id="rId{i}"/>' for i, sheet in enumerate(sheets, 1)
    )
    # Each printed sheet's title rows: the rows frozen at its top repeat on every page.
    titles = "".join(
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        f"{escape(_quote(sheet.name))}!$1:${sheet.frozen_rows}</definedName>"
        for i, sheet in enumerate(sheets)
        if printed and sheet.frozen_rows
    )
    defined = f"<definedNames>{titles}</definedNames>" if titles else ""
    # fullCalcOnLoad: the formulas are written without cached values.
    return (
        f'{XML_DECLARATION}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><workbookPr/>'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{names}</sheets>{defined}'
        '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


def _quote(sheet: str) -> str:
    """A sheet's name as a formula names it: in single quotes, its own quotes doubled."""
    return "'" + sheet.replace("'", "''") + "'"


def _properties(stamp: dt.datetime, author: str) -> tuple[str, str]:
    """docProps/core.xml (author and dates) and docProps/app.xml."""
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (
        f"{XML_DECLARATION}<cp:coreProperties"
        ' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{escape(author)}</dc:creator><cp:lastModifiedBy>{escape(author)}</cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>'
    )
    app = f'{XML_DECLARATION}<Properties xmlns="{EXTENDED_NS}"><Application>{escape(author)}</Application></Properties>'
    return core, app


def xlsx(
    sheets: Sequence[Sheet], styles: Stylesheet, stamp: dt.datetime, author: str, page: PageSetup | None = None
) -> bytes:
    """The whole .xlsx package: same sheets, styles, stamp, author and page setup → same bytes. With `page`, every
    sheet prints (fit to the page's width, its title rows repeated, page numbers, the header naming it)."""
    parts: list[tuple[str, str | bytes]] = []
    pictures = 0
    for index, sheet in enumerate(sheets, 1):
        parts.append((f"xl/worksheets/sheet{index}.xml", sheet.xml(page)))
        if sheet.picture is not None:
            pictures += 1
            drawing, image = f"xl/drawings/drawing{pictures}.xml", f"xl/media/image{pictures}.png"
            parts += [
                (f"xl/worksheets/_rels/sheet{index}.xml.rels", _relationships([("drawing", "/" + drawing)])),
                (drawing, _drawing(sheet.picture)),
                (f"xl/drawings/_rels/drawing{pictures}.xml.rels", _relationships([("image", "/" + image)])),
                (image, sheet.picture.png),
            ]
    core, app = _properties(stamp, author)
    workbook_rels = [("worksheet", f"/xl/worksheets/sheet{i}.xml") for i in range(1, len(sheets) + 1)]
    workbook_rels += [("styles", "/xl/styles.xml"), ("theme", "/xl/theme/theme1.xml")]
    package_rels = [
        ("officeDocument", "xl/workbook.xml"),
        (f"{PKG_REL_NS}/metadata/core-properties", "docProps/core.xml"),
        ("extended-properties", "docProps/app.xml"),
    ]
    parts = [
        ("_rels/.rels", _relationships(package_rels)),
        ("docProps/app.xml", app),
        ("docProps/core.xml", core),
        ("xl/workbook.xml", _workbook(sheets, printed=page is not None)),
        ("xl/_rels/workbook.xml.rels", _relationships(workbook_rels)),
        ("xl/styles.xml", styles.xml),
        ("xl/theme/theme1.xml", theme_xml),
        *parts,
    ]
    return _zip([("[Content_Types].xml", _content_types([name for name, _ in parts])), *parts])


def _zip(parts: Sequence[tuple[str, str | bytes]]) -> bytes:
    """Deflated entries in the given order, each dated 1980-01-01 with fixed permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            entry = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            archive.writestr(entry, data)
    return buffer.getvalue()
