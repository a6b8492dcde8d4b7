"""The checks an .xlsx passes before any cell of it is read, and the archive the cells are then read from.

python-calamine reads the cells (`perfcycle.workbooks.reader`); what it would take on trust is checked here first,
each refusal one sentence a department can act on:

- the container: one OOXML zip and nothing else (no data before, between or after its entries, one end record,
  entries that neither overlap nor disagree with their local headers), unencrypted, no two entries with the same
  part name (compared without case, as the packaging standard says), declared sizes and ratios within the policy;
- each part that is read: inflated once, piece by piece, to exactly its declared size and CRC, never beyond;
  UTF-8 and without a DTD (the packaging standard makes a DTD an error);
- each worksheet: its cells in reading order (none before one already seen, so none twice), inside Excel's grid
  and the policy's rows and columns before calamine lays the sheet out; and what calamine would read without a
  word (formulas, error values, an invalid shared-string index) or without its number format (percent and date
  styles) is noted by cell.

calamine is handed an archive written here of the checked parts only (inflated, or their checked deflate stream
when large): no other zip reader's view of the file can count, and no part is inflated twice unless it is large.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
END_MAGIC = b"PK\x05\x06"
MB = 1024 * 1024
RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked are never a bomb, however well they compress
PIECE = 4 * MB  # inflated at a time
WHOLE_PART_LIMIT = 64 * MB  # the workbook, relationship and style parts are parsed whole: no real one is this large
KEPT = 64 * MB  # inflated bytes handed to calamine as they are; larger parts go as their checked deflate stream
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384

_BOOK = "xl/workbook.xml"
_USUAL_PARTS = {"sharedStrings": "xl/sharedStrings.xml", "styles": "xl/styles.xml"}  # by relationship type

DAMAGED = "文件已损坏"
RESAVE = "请用 Excel 或 WPS 打开后重新保存为 .xlsx 再提交"


class Refused(Exception):
    """The workbook cannot be read as it is; `reason` says why, `sheet`/`row`/`column` where, when known."""

    def __init__(self, reason: str, sheet: str | None = None, row: int | None = None, column: str | None = None):
        super().__init__(reason)
        self.reason, self.sheet, self.row, self.column = reason, sheet, row, column


class RowLimit(Refused):
    """A sheet with content below the rows the workbook's allowance has left."""


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
    """What the scan of a worksheet found that calamine's values do not say, by (row, column), both from 1."""

    formulas: set[tuple[int, int]] = field(default_factory=set)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # the error's text (#DIV/0!)
    percent: set[tuple[int, int]] = field(default_factory=set)  # cells shown as a percentage
    dates: set[tuple[int, int]] = field(default_factory=set)  # cells shown as a date


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


_OLD_FILES = (  # the stream names of an OLE compound file (the pre-2007 container), and what the file then is
    (("EncryptedPackage", "EncryptionInfo"), "工作簿设置了打开密码（已加密），系统无法读取；请在 Excel 中“文件 → 信息 → "
     "保护工作簿 → 用密码进行加密”清空密码，保存为 .xlsx 后再提交"),
    (("Workbook", "Book"), "这是旧版 Excel 97-2003 工作簿（.xls），只是扩展名改成了 .xlsx；请在 Excel 或 WPS 中“另存为” .xlsx 后再提交"),
    (("WordDocument",), "这是旧版 Word 文档（.doc），不是 Excel 工作簿；请提交 .xlsx 格式的工作簿"),
    ((), "这是旧版 .xls 文件（或其他旧版 Office 文件）或设置了打开密码的工作簿；请在 Excel 中取消密码并“另存为” .xlsx 后再提交"),
)  # fmt: skip


def _odd_archive(what: str) -> Refused:
    return Refused(f"{DAMAGED}或结构异常：{what}，不同的程序可能读出不同的内容；{RESAVE}")


