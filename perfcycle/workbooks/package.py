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
_WORKSHEET_REL = "/worksheet"
_CHARTSHEET_REL = "/chartsheet"

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
    chart: bool


@dataclass
class Layout:
    """What the scan of a worksheet found that calamine's values do not say, by (row, column), both from 1.

    `last_row` is the last row holding a cell with content (0: none); `percent` and `dates` are the cells whose
    number format is a percentage or a date; `errors` maps error cells to their text (#DIV/0!)."""

    last_row: int = 0
    last_column: int = 0
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
            with zipfile.ZipFile(_Bytes(data)) as archive:
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
        book = "xl/workbook.xml"
        for kind, part in self._targets("_rels/.rels", "").values():
            if kind.endswith(_WORKBOOK_REL):
                book = part
        if book not in self.entries:
            raise Refused(f"{DAMAGED}：找不到工作簿部件「{book}」；{RESAVE}")
        listed = self._parsed(book, _sheet_list)
        folder = book.rpartition("/")[0]
        rels = self._targets(f"{folder}/_rels/{book.rpartition('/')[2]}.rels", folder + "/" if folder else "")
        sheets: list[Sheet] = []
        for name, rel_id in listed:
            kind, part = rels.get(rel_id, ("", ""))
            if not kind.endswith(_WORKSHEET_REL):
                sheets.append(Sheet(name, None, kind.endswith(_CHARTSHEET_REL)))
            elif part not in self.entries:
                raise Refused(f"{DAMAGED}：工作表「{name}」的内容（{part or '无'}）不在文件中；{RESAVE}", name)
            else:
                sheets.append(Sheet(name, part, False))
        return sheets

    def _count_shared_strings(self) -> int:
        name = "xl/sharedStrings.xml"
        if name not in self.entries:
            return 0
        return sum(len(_SHARED_ITEM.findall(piece)) for piece in self._tag_pieces(name))

    def _read_styles(self) -> tuple[frozenset[int], frozenset[int]]:
        name = "xl/styles.xml"
        if name not in self.entries:
            return frozenset(), frozenset()
        return self._parsed(name, _number_styles)

    # ------------------------------------------------------------------------------------ worksheets

    def scan(self, sheet: Sheet, rows: int) -> Layout:
        """The layout of a worksheet, refused on the first cell calamine could read otherwise than Excel shows
        it, or beyond the limits; no content below data row `rows` (what is left of the workbook's allowance)."""
        assert sheet.part is not None
        scanner = _Scanner(sheet.name, self.limits, rows, self.shared_strings, self.styles)
        try:
            scanner.fast(self._tag_pieces(sheet.part))
        except _Unusual:
            scanner = _Scanner(sheet.name, self.limits, rows, self.shared_strings, self.styles)
            scanner.slow(self._tag_pieces(sheet.part))
        return scanner.layout

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


class _Bytes:
    """A read-only file over bytes that does not copy them (io.BytesIO would, for zipfile's directory read)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._at = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self._at = offset if whence == 0 else (self._at + offset if whence == 1 else len(self._view) + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._at + size
        chunk = bytes(self._view[self._at : end])
        self._at += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return True


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


_SHARED_ITEM = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


# ------------------------------------------------------------------------------------- the sheet scan


class _Unusual(Exception):
    """The sheet is not written the way spreadsheet programs write one: scan it tag by tag instead."""


# Inside sheetData, spreadsheet programs write <c r="A1" …> with the reference first, values in <v> or inline
# strings, no prefixes, comments, formulas or error cells, attributes in double quotes. Any sign of something
# else, and the sheet is scanned again tag by tag.
_CELLS = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"|<(?:[!?]|f[\s/>]|c[\s/>])')  # the others give ('', '')
_PREFIXED = re.compile(rb":(?:c|row|v|f|is|sheetData)[\s/>]")
_BAD_SHARED = re.compile(rb't="s"(?:[^>]*[^>/])?>(?!<v>[0-9]{1,9}</v>|</c>)')
_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:\s[^>]*?)?)(/?)>|([^<]+)|(<[!?][^>]*>?)")
_ATTRIBUTE = re.compile(rb"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(rb"([A-Z]{1,3})([0-9]{1,7})")


class RowLimit(Refused):
    """A sheet with content below the rows the workbook's allowance has left."""


