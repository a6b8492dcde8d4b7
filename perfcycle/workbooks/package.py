"""The checks an .xlsx passes before any cell of it is read: its zip, its XML parts and the layout of its sheets.

The cells themselves are read by python-calamine (`perfcycle.workbooks.reader`). What calamine would take on
trust is checked here first, each refusal one sentence a department can act on:

- the container: an OOXML zip, unencrypted, no two entries with the same part name (part names compare without
  case, as the packaging standard says), the archive's declared sizes and compression ratios within the policy,
  and every entry inflating to exactly its declared size and CRC (inflated piece by piece, never beyond);
- every XML part: UTF-8 and without a DTD (the packaging standard makes a DTD an error);
- each worksheet calamine will read: its cells in reading order (no row or cell before one already seen, so no
  cell twice), inside Excel's grid and the policy's rows and columns, before calamine lays the sheet out in
  memory; and what calamine would read without a word (formulas, error values, an invalid shared-string
  index) or without its number format (percent and date styles) is noted by cell.

Everything is read from the bytes in memory, a piece of at most `PIECE` bytes inflated at a time.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
MB = 1024 * 1024
RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked are never a bomb, however well they compress
PIECE = 4 * MB  # inflated at a time
WHOLE_PART_LIMIT = 64 * MB  # the workbook, relationship and style parts are parsed whole: no real one is this large
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384

_WORKBOOK_REL = "/officeDocument"
_BOOK = "xl/workbook.xml"
_USUAL_PARTS = {"sharedStrings": "xl/sharedStrings.xml", "styles": "xl/styles.xml"}  # by relationship type
_WORKSHEET_REL = "/worksheet"

DAMAGED = "文件已损坏"
RESAVE = "请用 Excel 或 WPS 打开后重新保存为 .xlsx 再提交"


class Refused(Exception):
    """The workbook cannot be read as it is; `reason` says why, `sheet`/`row`/`column` where, when known."""

    def __init__(self, reason: str, sheet: str | None = None, row: int | None = None, column: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.sheet = sheet
        self.row = row
        self.column = column


@dataclass(frozen=True)
class Limits:
    """The policy's limits that bound a workbook's reading (see `perfcycle.policy.ImportsPolicy`)."""

    max_rows: int
    max_columns: int
    max_uncompressed_bytes: int
    max_compression_ratio: int


@dataclass(frozen=True)
class Sheet:
    """One sheet the workbook lists, in its order; `part` is None for a sheet that is not a worksheet."""

    name: str
    part: str | None


@dataclass
class Layout:
    """What the scan of a worksheet found that calamine's values do not say, by (row, column), both from 1.

    `percent` and `dates` are the cells whose number format is a percentage or a date; `errors` maps error cells
    to their text (#DIV/0!)."""

    formulas: set[tuple[int, int]] = field(default_factory=set)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    percent: set[tuple[int, int]] = field(default_factory=set)
    dates: set[tuple[int, int]] = field(default_factory=set)


def column_letters(number: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


# ------------------------------------------------------------------------------------------ the container


def _ole_problem(data: bytes) -> str:
    """What an OLE compound file (the pre-2007 container) most likely is, from its stream names."""

    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    if has("EncryptedPackage") or has("EncryptionInfo"):
        return (
            "工作簿设置了打开密码（已加密），系统无法读取；请在 Excel 中“文件 → 信息 → 保护工作簿 → 用密码进行加密”"
            "清空密码，保存为 .xlsx 后再提交"
        )
    if has("Workbook") or has("Book"):
        return (
            "这是旧版 Excel 97-2003 工作簿（.xls），只是扩展名改成了 .xlsx；请在 Excel 或 WPS 中“另存为” .xlsx 后再提交"
        )
    if has("WordDocument"):
        return "这是旧版 Word 文档（.doc），不是 Excel 工作簿；请提交 .xlsx 格式的工作簿"
    return "这是旧版 .xls 文件（或其他旧版 Office 文件）或设置了打开密码的工作簿；请在 Excel 中取消密码并“另存为” .xlsx 后再提交"


class Package:
    """An .xlsx archive whose directory passed the checks; its parts are verified as they are inflated."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        if data.startswith(OLE_MAGIC):
            raise Refused(_ole_problem(data))
        if not data.startswith(ZIP_MAGIC):
            raise Refused("不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 打开后“另存为” .xlsx")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
            raise Refused(f"{DAMAGED}（不是完整的 .xlsx 压缩包）；请重新保存后再提交") from None
        self.data = data
        self.limits = limits
        self.entries = {info.filename: info for info in infos}
        self._check_directory(infos)
        self.verified: set[str] = set()
        self.sheets = self._read_sheets()
        self.shared_strings = self._count_shared_strings()
        self.styles = _Styles(*self._read_styles())

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        names = [info.filename for info in infos]
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
            hint = "（像是 Word 文档）" if any(n.startswith("word/") for n in names) else ""
            raise Refused(f"不是 Excel 工作簿（.xlsx）{hint}；请提交 .xlsx 格式的工作簿")
        if any(info.flag_bits & 0x1 for info in infos):
            raise Refused("文件是加了密码的压缩包，无法读取；请提交未加密的 .xlsx 工作簿")
        seen: dict[str, str] = {}
        for name in names:
            key = name.replace("\\", "/").lstrip("/").casefold()
            if key in seen:
                both = f"「{name}」" if seen[key] == name else f"「{seen[key]}」和「{name}」（名称只差大小写）"
                raise Refused(f"{DAMAGED}：压缩包中有两个同名部件{both}，无法确定该读哪一个；{RESAVE}")
            seen[key] = name
        limits = self.limits
        total = sum(info.file_size for info in infos)
        if total > limits.max_uncompressed_bytes:
            raise Refused(
                f"工作簿解压后共 {total / MB:,.0f} MB，超过上限 {limits.max_uncompressed_bytes / MB:,.0f} MB"
                "（可能是“压缩炸弹”），拒绝读取"
            )
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > limits.max_compression_ratio:
                raise Refused(
                    f"压缩包中的「{info.filename}」解压后 {info.file_size / MB:,.0f} MB，是压缩后的 {ratio:,.0f} 倍"
                    f"（上限 {limits.max_compression_ratio} 倍），像是“压缩炸弹”，拒绝读取"
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Refused(f"压缩包中的「{info.filename}」使用了不支持的压缩方式；{RESAVE}")

    # ---------------------------------------------------------------------------------------- inflating

    def pieces(self, name: str) -> Iterator[bytes]:
        """The inflated bytes of a part, piece by piece; refused as soon as it inflates to more (or, at its
        end, to less or to other bytes) than its directory entry declares."""
        info = self.entries[name]
        start = info.header_offset
        header = self.data[start : start + 30]
        if len(header) < 30 or header[:4] != ZIP_MAGIC:
            raise Refused(f"{DAMAGED}：压缩包中的「{name}」找不到；{RESAVE}")
        flags, method = struct.unpack("<HH", header[6:10])
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        local = self.data[start + 30 : start + 30 + name_length]
        encoding = "utf-8" if flags & 0x800 else "cp437"
        if method != info.compress_type or local.decode(encoding, "replace") != info.orig_filename:
            raise Refused(f"{DAMAGED}：压缩包中「{name}」的两处记录不一致；{RESAVE}")
        begin = start + 30 + name_length + extra_length
        packed = memoryview(self.data)[begin : begin + info.compress_size]
        if len(packed) != info.compress_size:
            raise Refused(f"{DAMAGED}：压缩包中的「{name}」不完整；{RESAVE}")
        left = info.file_size
        crc = 0
        lying = f"{DAMAGED}：压缩包中的「{name}」解压后与声明的大小不符（{info.file_size:,} 字节），拒绝读取"
        if info.compress_type == zipfile.ZIP_STORED:
            for at in range(0, len(packed), PIECE):
                piece = bytes(packed[at : at + PIECE])
                crc = zlib.crc32(piece, crc)
                yield piece
            left = 0
        else:
            inflater = zlib.decompressobj(-15)
            pending: bytes | memoryview = packed
            try:
                while not inflater.eof:
                    piece = inflater.decompress(pending, min(PIECE, left + 1))
                    pending = inflater.unconsumed_tail
                    if len(piece) > left:
                        raise Refused(lying)
                    left -= len(piece)
                    crc = zlib.crc32(piece, crc)
                    if piece:
                        yield piece
                    elif not pending:
                        break
            except zlib.error:
                raise Refused(f"{DAMAGED}：压缩包中的「{name}」无法解压；{RESAVE}") from None
            if not inflater.eof:
                raise Refused(f"{DAMAGED}：压缩包中的「{name}」不完整；{RESAVE}")
        if left or crc != info.CRC:
            raise Refused(lying if left else f"{DAMAGED}：压缩包中的「{name}」校验失败（CRC）；{RESAVE}")
        self.verified.add(name)

    def xml_pieces(self, name: str) -> Iterator[bytes]:
        """`pieces` of an XML part, refused when it is not UTF-8 or carries a DTD."""
        tail = b""
        first = True
        for piece in self.pieces(name):
            if first:
                first = False
                if piece.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
                    raise Refused(f"工作簿的部件「{name}」不是 UTF-8 编码；{RESAVE}")
            if b"<!DOCTYPE" in tail + piece[:16] or b"<!DOCTYPE" in piece:
                raise Refused(f"工作簿的部件「{name}」含有 DTD（<!DOCTYPE>），按 Office 文件格式标准不予读取；{RESAVE}")
            tail = piece[-16:]
            yield piece

    def whole(self, name: str) -> bytes:
        """A small XML part, whole (workbook, relationships, styles)."""
        info = self.entries[name]
        if info.file_size > WHOLE_PART_LIMIT:
            raise Refused(f"工作簿的部件「{name}」解压后 {info.file_size / MB:,.0f} MB，不像是正常的工作簿；{RESAVE}")
        return b"".join(self.xml_pieces(name))

    def verify_rest(self, skip: set[str]) -> None:
        """Inflate and check every part not read yet but those in `skip` (the worksheets `scan` will read):
        calamine must find nothing the checks have not seen."""
        for name in self.entries:
            if name in self.verified or name in skip:
                continue
            if name.endswith((".xml", ".rels", ".vml")):
                for _ in self.xml_pieces(name):
                    pass
            else:
                for _ in self.pieces(name):
                    pass

    # ----------------------------------------------------------------------------------- the workbook

    def _parsed(self, name: str, parse: Callable[[bytes], Any]) -> Any:
        try:
            return parse(self.whole(name))
        except ElementTree.ParseError:
            raise Refused(f"无法读取工作簿（部件「{name}」不是完整的 XML）；{RESAVE}") from None

    def _targets(self, rels_name: str, base: str) -> dict[str, tuple[str, str]]:
        """Id → (relationship type, part name) of a relationships part."""
        if rels_name not in self.entries:
            return {}
        return {
            rel_id: (kind, target.lstrip("/") if target.startswith("/") else base + target)
            for rel_id, kind, target in self._parsed(rels_name, _relationships)
        }

    def _read_sheets(self) -> list[Sheet]:
        """The sheets the workbook lists; its parts must be where calamine reads them (the usual places)."""
        for kind, part in self._targets("_rels/.rels", "").values():
            if kind.endswith(_WORKBOOK_REL) and part != _BOOK:
                raise Refused(f"工作簿的部件位置不常见（{part}），无法确认读到的就是 Excel 显示的；{RESAVE}")
        if _BOOK not in self.entries:
            raise Refused(f"{DAMAGED}：找不到工作簿部件「{_BOOK}」；{RESAVE}")
        listed = self._parsed(_BOOK, _sheet_list)
        rels = self._targets("xl/_rels/workbook.xml.rels", "xl/")
        for kind, part in rels.values():
            usual = _USUAL_PARTS.get(kind.rpartition("/")[2])
            if usual is not None and part != usual:
                raise Refused(f"工作簿的部件位置不常见（{part}），无法确认读到的就是 Excel 显示的；{RESAVE}")
        sheets: list[Sheet] = []
        for name, rel_id in listed:
            kind, part = rels.get(rel_id, ("", ""))
            if not kind.endswith(_WORKSHEET_REL):
                sheets.append(Sheet(name, None))
            elif part not in self.entries:
                raise Refused(f"{DAMAGED}：工作表「{name}」的内容（{part or '无'}）不在文件中；{RESAVE}", name)
            else:
                sheets.append(Sheet(name, part))
        return sheets

    def _count_shared_strings(self) -> int:
        name = _USUAL_PARTS["sharedStrings"]
        if name not in self.entries:
            return 0
        most = self.limits.max_rows * self.limits.max_columns  # as many as the cells a workbook may fill
        count = 0
        for piece in self._tag_pieces(name):
            count += piece.count(b"<si>") + piece.count(b"<si ") + piece.count(b":si>") + piece.count(b":si ")
            if count > most:
                raise Refused(
                    f"共享字符串表有 {most:,} 个以上的条目，多于工作簿能填的单元格"
                    f"（{self.limits.max_rows:,} 行 × {self.limits.max_columns} 列），拒绝读取"
                )
        return count

    def _read_styles(self) -> tuple[frozenset[int], frozenset[int]]:
        name = _USUAL_PARTS["styles"]
        if name not in self.entries:
            return frozenset(), frozenset()
        return self._parsed(name, _number_styles)

    # ------------------------------------------------------------------------------------ worksheets

    def scan(self, sheet: Sheet, rows: int) -> Layout:
        """The layout of a worksheet, refused on the first cell calamine could read otherwise than Excel shows
        it, or beyond the limits; no content below data row `rows` (what is left of the workbook's allowance)."""
        assert sheet.part is not None
        return _Scanner(sheet.name, self.limits, rows, self.shared_strings, self.styles).scan(
            self._tag_pieces(sheet.part)
        )

    def _tag_pieces(self, name: str) -> Iterator[bytes]:
        """`xml_pieces` cut after a '>', so that no tag is split between two pieces."""
        carry = b""
        for piece in self.xml_pieces(name):
            joined = carry + piece
            cut = joined.rfind(b">") + 1
            carry = joined[cut:]
            if cut:
                yield joined[:cut]
        if carry.strip():
            yield carry


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# The parts a workbook's sheets and styles are read from: the files of a stage mostly share them.


@functools.lru_cache(maxsize=32)
def _relationships(raw: bytes) -> tuple[tuple[str, str, str], ...]:
    """(Id, type, target) of the internal relationships of a relationships part."""
    return tuple(
        (rel.get("Id", ""), rel.get("Type", ""), rel.get("Target", ""))
        for rel in ElementTree.fromstring(raw)
        if _local(rel.tag) == "Relationship" and rel.get("TargetMode") != "External"
    )


@functools.lru_cache(maxsize=32)
def _sheet_list(raw: bytes) -> tuple[tuple[str, str], ...]:
    """(name, relationship Id) of each sheet a workbook part lists, in its order."""
    return tuple(
        (element.get("name", ""), next((v for k, v in element.attrib.items() if _local(k) == "id"), ""))
        for element in ElementTree.fromstring(raw).iter()
        if _local(element.tag) == "sheet"
    )


@functools.lru_cache(maxsize=32)
def _number_styles(raw: bytes) -> tuple[frozenset[int], frozenset[int]]:
    """The cell styles whose number format is a percentage, and those whose format is a date."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    custom = {}
    xfs: list[ElementTree.Element] = []
    for element in ElementTree.fromstring(raw):
        if _local(element.tag) == "numFmts":
            custom = {fmt.get("numFmtId", ""): fmt.get("formatCode", "") for fmt in element}
        elif _local(element.tag) == "cellXfs":
            xfs = [xf for xf in element if _local(xf.tag) == "xf"]
    percent, dates = set(), set()
    for index, xf in enumerate(xfs):
        number = xf.get("numFmtId", "0")
        code = custom.get(number) or (BUILTIN_FORMATS.get(int(number), "") if number.isdigit() else "")
        if "%" in code:
            percent.add(index)
        elif is_date_format(code):
            dates.add(index)
    return frozenset(percent), frozenset(dates)


# ------------------------------------------------------------------------------------- the sheet scan
#
# Inside sheetData, spreadsheet programs write <c r="A1" …> with the reference first, attributes in double
# quotes, values in <v> or inline strings, and no prefixes, comments or processing instructions. That is what
# the scan reads, by regular expressions over each piece (the cells' places, in one pass); a sheet written
# otherwise is refused, saying how to make it readable.

_CELLS = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"|<(?:[!?]|c[\s/>])')  # the others give ('', '')
_CELLS_EMPTY = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"[^>]*?(/?)>|<(?:[!?]|c[\s/>])')
_ODD = re.compile(rb'<(?:[!?]|c(?:[>/]|\s(?!r="[A-Z]{1,3}[1-9][0-9]{0,6}")))[^>]{0,60}')
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:c|row|v|f|is|sheetData)[\s/>]")
_FORMULA = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*>\s*<f[\s/>]')
_ERROR = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*\st="e"[^>]*>\s*(?:<f[^>]*>[^<]*</f>\s*)?(?:<v>([^<]*)</v>)?')
_SHARED = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*\st="s"(?:[^>]*[^>/])?>\s*(?:<f[^>]*>[^<]*</f>\s*)?<v>([^<]*)</v>')
_BAD_SHARED = re.compile(rb't="s"(?:[^>]*[^>/])?>(?!<v>[0-9]{1,9}</v>|</c>)')


class RowLimit(Refused):
    """A sheet with content below the rows the workbook's allowance has left."""


class _Beyond(Exception):
    """A cell beyond the limits: whether it has content decides."""


class _Scanner:
    def __init__(self, sheet: str, limits: Limits, rows: int, shared: int, styles: _Styles) -> None:
        self.sheet = sheet
        self.limits = limits
        self.max_row = min(rows + 1, EXCEL_ROWS)  # a sheet's last row with content: the header and `rows`
        self.max_column = min(limits.max_columns, EXCEL_COLUMNS)
        self.shared = shared
        self.styles = styles
        self.layout = Layout()
        self.row = 0  # the place of the last cell met
        self.column = 0
        self.columns: dict[bytes, int] = {}

    def _refuse(self, reason: str, row: int | None = None) -> Refused:
        return Refused(f"{reason}；{RESAVE}", self.sheet, row)

    def scan(self, pieces: Iterator[bytes]) -> Layout:
        started = ended = False
        for piece in pieces:
            start, end = 0, len(piece)
            if not started:
                found = piece.find(b"<sheetData")
                head = piece if found < 0 else piece[:found]
                if b"sheetData" in head or b"<!" in head or b"<?" in head[5:]:
                    raise self._odd(head, 0, len(head))
                if found < 0:
                    continue
                started = True
                start = found
            elif ended:
                if b"sheetData" in piece or b"<!" in piece or b"<?" in piece:
                    raise self._odd(piece, 0, end)
                continue
            close = piece.find(b"</sheetData>", start)
            if close >= 0:
                ended, end = True, close
                rest = piece[close + 12 :]
                if b"sheetData" in rest or b"<!" in rest or b"<?" in rest:
                    raise self._odd(rest, 0, len(rest))
            self._piece(piece, start, end)
        if started and not ended:
            raise self._refuse(f"{DAMAGED}：工作表不完整")
        return self.layout

    def _piece(self, piece: bytes, start: int, end: int) -> None:
        if _PREFIXED.search(piece, start, end):
            raise self._odd(piece, start, end)
        quoted = piece.find(b"='", start, end)
        if quoted >= 0:
            raise self._refuse(
                f"工作表的属性使用了单引号（{_shown(piece[max(start, quoted - 20) : quoted + 20])}），不是常见的写法，无法确认读到的就是 Excel 显示的"
            )
        place = (self.row, self.column)
        try:
            self._walk(_CELLS.findall(piece, start, end), piece, start, end)
        except _Beyond:  # which of the cells beyond the limits are empty, and so take no memory
            self.row, self.column = place
            self._walk_empty(_CELLS_EMPTY.findall(piece, start, end), piece, start, end)
        if piece.find(b"<f", start, end) >= 0:
            for letters, digits in _FORMULA.findall(piece, start, end):
                self.layout.formulas.add((int(digits), _column_number(letters)))
        if piece.find(b't="e"', start, end) >= 0:
            for letters, digits, text in _ERROR.findall(piece, start, end):
                self.layout.errors[(int(digits), _column_number(letters))] = text.decode(errors="replace").strip()
        shared = piece.find(b't="s"', start, end) >= 0
        if shared and (not self.shared or _BAD_SHARED.search(piece, start, end)):
            for letters, digits, index in _SHARED.findall(piece, start, end):
                if not index.isdigit() or len(index) > 9 or int(index) >= self.shared:
                    raise self._refuse(
                        f"{DAMAGED}：单元格 {letters.decode()}{int(digits)} 引用的共享字符串（编号 {_shown(index)}）不存在",
                        int(digits),
                    )
            raise self._refuse(f"{DAMAGED}：有单元格的共享字符串编号无法识别")
        if self.styles.pattern is not None:
            for letters, digits, style in self.styles.pattern.findall(piece, start, end):
                self.styles.note(self.layout, int(style), int(digits), _column_number(letters))

    def _walk(self, cells: list[tuple[bytes, bytes]], piece: bytes, start: int, end: int) -> None:
        """Check the places of the cells: each after the last, none beyond the limits (`_Beyond` if one is)."""
        row, column, columns, max_row, max_column = self.row, self.column, self.columns, self.max_row, self.max_column
        row_digits = b"%d" % row
        for letters, digits in cells:
            if digits != row_digits:  # the next row: it must come after the last one
                if not digits:
                    raise self._odd(piece, start, end)
                number = int(digits)
                if number < row:
                    self.row, self.column = row, column
                    raise self._order(number, columns.get(letters) or _column_number(letters))
                if number > max_row:
                    raise _Beyond
                row_digits, row, column = digits, number, 0
            following = columns.get(letters, 0)
            if not following:
                following = columns[letters] = _column_number(letters)
            if following > max_column:
                raise _Beyond
            if following <= column:
                self.row, self.column = row, column
                raise self._order(row, following)
            column = following
        self.row, self.column = row, column

    def _walk_empty(self, cells: list[tuple[bytes, bytes, bytes]], piece: bytes, start: int, end: int) -> None:
        """`_walk` knowing which cells are empty: those may lie beyond the policy's limits, not beyond Excel's."""
        limits = self.limits
        for letters, digits, empty in cells:
            if not digits:
                raise self._odd(piece, start, end)
            row, column = int(digits), _column_number(letters)
            if (row, column) <= (self.row, self.column):
                raise self._order(row, column)
            self.row, self.column = row, column
            if row > EXCEL_ROWS or column > EXCEL_COLUMNS:
                raise self._refuse(f"单元格 {letters.decode()}{row} 超出 Excel 的范围", row)
            if empty:
                continue
            if column > self.max_column:
                raise self._refuse(
                    f"单元格 {letters.decode()}{row} 超出第 {limits.max_columns} 列（上限）；请删除右侧多余的列", row
                )
            if row > self.max_row:
                raise RowLimit(
                    f"数据行超过上限 {limits.max_rows:,} 行，第 {row:,} 行还有内容；其余行未检查",
                    self.sheet,
                    self.max_row + 1,
                )

    def _order(self, row: int, column: int) -> Refused:
        """The refusal of a cell met at (row, column) after the last cell's place."""
        here = f"{column_letters(column)}{row}"
        if (row, column) == (self.row, self.column):
            return self._refuse(f"单元格 {here} 在文件中出现了两次，无法确定是哪一个值", row)
        if row < self.row:
            return self._refuse(
                f"第 {row} 行写在第 {self.row} 行之后（行的顺序颠倒），无法确认读到的就是 Excel 显示的", row
            )
        before = f"{column_letters(self.column)}{self.row}"
        return self._refuse(
            f"单元格 {here} 写在 {before} 之后（列的顺序颠倒，或同一单元格写了两次），无法确认读到的就是 Excel 显示的",
            row,
        )

    def _odd(self, piece: bytes, start: int, end: int) -> Refused:
        """The refusal of what spreadsheet programs do not write in a sheet."""
        prefixed = _PREFIXED.search(piece, start, end)
        if prefixed:
            return self._refuse(
                f"工作表的元素带有命名空间前缀（{_shown(prefixed[0])}），不是常见的写法，无法确认读到的就是 Excel 显示的"
            )
        found = _ODD.search(piece, start, end)
        tag = found[0] if found else b""
        if tag.startswith(b"<!--"):
            what = "含有注释"
        elif tag.startswith(b"<!"):
            what = "含有 CDATA 或 DTD"
        elif tag.startswith(b"<?"):
            what = "含有处理指令"
        else:
            what = f"有单元格的位置缺失、不规范或超出 Excel 的范围（{_shown(tag)}…）"
        return self._refuse(f"工作表{what}，不是常见的写法，无法确认读到的就是 Excel 显示的")


def _shown(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:60]


class _Styles:
    """The cell styles whose number format is a percentage or a date, and the pattern that finds their cells."""

    def __init__(self, percent: frozenset[int], dates: frozenset[int]) -> None:
        self.percent = percent
        self.dates = dates
        ids = b"|".join(str(index).encode() for index in sorted(percent | dates))
        self.pattern = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*?\ss="(' + ids + rb')"') if ids else None

    def note(self, layout: Layout, style: int, row: int, column: int) -> None:
        if style in self.percent:
            layout.percent.add((row, column))
        elif style in self.dates:
            layout.dates.add((row, column))