class Package:
    """An .xlsx archive whose directory passed the checks; its parts are verified as they are inflated."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        if data.startswith(OLE_MAGIC):
            raise Refused(
                next(why for names, why in _OLD_FILES if not names or any(n.encode("utf-16-le") in data for n in names))
            )
        if not data.startswith(ZIP_MAGIC):
            if END_MAGIC in data[-66_000:] and ZIP_MAGIC in data:
                raise _odd_archive("压缩包之前附加了其他数据（如自解压程序）")
            raise Refused("不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 打开后“另存为” .xlsx")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos, directory = archive.infolist(), archive.start_dir
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
            if data.count(END_MAGIC) > 1:
                raise _odd_archive("压缩包有不止一个目录结尾记录") from None
            raise Refused(f"{DAMAGED}（不是完整的 .xlsx 压缩包）；请重新保存后再提交") from None
        self.data, self.limits = data, limits
        self.entries = {info.filename: info for info in infos}
        self.starts: dict[str, int] = {}  # where each entry's packed bytes begin
        self._check_layout(infos, directory)
        self._check_directory(infos)
        self.kept: dict[str, bytes] = {}  # inflated parts handed to calamine as they are
        self.verified: set[str] = set()
        self.sheets = self._read_sheets()
        self.shared_strings = self._count_shared_strings()
        self.styles = self._parsed(_USUAL_PARTS["styles"], _Styles.of) if self.has("styles") else _Styles.of(b"")

    def has(self, kind: str) -> bool:
        return _USUAL_PARTS[kind] in self.entries

    def _check_layout(self, infos: list[zipfile.ZipInfo], directory: int) -> None:
        """The entries one after another from the first byte, the directory after them and its end record last:
        what zipfile reads is then all there is, for any zip reader."""
        data = self.data
        end = data.rfind(END_MAGIC)
        if end < directory or data.count(END_MAGIC, directory) != 1:
            raise _odd_archive("压缩包有不止一个目录结尾记录")
        comment, listed = struct.unpack("<H", data[end + 20 : end + 22])[0], data[end + 10 : end + 12]
        if end + 22 + comment != len(data):
            raise _odd_archive(f"压缩包的结尾之后还有 {len(data) - end - 22 - comment:,} 字节的其他数据")
        if listed != b"\xff\xff" and struct.unpack("<H", listed)[0] != len(infos):
            raise _odd_archive("压缩包目录记录的条目数与实际不符")
        ordered = sorted(infos, key=lambda info: info.header_offset)
        at = 0
        for info, following in zip(ordered, [*(info.header_offset for info in ordered[1:]), directory], strict=True):
            if info.header_offset != at:
                where = (
                    "之前附加了其他数据"
                    if not at
                    else "中有重叠的条目"
                    if info.header_offset < at
                    else "中夹有其他数据"
                )
                raise _odd_archive(f"压缩包{where}（「{info.filename}」处）")
            header = data[at : at + 30]
            if len(header) < 30 or not header.startswith(ZIP_MAGIC):
                raise _odd_archive(f"压缩包中的「{info.filename}」找不到")
            flags, method, crc, packed, size, name_length, extra_length = struct.unpack("<2H4x3I2H", header[6:30])
            local = data[at + 30 : at + 30 + name_length].decode("utf-8" if flags & 0x800 else "cp437", "replace")
            central = (info.CRC, info.compress_size, info.file_size)
            recorded = central if flags & 0x8 else (crc, packed, size)  # with a descriptor: zeros here
            if (
                local != info.orig_filename
                or method != info.compress_type
                or any(mine not in (theirs, 0xFFFFFFFF) for mine, theirs in zip(recorded, central, strict=True))
            ):
                raise _odd_archive(f"压缩包中「{info.filename}」的两处记录不一致")
            self.starts[info.filename] = at + 30 + name_length + extra_length
            at = self.starts[info.filename] + info.compress_size
            descriptor = data[at:following]  # after the data when flag 8 is set: CRC and sizes, signed or not
            signed = descriptor.startswith(b"PK\x07\x08") and len(descriptor) in (16, 24)
            if flags & 0x8 and (signed or len(descriptor) in (12, 20)):
                at += len(descriptor) if descriptor[4 * signed :][:4] == struct.pack("<I", info.CRC) else 0
        if at != directory:
            raise _odd_archive("压缩包的条目与目录之间夹有其他数据" if at < directory else "压缩包中有重叠的条目")

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
        if total > limits.max_uncompressed_bytes or total >= 0xFFFFFFFF:
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
        """The inflated bytes of an XML part, piece by piece; refused as soon as it inflates to more (or, at its
        end, to less or to other bytes) than its directory entry declares, or is not UTF-8, or has a DTD. A part
        small enough is kept to be handed to calamine as it is."""
        info = self.entries[name]
        begin = self.starts[name]
        packed = memoryview(self.data)[begin : begin + info.compress_size]
        left, crc, tail = info.file_size, 0, b""
        keep: list[bytes] | None = [] if self._room_for(left) else None
        lying = f"{DAMAGED}：压缩包中的「{name}」解压后与声明的大小不符（{info.file_size:,} 字节），拒绝读取"
        inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        pending: bytes | memoryview = packed
        try:
            while True:
                if inflater is None:
                    piece, pending = bytes(pending[:PIECE]), pending[PIECE:]
                else:
                    piece = inflater.decompress(pending, min(PIECE, left + 1))
                    pending = inflater.unconsumed_tail
                if len(piece) > left:
                    raise Refused(lying)
                if left == info.file_size and piece.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
                    raise Refused(f"工作簿的部件「{name}」不是 UTF-8 编码；{RESAVE}")
                if b"<!DOCTYPE" in tail + piece[:16] or b"<!DOCTYPE" in piece:
                    raise Refused(
                        f"工作簿的部件「{name}」含有 DTD（<!DOCTYPE>），按 Office 文件格式标准不予读取；{RESAVE}"
                    )
                left -= len(piece)
                crc = zlib.crc32(piece, crc)
                tail = piece[-16:]
                if keep is not None:
                    keep.append(piece)
                if piece:
                    yield piece
                if (inflater is None and not pending) or (
                    inflater is not None and (inflater.eof or (not piece and not pending))
                ):
                    break
        except zlib.error:
            raise Refused(f"{DAMAGED}：压缩包中的「{name}」无法解压；{RESAVE}") from None
        if inflater is not None and not inflater.eof:
            raise Refused(f"{DAMAGED}：压缩包中的「{name}」不完整；{RESAVE}")
        if left or crc != info.CRC:
            raise Refused(lying if left else f"{DAMAGED}：压缩包中的「{name}」校验失败（CRC）；{RESAVE}")
        self.verified.add(name)
        if keep is not None:
            self.kept[name] = b"".join(keep)

    def _room_for(self, size: int) -> bool:
        """Whether `size` more inflated bytes fit in what calamine is handed as it is (`KEPT`)."""
        return sum(map(len, self.kept.values())) + size <= KEPT

    def whole(self, name: str) -> bytes:
        """A small XML part, whole (workbook, relationships, styles); one whose entry and packed bytes are those of
        a part verified before is not inflated again (a stage's forms mostly share them)."""
        info = self.entries[name]
        if info.file_size > WHOLE_PART_LIMIT:
            raise Refused(f"工作簿的部件「{name}」解压后 {info.file_size / MB:,.0f} MB，不像是正常的工作簿；{RESAVE}")
        if max(info.file_size, info.compress_size) > _SEEN_PART_BYTES:
            return b"".join(self.pieces(name))
        begin = self.starts[name]
        key = (info.CRC, info.file_size, info.compress_type, self.data[begin : begin + info.compress_size])
        with _SEEN_LOCK:
            content = _SEEN_PARTS.get(key)
        if content is None:
            content = b"".join(self.pieces(name))
            with _SEEN_LOCK:
                _SEEN_PARTS[key] = content
                if len(_SEEN_PARTS) > _SEEN_PART_COUNT:
                    del _SEEN_PARTS[next(iter(_SEEN_PARTS))]
        else:
            self.verified.add(name)
            if self._room_for(len(content)):
                self.kept[name] = content
        return content

    def _tag_pieces(self, name: str) -> Iterator[bytes]:
        """`pieces` cut after a '>', so that no tag is split between two pieces."""
        carry = b""
        for piece in self.pieces(name):
            joined = carry + piece if carry else piece
            cut = joined.rfind(b">") + 1
            carry = joined[cut:]
            if cut:
                yield joined[:cut] if carry else joined
        if carry.strip():
            yield carry

    def _parsed(self, name: str, parse: Any) -> Any:
        try:
            return parse(self.whole(name))
        except ElementTree.ParseError:
            raise Refused(f"无法读取工作簿（部件「{name}」不是完整的 XML）；{RESAVE}") from None

    # ---------------------------------------------------------------------------------- the workbook

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
        unusual = f"工作簿的部件位置不常见（{{}}），无法确认读到的就是 Excel 显示的；{RESAVE}"
        for kind, part in self._targets("_rels/.rels", "").values():
            if kind.endswith("/officeDocument") and part != _BOOK:
                raise Refused(unusual.format(part))
        if _BOOK not in self.entries:
            raise Refused(f"{DAMAGED}：找不到工作簿部件「{_BOOK}」；{RESAVE}")
        listed = self._parsed(_BOOK, _sheet_list)
        rels = self._targets("xl/_rels/workbook.xml.rels", "xl/")
        for kind, part in rels.values():
            if _USUAL_PARTS.get(kind.rpartition("/")[2], part) != part:
                raise Refused(unusual.format(part))
        sheets: list[Sheet] = []
        for name, rel_id in listed:
            kind, part = rels.get(rel_id, ("", ""))
            if kind.endswith("/worksheet") and part not in self.entries:
                raise Refused(f"{DAMAGED}：工作表「{name}」的内容（{part or '无'}）不在文件中；{RESAVE}", name)
            sheets.append(Sheet(name, part if kind.endswith("/worksheet") else None))
        return sheets

    def _count_shared_strings(self) -> int:
        if not self.has("sharedStrings"):
            return 0
        most = self.limits.max_rows * self.limits.max_columns  # as many as the cells a workbook may fill
        count = 0
        for piece in self._tag_pieces(_USUAL_PARTS["sharedStrings"]):
            count += piece.count(b"<si>") + piece.count(b"<si ") + piece.count(b":si>") + piece.count(b":si ")
            if count > most:
                raise Refused(
                    f"共享字符串表有 {most:,} 个以上的条目，多于工作簿能填的单元格"
                    f"（{self.limits.max_rows:,} 行 × {self.limits.max_columns} 列），拒绝读取"
                )
        return count

    # ------------------------------------------------------------------------------------ worksheets

    def scan(self, sheet: Sheet, rows: int) -> Layout:
        """The layout of a worksheet, refused on the first cell calamine could read otherwise than Excel shows
        it, or beyond the limits; no content below data row `rows` (what is left of the workbook's allowance)."""
        assert sheet.part is not None
        scanner = _Scanner(sheet.name, self.limits, rows, self.shared_strings, self.styles)
        return scanner.scan(self._tag_pieces(sheet.part))

    def cells(self, sheet: Sheet, names: list[str]) -> Any:
        """calamine's reading of a scanned worksheet, from an archive of the checked parts only."""
        import python_calamine

        wanted = ["_rels/.rels", _BOOK, "xl/_rels/workbook.xml.rels", *_USUAL_PARTS.values(), sheet.part]
        archive = _archive([self._entry(name) for name in wanted if name in self.entries])
        try:
            with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(archive)) as book:
                if book.sheet_names != names:
                    raise Refused(f"无法读取工作簿（工作表列表不一致）；{RESAVE}")
                return book.get_sheet_by_name(sheet.name)
        except Refused:
            raise
        except Exception as exc:  # calamine's refusal of what the checks let through: one sentence, no traceback
            text = (
                "单元格引用了不存在的共享字符串"
                if "shared strings" in str(exc)
                else f"{type(exc).__name__}: {str(exc)[:200]}"
            )
            raise Refused(f"无法读取工作表（{text}）；{RESAVE}", sheet.name) from None

    def _entry(self, name: str) -> tuple[str, bytes | memoryview, int, int, int]:
        """A part as calamine is handed it: inflated, or (when large) its packed bytes, checked either way."""
        info = self.entries[name]
        if name not in self.verified:
            for _ in self.pieces(name):
                pass
        if name in self.kept:
            return name, self.kept[name], zipfile.ZIP_STORED, info.CRC, info.file_size
        begin = self.starts[name]
        packed = memoryview(self.data)[begin : begin + info.compress_size]
        return name, packed, info.compress_type, info.CRC, info.file_size