class _Scanner:
    def __init__(self, sheet: str, limits: Limits, rows: int, shared: int, styled: _Styles) -> None:
        self.sheet = sheet
        self.limits = limits
        self.rows = rows
        self.shared = shared
        self.styles = styled
        self.layout = Layout()
        self.row = 0  # the position of the last cell met
        self.column = 0

    def _refuse(self, reason: str, row: int | None = None) -> Refused:
        return Refused(reason, self.sheet, row)

    def _place(self, row: int, column: int) -> None:
        """Check the next cell's position against the last one's: reading order, nothing twice."""
        if (row, column) <= (self.row, self.column):
            here = f"{column_letters(column)}{row}"
            if (row, column) == (self.row, self.column):
                reason = f"单元格 {here} 在文件中出现了两次，无法确定是哪一个值"
            elif row < self.row:
                reason = f"第 {row} 行写在第 {self.row} 行之后（行的顺序颠倒），无法确认读到的就是 Excel 显示的"
            else:
                before = f"{column_letters(self.column)}{self.row}"
                reason = f"单元格 {here} 写在 {before} 之后（列的顺序颠倒），无法确认读到的就是 Excel 显示的"
            raise self._refuse(f"{reason}；{RESAVE}", row)
        self.row, self.column = row, column

    def _content(self, row: int, column: int) -> None:
        """A cell with content: within Excel's grid and the policy's rows and columns."""
        if row > EXCEL_ROWS or column > EXCEL_COLUMNS:
            raise self._refuse(f"单元格 {column_letters(column)}{row} 超出 Excel 的范围；{RESAVE}")
        limits = self.limits
        if column > limits.max_columns:
            raise self._refuse(
                f"单元格 {column_letters(column)}{row} 超出第 {limits.max_columns} 列（上限）；请删除右侧多余的列",
                row,
            )
        if row > self.rows + 1:
            raise RowLimit(
                f"数据行超过上限 {limits.max_rows:,} 行，第 {row:,} 行还有内容；其余行未检查", self.sheet, self.rows + 2
            )
        layout = self.layout
        layout.last_row = row
        if column > layout.last_column:
            layout.last_column = column

    # -------------------------------------------------------------------------------------- fast

    def fast(self, pieces: Iterator[bytes]) -> None:
        """The scan of a sheet as spreadsheet programs write it; `_Unusual` at anything else. Every cell counts
        as having content here: a cell beyond the limits sends the sheet to the exact scan."""
        limits = self.limits
        max_row, max_column = min(self.rows + 1, EXCEL_ROWS), min(limits.max_columns, EXCEL_COLUMNS)
        columns: dict[bytes, int] = {}
        started = ended = False
        row_digits: bytes | None = None
        row = 0
        for piece in pieces:
            start, end = 0, len(piece)
            if not started:
                found = piece.find(b"<sheetData")
                if found < 0:
                    if b"sheetData" in piece or b"<!" in piece or b"<?" in piece[5:]:
                        raise _Unusual
                    continue
                started = True
                start = found
                if piece.find(b"<!", 0, start) >= 0 or b"<?" in piece[5:start]:
                    raise _Unusual
            elif ended:
                if b"sheetData" in piece or b"<!" in piece or b"<?" in piece:
                    raise _Unusual
                continue
            close = piece.find(b"</sheetData>", start)
            if close >= 0:
                ended = True
                end = close
                rest = piece[close + 12 :]
                if b"sheetData" in rest or b"<!" in rest or b"<?" in rest:
                    raise _Unusual
            if (
                _PREFIXED.search(piece, start, end)
                or piece.find(b't="e"', start, end) >= 0
                or piece.find(b"='", start, end) >= 0
                or (self.shared and _BAD_SHARED.search(piece, start, end))
            ):
                raise _Unusual
            row, column = self.row, self.column
            for letters, digits in _CELLS.findall(piece, start, end):
                if digits != row_digits:  # the next row: it must come after the last one
                    if not digits:
                        raise _Unusual
                    row_digits = digits
                    number = int(digits)
                    if number <= row or number > max_row:
                        raise _Unusual
                    row, column = number, 0
                following = columns.get(letters, 0)
                if not following:
                    following = columns[letters] = _column_number(letters)
                    if following > max_column:
                        raise _Unusual
                if following <= column:
                    raise _Unusual
                column = following
            self.row, self.column = row, column
            self.layout.last_row = row
            self.layout.last_column = max(columns.values(), default=0)
            if self.styles.pattern is not None:
                for letters, digits, style in self.styles.pattern.findall(piece, start, end):
                    self.styles.note(self.layout, int(style), int(digits), _column_number(letters))
        if started and not ended:
            raise _Unusual

    # -------------------------------------------------------------------------------------- slow

    def slow(self, pieces: Iterator[bytes]) -> None:
        """The scan tag by tag: rows and cells without references are placed as calamine places them;
        comments, CDATA and processing instructions are refused (a scan that skipped them could be fooled)."""
        where = 0  # 0 before sheetData, 1 inside, 2 after
        row = 0  # the row element the next cells belong to
        next_row = 1
        cell: tuple[int, int, bytes, bytes] | None = None  # row, column, type and style of the open cell
        in_value = False
        value = b""
        first = True
        columns: set[int] = set()  # of the current row element, to name a cell written twice as such
        for piece in pieces:
            for match in _TAG.finditer(piece):
                closing, name, attributes, empty, text, special = match.groups()
                if special is not None:
                    if first and match.start() == 0 and special.startswith(b"<?xml "):
                        first = False
                        continue
                    raise self._refuse(f"工作表中含有注释、CDATA 或处理指令，无法确认读到的就是 Excel 显示的；{RESAVE}")
                first = False
                if text is not None:
                    if in_value:
                        value += text
                    continue
                if name == b"sheetData":
                    if where == 0 and not closing:
                        where = 2 if empty else 1
                    elif where == 1 and closing:
                        where = 2
                    else:
                        raise self._refuse(f"{DAMAGED}：工作表中有不止一份单元格数据（sheetData）；{RESAVE}")
                    continue
                if where != 1:
                    continue
                if name == b"row":
                    if not closing:
                        number = dict(_attributes(attributes)).get(b"r")
                        if number is not None and not (number.isdigit() and 0 < int(number) <= EXCEL_ROWS):
                            shown = number.decode(errors="replace")[:20]
                            raise self._refuse(f"行号「{shown}」无效或超出 Excel 的范围；{RESAVE}")
                        row = int(number) if number is not None else next_row
                        next_row = row + 1
                        columns = set()
                    continue
                if name == b"c":
                    if closing:
                        if cell is not None:
                            self._cell(cell, value, True)
                        cell = None
                        continue
                    found = dict(_attributes(attributes))
                    reference = found.get(b"r")
                    if not row:
                        raise self._refuse(f"{DAMAGED}：有单元格不在任何一行中；{RESAVE}")
                    if reference is None:
                        place = (row, self.column + 1 if self.row == row else 1)
                    else:
                        parts = _REFERENCE.fullmatch(reference)
                        if parts is None:
                            shown = reference.decode(errors="replace")[:20]
                            raise self._refuse(f"单元格位置「{shown}」无效或超出 Excel 的范围；{RESAVE}")
                        place = (int(parts[2]), _column_number(parts[1]))
                        if place[0] > EXCEL_ROWS or place[1] > EXCEL_COLUMNS or not place[0]:
                            shown = reference.decode()
                            raise self._refuse(f"单元格位置「{shown}」超出 Excel 的范围；{RESAVE}")
                        if place[0] != row:
                            raise self._refuse(
                                f"单元格 {shown_reference(place)} 写在第 {row} 行中，位置矛盾；{RESAVE}", row
                            )
                    if place[1] in columns:
                        raise self._refuse(
                            f"单元格 {shown_reference(place)} 在文件中出现了两次，无法确定是哪一个值；{RESAVE}", row
                        )
                    columns.add(place[1])
                    self._place(*place)
                    opened = (*place, found.get(b"t", b"n"), found.get(b"s", b""))
                    value = b""
                    if empty:
                        self._cell(opened, b"", False)
                    else:
                        cell = opened
                    continue
                if cell is not None:
                    if name == b"f" and not closing:
                        self.layout.formulas.add(cell[:2])
                    elif name == b"v":
                        in_value = not closing and not empty
                    elif name == b"is" and not closing:
                        self._content(*cell[:2])
        if where == 1:
            raise self._refuse(f"{DAMAGED}：工作表不完整；{RESAVE}")

    def _cell(self, cell: tuple[int, int, bytes, bytes], value: bytes, closed: bool) -> None:
        row, column, kind, style = cell
        if value or (row, column) in self.layout.formulas:
            self._content(row, column)
        if kind == b"e":
            self.layout.errors[(row, column)] = value.decode(errors="replace").strip()
        elif kind == b"s" and value and (not value.isdigit() or len(value) > 9 or int(value) >= self.shared):
            shown = value.decode(errors="replace")[:20]
            raise self._refuse(
                f"{DAMAGED}：单元格 {shown_reference((row, column))} 引用的共享字符串（编号 {shown}）不存在；{RESAVE}",
                row,
            )
        if style.isdigit():
            self.styles.note(self.layout, int(style), row, column)


def shown_reference(place: tuple[int, int]) -> str:
    """(2, 7) → G2."""
    return f"{column_letters(place[1])}{place[0]}"


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


def _attributes(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    for name, double, single in _ATTRIBUTE.findall(raw):
        yield (
            name.rpartition(b":")[2] if b":" in name and not name.startswith(b"xml") else name,
            (double if double or not single else single),
        )