#: Small parts verified in this process (inflated to their declared size and CRC, UTF-8, no DTD), by their
#: directory entry and packed bytes: the same bytes inflate to the same content. At most 64 parts of 256 KB,
#: packed and inflated: 32 MB (the workbench reads uploads in threads, hence the lock).
_SEEN_PARTS: dict[tuple[int, int, int, bytes], bytes] = {}
_SEEN_PART_BYTES = 256 * 1024
_SEEN_PART_COUNT = 64
_SEEN_LOCK = threading.Lock()


def _archive(entries: list[tuple[str, bytes | memoryview, int, int, int]]) -> bytes:
    """A plain zip of (name, data, method, crc, size) entries: no comments, extras, gaps or descriptors."""
    out: list[bytes | memoryview] = []
    directory = []
    at = 0
    for name, data, method, crc, size in entries:
        encoded = name.encode()
        sizes = (0x800, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        header = struct.pack("<4s5H3I2H", ZIP_MAGIC, 20, *sizes)
        directory.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, *sizes, 0, 0, 0, 0, at) + encoded)
        out += [header, encoded, data]
        at += len(header) + len(encoded) + len(data)
    central = b"".join(directory)
    end = struct.pack("<4s4H2IH", END_MAGIC, 0, 0, len(entries), len(entries), len(central), at, 0)
    return b"".join([*out, central, end])


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


class _Styles:
    """The cell styles whose number format is a percentage or a date, and the pattern that finds their cells."""

    def __init__(self, percent: frozenset[int], dates: frozenset[int]) -> None:
        self.percent, self.dates = percent, dates
        ids = b"|".join(str(index).encode() for index in sorted(percent | dates))
        self.pattern = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*?\ss="(' + ids + rb')"') if ids else None
        self.used = re.compile(rb's="(?:' + ids + rb')"') if ids else None  # whether a piece may have such cells

    @staticmethod
    @functools.lru_cache(maxsize=32)
    def of(raw: bytes) -> _Styles:
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

        custom, xfs = {}, []
        for element in ElementTree.fromstring(raw) if raw else ():
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
        return _Styles(frozenset(percent), frozenset(dates))


# ------------------------------------------------------------------------------------- the sheet scan
#
# Inside sheetData, spreadsheet programs write <c r="A1" …> with the reference first, attributes in double
# quotes, values in <v> or inline strings, and no prefixes, comments or processing instructions. That is what
# the scan reads, by counting and regular expressions over each piece: the places of its cells in one tight pass,
# and one by one, knowing which are empty, only when that fails. A sheet written otherwise is refused.

_PLACES = re.compile(rb'<c(?: r="([A-Z]{1,3})([1-9][0-9]{0,6})"|(?=[\s/>]))')  # a cell without its place gives b""
_CELLS = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"[^>]*?(/?)>|<(?:[!?]|c[\s/>])')  # others give ''
_ODD = re.compile(rb'<(?:[!?]|c(?:[>/]|\s(?!r="[A-Z]{1,3}[1-9][0-9]{0,6}")))[^>]{0,60}')
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:c|row|v|f|is|sheetData)[\s/>]")
_FORMULA = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*>\s*<f[\s/>]')
_ERROR = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*\st="e"[^>]*>\s*(?:<f[^>]*>[^<]*</f>\s*)?(?:<v>([^<]*)</v>)?')
_SHARED = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*\st="s"(?:[^>]*[^>/])?>\s*(?:<f[^>]*>[^<]*</f>\s*)?<v>([^<]*)</v>')
_TYPED = re.compile(rb't="[es]"')  # an error value or a shared string
_BAD_SHARED = re.compile(rb't="s"(?:[^>]*[^>/])?>(?!<v>[0-9]{1,9}</v>|</c>)')


_COLUMNS: dict[bytes, int] = {}  # B → 2, met so far


class _Scanner:
    def __init__(self, sheet: str, limits: Limits, rows: int, shared: int, styles: _Styles) -> None:
        self.sheet, self.limits, self.shared, self.styles = sheet, limits, shared, styles
        self.max_row = min(rows + 1, EXCEL_ROWS)  # a sheet's last row with content: the header and `rows`
        self.max_column = min(limits.max_columns, EXCEL_COLUMNS)
        self.layout = Layout()
        self.row = self.column = 0  # the place of the last cell met

    def _refuse(self, reason: str, row: int | None = None) -> Refused:
        return Refused(f"{reason}；{RESAVE}", self.sheet, row)

    def scan(self, pieces: Iterator[bytes]) -> Layout:
        started = ended = False  # one sheetData, with nothing odd before or after it
        for piece in pieces:
            start, end = 0, len(piece)
            if not started:
                found = piece.find(b"<sheetData")
                outside = piece[5:] if found < 0 else piece[5:found]  # after an <?xml …?> declaration
                started, start = found >= 0, found
            else:
                outside = piece if ended else b""
            if b"sheetData" in outside or b"<!" in outside or b"<?" in outside:
                raise self._odd(outside, 0, len(outside))
            if not started or ended:
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
        def has(text: bytes) -> bool:  # a rare byte first: one byte is searched for much faster than two
            return piece.find(text[-1:], start, end) >= 0 and piece.find(text, start, end) >= 0

        if has(b"<!") or has(b"<?") or (has(b":") and _PREFIXED.search(piece, start, end)):
            raise self._odd(piece, start, end)
        if has(b"='"):
            quoted = piece.find(b"='", start, end)
            raise self._refuse(
                f"工作表的属性使用了单引号（{_shown(piece[max(start, quoted - 20) : quoted + 20])}），不是常见的写法，无法确认读到的就是 Excel 显示的"
            )
        if not self._in_order(piece, start, end):
            self._walk(piece, start, end)
        layout = self.layout
        if has(b"<f"):
            for letters, digits in _FORMULA.findall(piece, start, end):
                layout.formulas.add((int(digits), _column_number(letters)))
        if _TYPED.search(piece, start, end) is not None:  # one pass where neither is (inline text, numbers)
            if piece.find(b't="e"', start, end) >= 0:
                for letters, digits, text in _ERROR.findall(piece, start, end):
                    layout.errors[(int(digits), _column_number(letters))] = text.decode(errors="replace").strip()
            if piece.find(b't="s"', start, end) >= 0 and (not self.shared or _BAD_SHARED.search(piece, start, end)):
                for letters, digits, index in _SHARED.findall(piece, start, end):
                    if not index.isdigit() or len(index) > 9 or int(index) >= self.shared:
                        shown = f"{letters.decode()}{int(digits)} 引用的共享字符串（编号 {_shown(index)}）"
                        raise self._refuse(f"{DAMAGED}：单元格 {shown}不存在", int(digits))
                raise self._refuse(f"{DAMAGED}：有单元格的共享字符串编号无法识别")
        styles = self.styles
        if styles.pattern is not None and styles.used is not None and styles.used.search(piece, start, end):
            for letters, digits, style in styles.pattern.findall(piece, start, end):
                found = layout.percent if int(style) in styles.percent else layout.dates
                found.add((int(digits), _column_number(letters)))

    def _in_order(self, piece: bytes, start: int, end: int) -> bool:
        """Whether every cell of the piece has its place, after the last and within the limits: the common case,
        checked at the least cost (a cell's row is compared as its digits until it changes)."""
        row, column, max_row, max_column = self.row, self.column, self.max_row, self.max_column
        row_digits = b"%d" % row
        try:
            for letters, digits in _PLACES.findall(piece, start, end):
                if digits != row_digits:  # a later row, never an earlier one or the same written otherwise
                    number = int(digits)  # a cell without its place has no digits: ValueError
                    if number < row or number > max_row:
                        return False
                    row_digits, row, column = digits, number, 0
                following = _COLUMNS.get(letters) or _COLUMNS.setdefault(letters, _column_number(letters))
                if following <= column or following > max_column:
                    return False
                column = following
        except ValueError:
            return False
        self.row, self.column = row, column
        return True

    def _walk(self, piece: bytes, start: int, end: int) -> None:
        """The cells one by one: each after the last, inside Excel's grid; those with content within the limits."""
        limits = self.limits
        for letters, digits, empty in _CELLS.findall(piece, start, end):
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
