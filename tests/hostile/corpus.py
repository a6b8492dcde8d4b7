"""The hostile-input corpus: bad workbooks built at test time, each with the exact refusal it must get.

Nothing binary is committed: `build_corpus(folder)` writes every file into a temporary folder. The database
the corpus runs against holds the good files of `build_good(folder)`: base data for departments D01 and D02
(projects P101 and P102 of D01, P201 of D02) and D01's targets, in an open 2024 cycle.

Each `Case` names what is wrong, builds the file, and lists the problems the import must report: sheet, row
and column exactly, and the reason by its beginning (plus any fragments it must contain). The big ones are
cheap to make and must be cheap to refuse: the 50 MB file is refused by its size before it is read, the zip
bombs by the sizes their archive declares before anything is inflated.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from perfcycle.workbooks.formats import BASE, MONITORING, SELF_EVALUATION, TARGETS

YEAR = 2024
MB = 1024 * 1024

Rows = list[list[Any]]

DEPARTMENT_HEADERS = BASE.sheet("部门").headers
PROJECT_HEADERS = BASE.sheet("项目").headers
TARGET_HEADERS = TARGETS.sheet("绩效指标").headers
MONITORING_HEADERS = MONITORING.sheet("项目监控").headers
ACTUAL_HEADERS = SELF_EVALUATION.sheet("指标完成").headers
PROJECT_SELF_HEADERS = SELF_EVALUATION.sheet("项目自评").headers
DEPARTMENT_SELF_HEADERS = SELF_EVALUATION.sheet("部门自评").headers


def departments() -> Rows:
    return [
        ["D01", "区教育局", "张三", "jy@example.cn", None, "李四", None],
        ["D02", "区卫健委", "王五", "wj@example.cn", None, "赵六", None],
    ]


def projects() -> Rows:
    """Rows 2, 3 and 4 of the 项目 sheet; column F is 年度预算（万元）."""
    return [
        ["P101", "D01", "义务教育保障", "事业发展类", "新增", 1000, 600, "是", "否"],
        ["P102", "D01", "机关运行保障", "机构运行保障类", "经常性", 200, 200, "否", "否"],
        ["P201", "D02", "公共卫生服务", "事业发展类", "延续", 3000, 1200, "否", "是"],
    ]


def targets() -> Rows:
    """D01's indicators; rows 2..6 of 绩效指标, column G is 目标值."""
    return [
        ["D01", "P101", "产出", "数量", "培训人次", "≥", "500", "人次", None],
        ["D01", "P101", "效益", "社会效益", "家长满意度提升", "定性", "明显提升", None, None],
        ["D01", "P101", "满意度", "服务对象满意度", "学生满意度", "≥", "90", "%", None],
        ["D01", "P102", "产出", "数量", "保障人数", "=", "120", "人", None],
        ["D01", "P102", "效益", "社会效益", "机关运转", "定性", "正常运转", None, None],
    ]


def self_evaluation() -> dict[str, Rows]:
    """A consistent self-evaluation of D01; 部门自评 E2 is 自评报告公开日期."""
    return {
        "指标完成": [
            ["D01", "P101", "培训人次", 520, None],
            ["D01", "P101", "家长满意度提升", None, "达成"],
            ["D01", "P101", "学生满意度", 92, None],
            ["D01", "P102", "保障人数", 120, None],
            ["D01", "P102", "机关运转", None, "达成"],
        ],
        "项目自评": [["D01", "P101", 95, None], ["D01", "P102", 98, None]],
        "部门自评": [["D01", 96, "P101", 93, date(2025, 5, 20)]],
    }


SELF_HEADERS = {"指标完成": ACTUAL_HEADERS, "项目自评": PROJECT_SELF_HEADERS, "部门自评": DEPARTMENT_SELF_HEADERS}


# ------------------------------------------------------------------------------------------ writing


def workbook(sheets: Mapping[str, tuple[Sequence[Any], Rows]]) -> Workbook:
    """A workbook with one sheet per entry: a header row, then the rows, as a user would type them."""
    book = Workbook()
    book.remove(book.active)
    for name, (headers, rows) in sheets.items():
        ws = book.create_sheet(name)
        ws.append(list(headers))
        for row in rows:
            ws.append(row)
    return book


def base_book(dept_rows: Rows | None = None, project_rows: Rows | None = None) -> Workbook:
    return workbook(
        {
            "部门": (DEPARTMENT_HEADERS, departments() if dept_rows is None else dept_rows),
            "项目": (PROJECT_HEADERS, projects() if project_rows is None else project_rows),
        }
    )


def targets_book(rows: Rows | None = None) -> Workbook:
    return workbook({"绩效指标": (TARGET_HEADERS, targets() if rows is None else rows)})


def self_evaluation_book(published_on: Any, number_format: str | None = None) -> Workbook:
    sheets = self_evaluation()
    book = workbook({name: (SELF_HEADERS[name], rows) for name, rows in sheets.items()})
    cell = book["部门自评"]["E2"]
    cell.value = published_on
    if number_format:
        cell.number_format = number_format
    return book


def save(book: Workbook, path: Path) -> Path:
    book.save(path)
    return path


def with_cell(book: Workbook, sheet: str, ref: str, value: Any) -> Workbook:
    book[sheet][ref] = value
    return book


def patch_member(path: Path, member: str, old: bytes, new: bytes) -> Path:
    """Rewrite one part of a saved .xlsx (for what openpyxl would never write itself)."""
    with zipfile.ZipFile(path) as archive:
        parts = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in parts:
            if info.filename == member:
                assert old in data, f"{old!r} not in {member}"
                data = data.replace(old, new)
            archive.writestr(info.filename, data)
    return path


def sheet_member(book_path: Path, sheet: str) -> str:
    """The archive part of a worksheet, e.g. xl/worksheets/sheet2.xml."""
    from openpyxl import load_workbook

    names = load_workbook(book_path, read_only=True).sheetnames
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def _raw_zip(path: Path, entries: Sequence[tuple[str, bytes, int, int, int]]) -> Path:
    """Write a zip by hand from (name, deflated bytes, crc32, uncompressed size, flag bits) entries.

    zipfile would inflate-then-deflate or refuse; this writes exactly the bytes and sizes given, so an entry can
    declare gigabytes that were never materialised anywhere.
    """
    central = b""
    with path.open("wb") as handle:
        for name, data, crc, size, flags in entries:
            offset = handle.tell()
            encoded = name.encode()
            handle.write(
                struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
            )
            handle.write(encoded)
            handle.write(data)
            central += struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                flags,
                8,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            central += encoded
        start = handle.tell()
        handle.write(central)
        handle.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), start, 0))
    return path


def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def zip_bomb(path: Path, good: Path, unpacked_mb: int) -> Path:
    """A real workbook whose first worksheet is `unpacked_mb` MB of spaces, deflated to about 1/1000.

    The deflate stream is made of identical 1 MB pieces (a full flush resets the compressor, so each piece of
    spaces deflates to the same bytes): nothing of the declared size is ever held in memory or on disk.
    """
    with zipfile.ZipFile(good) as archive:
        parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    head, tail = b"<worksheet><sheetData>", b"</sheetData></worksheet>"
    block = b" " * MB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(unpacked_mb):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    bomb = first + piece * unpacked_mb + last
    size = len(head) + unpacked_mb * MB + len(tail)
    entries = []
    for name, data in parts:
        if name == "xl/worksheets/sheet1.xml":
            entries.append((name, bomb, crc, size, 0))
        else:
            entries.append((name, _deflated(data), zlib.crc32(data), len(data), 0))
    return _raw_zip(path, entries)


def encrypted_entries(path: Path, good: Path) -> Path:
    """A workbook whose zip entries claim to be encrypted with a (WinZip/7-Zip) password."""
    with zipfile.ZipFile(good) as archive:
        parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    return _raw_zip(path, [(name, _deflated(data), zlib.crc32(data), len(data), 0x1) for name, data in parts])


def compound_file(path: Path, streams: Sequence[tuple[str, bytes]]) -> Path:
    """A minimal OLE compound file (CFB v3, 512-byte sectors): the container of .xls and of encrypted .xlsx.

    Sector 0 holds the FAT, sector 1 the directory (root + streams), then each stream (padded to 4096 bytes so
    that none lives in the mini stream).
    """
    sector = 512
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    padded = [(name, data.ljust(max(4096, -(-len(data) // sector) * sector), b"\0")) for name, data in streams]
    fat = [fat_sector, end]
    starts = []
    for _, data in padded:
        count = len(data) // sector
        starts.append(len(fat))
        fat.extend(len(fat) + 1 for _ in range(count - 1))
        fat.append(end)
    assert len(fat) <= sector // 4, "a single FAT sector is enough for this corpus"
    fat_bytes = struct.pack(f"<{sector // 4}I", *(fat + [free] * (sector // 4 - len(fat))))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, free, right, child)
            + b"\0" * 16  # CLSID
            + b"\0" * 4  # state bits
            + b"\0" * 16  # creation and modification times
            + struct.pack("<IQ", start, size)
        )

    # siblings form a (degenerate, all-black) tree ordered by name length then name, as the format requires
    order = sorted(range(len(streams)), key=lambda i: (len(streams[i][0]), streams[i][0].upper()))
    entries = [entry("Root Entry", 5, order[0] + 1 if order else free, free, end, 0)]
    for index, (name, data) in enumerate(streams):
        position = order.index(index)
        right = order[position + 1] + 1 if position + 1 < len(order) else free
        entries.append(entry(name, 2, free, right, starts[index], len(data)))
    directory = b"".join(entries).ljust(sector * -(-len(entries) * 128 // sector), b"\0")
    assert len(directory) == sector, "one directory sector (4 entries) is enough for this corpus"
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *([free] * 108))
    )
    assert len(header) == sector
    path.write_bytes(header + fat_bytes + directory + b"".join(data for _, data in padded))
    return path


# --------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Expected:
    """One problem the refusal must list: where exactly, and the reason by its beginning."""

    sheet: str | None
    row: int | None
    column: str | None
    reason: str
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    wrong: str
    build: Callable[[Path, GoodFiles], Path]
    expected: tuple[Expected, ...]
    kind: str | None = None
    quarter: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class GoodFiles:
    base: Path
    targets: Path


def build_good(folder: Path) -> GoodFiles:
    folder.mkdir(parents=True, exist_ok=True)
    return GoodFiles(
        base=save(base_book(), folder / "good-base.xlsx"), targets=save(targets_book(), folder / "good-targets.xlsx")
    )


def file(name: str) -> Callable[[Callable[[Path, GoodFiles], Path]], Callable[[Path, GoodFiles], Path]]:
    """Let a builder write `name` in the corpus folder."""

    def wrap(make: Callable[[Path, GoodFiles], Path]) -> Callable[[Path, GoodFiles], Path]:
        def build(folder: Path, good: GoodFiles) -> Path:
            return make(folder / name, good)

        return build

    return wrap


def base_with(ref: str, value: Any, sheet: str = "项目") -> Callable[[Path, GoodFiles], Path]:
    return lambda path, good: save(with_cell(base_book(), sheet, ref, value), path)


def _drop_column(rows: Rows, index: int) -> Rows:
    return [row[:index] + row[index + 1 :] for row in rows]


def _missing_column(path: Path, good: GoodFiles) -> Path:
    index = PROJECT_HEADERS.index("政策相关")
    return save(
        workbook(
            {
                "部门": (DEPARTMENT_HEADERS, departments()),
                "项目": (PROJECT_HEADERS[:index] + PROJECT_HEADERS[index + 1 :], _drop_column(projects(), index)),
            }
        ),
        path,
    )


def _duplicate_header(path: Path, good: GoodFiles) -> Path:
    rows = [[*row, row[2]] for row in projects()]
    return save(
        workbook({"部门": (DEPARTMENT_HEADERS, departments()), "项目": ([*PROJECT_HEADERS, "项目名称"], rows)}), path
    )


def _merged_header(path: Path, good: GoodFiles) -> Path:
    book = base_book()
    book["部门"].merge_cells("A1:B1")
    return save(book, path)


def _title_row(path: Path, good: GoodFiles) -> Path:
    book = base_book()
    book["项目"].insert_rows(1)
    book["项目"]["A1"] = "2024 年区级预算项目表"
    return save(book, path)


def _renamed_sheet(path: Path, good: GoodFiles) -> Path:
    book = base_book()
    book["部门"].title = "部门信息"
    return save(book, path)


def _missing_sheet(path: Path, good: GoodFiles) -> Path:
    book = base_book()
    del book["项目"]
    return save(book, path)


def _numeric_raw(value: bytes) -> Callable[[Path, GoodFiles], Path]:
    """年度预算 of P101 as a raw numeric cell value only a hand-made (or broken) file can hold."""

    def make(path: Path, good: GoodFiles) -> Path:
        save(with_cell(base_book(), "项目", "F2", 123456789.25), path)
        return patch_member(path, sheet_member(path, "项目"), b"<v>123456789.25</v>", b"<v>" + value + b"</v>")

    return make


def _ten_thousand_rows(path: Path, good: GoodFiles) -> Path:
    book = Workbook(write_only=True)
    ws = book.create_sheet("部门")
    ws.append(DEPARTMENT_HEADERS)
    for row in departments():
        ws.append(row)
    ws = book.create_sheet("项目")
    ws.append(PROJECT_HEADERS)
    for number in range(1, 10_001):
        budget: Any = "abc" if number == 10_000 else 10
        ws.append([f"X{number:05d}", "D01", f"社区服务点{number}", "事业发展类", "新增", budget, 0, "否", "否"])
    book.save(path)
    return path


def _only_headers(path: Path, good: GoodFiles) -> Path:
    return save(base_book(dept_rows=[], project_rows=[]), path)


def _targets_with(row: list[Any] | None = None, replace: int | None = None) -> Callable[[Path, GoodFiles], Path]:
    def make(path: Path, good: GoodFiles) -> Path:
        rows = targets()
        if replace is not None and row is not None:
            rows[replace] = row
        elif row is not None:
            rows.append(row)
        return save(targets_book(rows), path)

    return make


def _monitoring(spent: Any, progress: Any) -> Callable[[Path, GoodFiles], Path]:
    return lambda path, good: save(
        workbook({"项目监控": (MONITORING_HEADERS, [["D01", "P101", "Q1", spent, progress, "确定能", None]])}), path
    )


def _published_on(value: Any, number_format: str | None = None) -> Callable[[Path, GoodFiles], Path]:
    return lambda path, good: save(self_evaluation_book(value, number_format), path)


def _empty(path: Path, good: GoodFiles) -> Path:
    path.write_bytes(b"")
    return path


def _xls(path: Path, good: GoodFiles) -> Path:
    biff = b"\x09\x08\x10\x00\x00\x06\x05\x00" + b"\0" * 4088  # a BIFF8 BOF record, then nothing useful
    return compound_file(path, [("Workbook", biff), ("\x05SummaryInformation", b"\0" * 4096)])


def _encrypted(path: Path, good: GoodFiles) -> Path:
    info = struct.pack("<HHI", 4, 4, 0x40) + b"<encryption/>"  # agile encryption header
    return compound_file(path, [("EncryptionInfo", info), ("EncryptedPackage", b"\x17" * 8192)])


def _oversized(path: Path, good: GoodFiles) -> Path:
    """A real workbook with 51 MB of stored (not compressed) media: over the 50 MB limit on disk."""
    path.write_bytes(good.base.read_bytes())
    chunk = bytes(range(256)) * 4096  # 1 MB
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive, archive.open("xl/media/image1.bin", "w") as media:
        for _ in range(51):
            media.write(chunk)
    return path


def _not_a_zip(path: Path, good: GoodFiles) -> Path:
    path.write_text("部门编码,部门名称\nD01,区教育局\n", encoding="utf-8")
    return path


def _word(path: Path, good: GoodFiles) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return path


def _truncated(path: Path, good: GoodFiles) -> Path:
    data = good.base.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _chart_sheet(path: Path, good: GoodFiles) -> Path:
    book = base_book()
    del book["项目"]
    chart = BarChart()
    chart.add_data(Reference(book["部门"], min_col=1, min_row=1, max_row=3))
    book.create_chartsheet("项目").add_chart(chart)
    return save(book, path)


def _broken_sheet(path: Path, good: GoodFiles) -> Path:
    save(base_book(), path)
    member = sheet_member(path, "项目")
    with zipfile.ZipFile(path) as archive:
        original = archive.read(member)
    return patch_member(path, member, original, b'<worksheet><sheetData><row r="2"><c r="A2"><v>99</v>')


# ------------------------------------------------------------------------------------ raw workbooks
#
# Workbooks written part by part, as a script (or a careless hand) could: each case changes one thing in the
# XML that no spreadsheet program writes.

SPREADSHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_SPREADSHEET_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
STRICT_RELATIONSHIPS_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def column_letter(index: int) -> str:
    """0 → A, 26 → AA."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def cell_xml(ref: str, value: Any) -> str:
    if value is None:
        return f'<c r="{ref}"/>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{_escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def row_xml(number: int, values: Sequence[Any]) -> str:
    cells = "".join(cell_xml(f"{column_letter(i)}{number}", value) for i, value in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def rows_xml(headers: Sequence[Any], rows: Rows) -> list[str]:
    """The <row> elements of a sheet: the header on row 1, then the rows."""
    return [row_xml(number, values) for number, values in enumerate([list(headers), *rows], start=1)]


def worksheet_xml(rows: Sequence[str], namespace: str = SPREADSHEET_NS) -> str:
    return f'<worksheet xmlns="{namespace}"><sheetData>{"".join(rows)}</sheetData></worksheet>'


@dataclass(frozen=True)
class RawSheet:
    name: str
    xml: str
    hidden: bool = False


def raw_parts(
    sheets: Sequence[RawSheet], *, strict: bool = False, shared: Sequence[str] = ()
) -> list[tuple[str, bytes]]:
    """The parts of a minimal .xlsx holding `sheets` (and a shared-string table when `shared` is given)."""
    main = STRICT_SPREADSHEET_NS if strict else SPREADSHEET_NS
    rels_ns = STRICT_RELATIONSHIPS_NS if strict else RELATIONSHIPS_NS
    package_rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{types}</Types>"
    )
    root_rels = (
        f'<Relationships xmlns="{package_rels}"><Relationship Id="rId1" '
        f'Type="{rels_ns}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    listed = "".join(
        f'<sheet name="{_escape(sheet.name)}" sheetId="{i}" r:id="rId{i}"'
        + (' state="hidden"' if sheet.hidden else "")
        + "/>"
        for i, sheet in enumerate(sheets, start=1)
    )
    book = f'<workbook xmlns="{main}" xmlns:r="{rels_ns}"><sheets>{listed}</sheets></workbook>'
    targets = "".join(
        f'<Relationship Id="rId{i}" Type="{rels_ns}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared:
        targets += f'<Relationship Id="rIdS" Type="{rels_ns}/sharedStrings" Target="sharedStrings.xml"/>'
    parts = [
        ("[Content_Types].xml", content_types.encode()),
        ("_rels/.rels", root_rels.encode()),
        ("xl/workbook.xml", book.encode()),
        ("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{package_rels}">{targets}</Relationships>'.encode()),
    ]
    parts += [(f"xl/worksheets/sheet{i}.xml", sheet.xml.encode()) for i, sheet in enumerate(sheets, start=1)]
    if shared:
        items = "".join(f"<si><t>{_escape(text)}</t></si>" for text in shared)
        parts.append(("xl/sharedStrings.xml", f'<sst xmlns="{main}">{items}</sst>'.encode()))
    return parts


def write_parts(path: Path, parts: Sequence[tuple[str, bytes]]) -> Path:
    """A zip of exactly these parts, in this order (two parts of the same name included)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name: that is the point of some cases
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts:
                archive.writestr(name, data)
    return path


def base_sheets(dept_rows: Sequence[str] | None = None, project_rows: Sequence[str] | None = None) -> list[RawSheet]:
    """部门 and 项目 of the good base data, as raw sheets (their <row> elements can be replaced)."""
    return [
        RawSheet("部门", worksheet_xml(dept_rows or rows_xml(DEPARTMENT_HEADERS, departments()))),
        RawSheet("项目", worksheet_xml(project_rows or rows_xml(PROJECT_HEADERS, projects()))),
    ]


def raw_base(
    change: Callable[[list[RawSheet]], list[RawSheet]] | None = None, **options: Any
) -> Callable[[Path, GoodFiles], Path]:
    """A builder of the good base data written part by part, with `change` applied to its sheets."""

    def make(path: Path, good: GoodFiles) -> Path:
        sheets = base_sheets()
        return write_parts(path, raw_parts(change(sheets) if change else sheets, **options))

    return make


def _project_rows(order: Sequence[int] | None = None) -> list[str]:
    """The 项目 sheet's <row> elements (header first), in the given order of their positions."""
    rows = rows_xml(PROJECT_HEADERS, projects())
    return [rows[i] for i in order] if order is not None else rows


def _with_project_rows(rows: list[str]) -> Callable[[Path, GoodFiles], Path]:
    return raw_base(lambda sheets: [sheets[0], RawSheet("项目", worksheet_xml(rows))])


def _rows_backwards(path: Path, good: GoodFiles) -> Path:
    """Rows numbered 1, 2, 4, 3: the last two written in reverse."""
    return _with_project_rows(_project_rows([0, 1, 3, 2]))(path, good)


def _cells_out_of_order(path: Path, good: GoodFiles) -> Path:
    """Row 2 with its G cell written before its A cell."""
    rows = _project_rows()
    cells = re.findall(r"<c r=\"[A-Z]+2\".*?</c>", rows[1])
    rows[1] = '<row r="2">' + cells[6] + "".join(cells[:6]) + "".join(cells[7:]) + "</row>"
    return _with_project_rows(rows)(path, good)


def _duplicate_cell(path: Path, good: GoodFiles) -> Path:
    """Row 2 with a second F2 (年度预算) right after the first."""
    rows = _project_rows()
    rows[1] = rows[1].replace(cell_xml("F2", 1000), cell_xml("F2", 1000) + cell_xml("F2", 9999))
    return _with_project_rows(rows)(path, good)


def _shared_minus_one(path: Path, good: GoodFiles) -> Path:
    """A 项目 sheet whose project name cells are shared strings, one of them number -1."""
    rows = _project_rows()
    names = [row[2] for row in projects()]
    for at, name in enumerate(names):
        index = -1 if at == 0 else at
        rows[at + 1] = rows[at + 1].replace(cell_xml(f"C{at + 2}", name), f'<c r="C{at + 2}" t="s"><v>{index}</v></c>')
    sheets = [base_sheets()[0], RawSheet("项目", worksheet_xml(rows))]
    return write_parts(path, raw_parts(sheets, shared=names))


def _twin_sheets(path: Path, good: GoodFiles) -> Path:
    """A visible 项目 and a hidden 项目 with a trailing space."""
    return raw_base(lambda sheets: [*sheets, RawSheet("项目 ", sheets[1].xml, hidden=True)])(path, good)


def _invisible_twin(path: Path, good: GoodFiles) -> Path:
    """A 部门 and a 部门 with a zero-width space inside its name."""
    return raw_base(lambda sheets: [*sheets, RawSheet("部\u200b门", sheets[0].xml)])(path, good)


def _duplicate_part(path: Path, good: GoodFiles) -> Path:
    """Two zip entries named xl/worksheets/sheet2.xml, the second with another budget for P101."""
    parts = raw_parts(base_sheets())
    other = rows_xml(PROJECT_HEADERS, [["P101", *projects()[0][1:5], 1, 600, "是", "否"], *projects()[1:]])
    return write_parts(path, [*parts, ("xl/worksheets/sheet2.xml", worksheet_xml(other).encode())])


def _missing_sheet_part(path: Path, good: GoodFiles) -> Path:
    """The workbook lists 部门, but its worksheet part is not in the zip."""
    parts = [part for part in raw_parts(base_sheets()) if part[0] != "xl/worksheets/sheet1.xml"]
    return write_parts(path, parts)


def _shared_strings_elsewhere(path: Path, good: GoodFiles) -> Path:
    """The shared-string table at xl/strings.xml, named so by the workbook's relationships."""
    parts = []
    for name, data in raw_parts(base_sheets(), shared=["x"]):
        if name == "xl/_rels/workbook.xml.rels":
            data = data.replace(b'Target="sharedStrings.xml"', b'Target="strings.xml"')
        parts.append(("xl/strings.xml" if name == "xl/sharedStrings.xml" else name, data))
    return write_parts(path, parts)


def _dtd_in_part(path: Path, good: GoodFiles) -> Path:
    """A worksheet with a DTD declaring an internal entity."""
    sheets = base_sheets()
    sheets[0] = RawSheet("部门", '<!DOCTYPE worksheet [<!ENTITY name "区教育局">]>' + sheets[0].xml)
    return write_parts(path, raw_parts(sheets))


def _amount_text(text: str) -> Callable[[Path, GoodFiles], Path]:
    """年度预算 of P101 typed as text."""
    rows = projects()
    rows[0][5] = text
    return _with_project_rows(rows_xml(PROJECT_HEADERS, rows))


def _huge_row_number(path: Path, good: GoodFiles) -> Path:
    """A row numbered 1 000 000 000 000 after the good rows."""
    rows = _project_rows()
    rows.append('<row r="1000000000000"><c r="A1000000000000" t="inlineStr"><is><t>P999</t></is></c></row>')
    return _with_project_rows(rows)(path, good)


def _far_right_values(path: Path, good: GoodFiles) -> Path:
    """4 000 rows each holding one value at column XFD, the last column Excel has."""
    rows = _project_rows()
    rows += [f'<row r="{n}"><c r="XFD{n}"><v>1</v></c></row>' for n in range(5, 4005)]
    return _with_project_rows(rows)(path, good)


def _without_references(sheets: list[RawSheet]) -> list[RawSheet]:
    """Rows and cells without their r attribute (allowed by the format; no spreadsheet program omits it)."""
    return [RawSheet(s.name, re.sub(r' r="[A-Z0-9]+"', "", s.xml)) for s in sheets]


def _prefixed(sheets: list[RawSheet]) -> list[RawSheet]:
    """Every element of the sheets with a namespace prefix."""

    def rewrite(xml: str) -> str:
        xml = re.sub(r"<(/?)(worksheet|sheetData|row|c|v|is|t)\b", r"<\1x:\2", xml)
        return xml.replace(f'xmlns="{SPREADSHEET_NS}"', f'xmlns:x="{SPREADSHEET_NS}"')

    return [RawSheet(s.name, rewrite(s.xml)) for s in sheets]


def _date_serial_zero(path: Path, good: GoodFiles) -> Path:
    return save(self_evaluation_book(0, "yyyy-mm-dd"), path)


def shared_strings_at_limit(path: Path, unpacked: int) -> Path:
    """The good base data with a shared-string table that unpacks to `unpacked` bytes, compressing about 30
    times (under the policy's ratio): what calamine holds in memory for a file at the policy's limits."""
    import random

    choose = random.Random(18)
    block = b"".join(
        b"<si><t>"
        + b"a" * choose.randint(100, 300)
        + bytes(choose.choices(b"abcdefghijklmnopqrstuvwxyz", k=6))
        + b"</t></si>"
        for _ in range(4000)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in raw_parts(base_sheets(), shared=["x"]):
            if name != "xl/sharedStrings.xml":
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as handle:
                handle.write(f'<sst xmlns="{SPREADSHEET_NS}">'.encode())
                for _ in range(unpacked // len(block)):
                    handle.write(block)
                handle.write(b"</sst>")
    return path


def _lying_deflate(path: Path, good: GoodFiles) -> Path:
    """The 部门 sheet's deflate stream inflates to 400 MB of spaces after its declared 1 KB or so."""
    parts = raw_parts(base_sheets())
    entries = []
    for name, data in parts:
        if name == "xl/worksheets/sheet1.xml":
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            stream = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
            piece = compressor.compress(b" " * MB) + compressor.flush(zlib.Z_FULL_FLUSH)
            stream += piece * 400 + compressor.flush()
            entries.append((name, stream, zlib.crc32(data), len(data), 0))
        else:
            entries.append((name, _deflated(data), zlib.crc32(data), len(data), 0))
    return _raw_zip(path, entries)


MONEY = "年度预算（万元）"


def corpus() -> list[Case]:
    """Every hostile case, in a stable order."""
    e = Expected
    return [
        # ---------------------------------------------------------------------- sheets and headers
        Case(
            "renamed-sheet",
            "wrong sheet name: 部门 renamed to 部门信息 (kind detected from the sheets)",
            file("renamed-sheet.xlsx")(_renamed_sheet),
            (
                e(
                    None,
                    None,
                    None,
                    "无法识别表格类型：工作表为 部门信息、项目",
                    ("工作表「部门信息」是否应命名为「部门」？",),
                ),
            ),
        ),
        Case(
            "missing-sheet",
            "a required sheet is missing (项目), kind given",
            file("missing-sheet.xlsx")(_missing_sheet),
            (
                e(
                    None,
                    None,
                    None,
                    f"缺少工作表「项目」（{BASE.title}应有: {'、'.join(sheet.name for sheet in BASE.sheets)}）",
                ),
            ),
            kind="base",
        ),
        Case(
            "wrong-kind",
            "a targets workbook imported as base data",
            file("wrong-kind.xlsx")(lambda path, good: save(targets_book(), path)),
            (
                e(None, None, None, "缺少工作表「部门」"),
                e(None, None, None, "缺少工作表「项目」"),
                e(
                    None,
                    None,
                    None,
                    "这个工作簿像是「项目绩效目标申报表」（targets），不是「区级预算绩效管理基础数据」（base）",
                ),
            ),
            kind="base",
        ),
        Case(
            "missing-column",
            "a required column (政策相关) is missing",
            file("missing-column.xlsx")(_missing_column),
            (e("项目", 1, "政策相关", "缺少此列"),),
        ),
        Case(
            "misspelt-header",
            "a header misspelt (项目名称 → 项目名)",
            file("misspelt-header.xlsx")(base_with("C1", "项目名")),
            (e("项目", 1, "项目名", "C 列的列名「项目名」不符合格式，应为「项目名称」"),),
        ),
        Case(
            "duplicate-header",
            "the same header twice",
            file("duplicate-header.xlsx")(_duplicate_header),
            (e("项目", 1, "项目名称", "表头重复：J 列与 C 列同名"),),
        ),
        Case(
            "merged-header",
            "merged header cells (A1:B1 of 部门)",
            file("merged-header.xlsx")(_merged_header),
            (e("部门", 1, "部门名称", "B 列的表头为空（合并单元格？），应为「部门名称」"),),
        ),
        Case(
            "title-row",
            "a title row above the header (header on row 2)",
            file("title-row.xlsx")(_title_row),
            (e("项目", 1, None, "表头必须在第 1 行：第 2 行才像表头，请删除上面的标题行"),),
        ),
        Case(
            "chart-sheet",
            "a chart sheet where the 项目 data sheet should be",
            file("chart-sheet.xlsx")(_chart_sheet),
            (e("项目", None, None, "是图表页，不是数据表；请把数据填在普通工作表中"),),
        ),
        Case(
            "only-headers",
            "headers but not one data row",
            file("only-headers.xlsx")(_only_headers),
            (e(None, None, None, "工作簿中没有数据行（只有表头）"),),
        ),
        # ------------------------------------------------------------------------------- cells
        Case(
            "text-in-money",
            "text in a money cell",
            file("text-in-money.xlsx")(base_with("F3", "二百万")),
            (e("项目", 3, MONEY, "不是数字: '二百万'"),),
        ),
        Case(
            "formula-in-money",
            "a formula in a money cell",
            file("formula-in-money.xlsx")(base_with("F2", "=G2*2")),
            (e("项目", 2, MONEY, "不接受公式，请复制后“粘贴为数值”"),),
        ),
        Case(
            "error-value",
            "an Excel error value (#DIV/0!) in a money cell",
            file("error-value.xlsx")(base_with("G4", "#DIV/0!")),
            (e("项目", 4, "预算年度申请（万元）", "单元格是错误值 #DIV/0!"),),
        ),
        Case(
            "negative-money",
            "negative money",
            file("negative-money.xlsx")(base_with("F2", -50)),
            (e("项目", 2, MONEY, "金额不能为负数: -50"),),
        ),
        Case(
            "nan-text",
            "NaN typed in a money cell",
            file("nan-text.xlsx")(base_with("F2", "NaN")),
            (e("项目", 2, MONEY, "不是有限数字: 'NaN'"),),
        ),
        Case(
            "infinity-text",
            "inf typed in a money cell",
            file("infinity-text.xlsx")(base_with("F2", "-inf")),
            (e("项目", 2, MONEY, "不是有限数字: '-inf'"),),
        ),
        Case(
            "infinity-number",
            "a numeric cell holding 1E+400 (infinite as a float)",
            file("infinity-number.xlsx")(_numeric_raw(b"1E+400")),
            (e("项目", 2, MONEY, "不是有限数字: inf"),),
        ),
        Case(
            "nan-number",
            "a numeric cell holding NaN (no spreadsheet program writes it; a generator might)",
            file("nan-number.xlsx")(_numeric_raw(b"NaN")),
            (e("项目", 2, MONEY, "不是有限数字: nan"),),
        ),
        Case(
            "huge-money",
            "huge money (2 × 10^10 万元)",
            file("huge-money.xlsx")(base_with("F2", 2 * 10**10)),
            (e("项目", 2, MONEY, "金额过大（万元）: 20000000000"),),
        ),
        Case(
            "over-precise-money",
            "money with 3 decimals",
            file("over-precise-money.xlsx")(base_with("F2", 12.345)),
            (e("项目", 2, MONEY, "金额最多两位小数（万元）: 12.345"),),
        ),
        Case(
            "bad-choice",
            "a value outside the choice list",
            file("bad-choice.xlsx")(base_with("D3", "其他类")),
            (e("项目", 3, "项目类型", "「其他类」不是可选值；可选: 机构运行保障类、事业发展类"),),
        ),
        Case(
            "bad-yes-no",
            "Y instead of 是/否",
            file("bad-yes-no.xlsx")(base_with("H2", "Y")),
            (e("项目", 2, "政策相关", "应填「是」或「否」，不是 'Y'"),),
        ),
        Case(
            "code-with-newline",
            "a line break inside a code",
            file("code-with-newline.xlsx")(base_with("A3", "D0\n3", sheet="部门")),
            (e("部门", 3, "部门编码", "编码中不能有换行或制表符: 'D0\\n3'"),),
        ),
        Case(
            "markup-in-cell",
            "console markup in a cell ([/]) must be shown as typed",
            file("markup-in-cell.xlsx")(base_with("F2", "[/]")),
            (e("项目", 2, MONEY, "不是数字: '[/]'"),),
            tags=frozenset({"markup"}),
        ),
        Case(
            "text-too-long",
            "a project name longer than its database column",
            file("text-too-long.xlsx")(base_with("C2", "很长的项目名称" * 50)),
            (e("项目", 2, "项目名称", "内容过长（350 个字符，最多 300 个）"),),
        ),
        # ------------------------------------------------------------------------------- dates
        Case(
            "date-month-13",
            "a date in month 13",
            file("date-month-13.xlsx")(_published_on("2024年13月")),
            (e("部门自评", 2, "自评报告公开日期", "日期不存在: '2024年13月'（月份应为 1–12）"),),
        ),
        Case(
            "date-minguo",
            "a date in the 民国 calendar",
            file("date-minguo.xlsx")(_published_on("民国114年5月20日")),
            (
                e(
                    "部门自评",
                    2,
                    "自评报告公开日期",
                    "请填公历日期 YYYY-MM-DD（不接受民国、农历等纪年）: '民国114年5月20日'",
                ),
            ),
        ),
        Case(
            "date-two-digit-year",
            "a 2-digit year",
            file("date-two-digit-year.xlsx")(_published_on("25-05-20")),
            (e("部门自评", 2, "自评报告公开日期", "年份应写四位数（如 2025-05-31），不是 '25-05-20'"),),
        ),
        Case(
            "date-serial-overflow",
            "a date cell whose Excel serial is far beyond any date (99999999)",
            file("date-serial-overflow.xlsx")(_published_on(99999999, "yyyy-mm-dd")),
            (e("部门自评", 2, "自评报告公开日期", "日期序号 99999999 超出 Excel 的日期范围"),),
        ),
        Case(
            "date-serial-1900",
            "a date cell with serial 1 (1900-01-01)",
            file("date-serial-1900.xlsx")(_published_on(1, "yyyy-mm-dd")),
            (e("部门自评", 2, "自评报告公开日期", "日期超出范围: 1900-01-01（应在 2000 到 2100 年之间）"),),
        ),
        # ------------------------------------------------------------------------ cross-references
        Case(
            "unknown-department",
            "a project of an unknown department",
            file("unknown-department.xlsx")(base_with("B3", "D99")),
            (e("项目", 3, "部门编码", "部门编码「D99」不存在（既不在「部门」工作表中，也未登记）"),),
        ),
        Case(
            "duplicate-project",
            "the same project code twice",
            file("duplicate-project.xlsx")(base_with("A3", "P101")),
            (e("项目", 3, "项目编码", "与第 2 行重复（P101）；项目编码在本工作表中不能重复"),),
        ),
        Case(
            "ten-thousand-rows",
            "10 000 data rows, the very last one bad",
            file("ten-thousand-rows.xlsx")(_ten_thousand_rows),
            (e("项目", 10_001, MONEY, "不是数字: 'abc'"),),
        ),
        Case(
            "target-missing",
            "a quantitative indicator (≥) without a target value",
            file("target-missing.xlsx")(
                _targets_with(["D01", "P101", "产出", "数量", "培训人次", "≥", None, "人次", None], 0)
            ),
            (e("绩效指标", 2, "目标值", "定量指标（运算符 ≥）必须填写目标值（数字）"),),
        ),
        Case(
            "target-not-a-number",
            "a quantitative indicator with a text target",
            file("target-not-a-number.xlsx")(
                _targets_with(["D01", "P101", "产出", "数量", "培训人次", "≥", "约九成", "人次", None], 0)
            ),
            (e("绩效指标", 2, "目标值", "定量指标（运算符 ≥）的目标值必须是数字: '约九成'"),),
        ),
        Case(
            "target-other-department",
            "D01's workbook sets a target for D02's project",
            file("target-other-department.xlsx")(
                _targets_with(["D01", "P201", "产出", "数量", "体检人数", "≥", "3000", "人", None])
            ),
            (e("绩效指标", 7, "项目编码", "项目 P201 属于部门 D02，不属于 D01"),),
        ),
        Case(
            "target-unknown-project",
            "a target for a project that does not exist",
            file("target-unknown-project.xlsx")(
                _targets_with(["D01", "P999", "产出", "数量", "某指标", "≥", "1", "个", None])
            ),
            (e("绩效指标", 7, "项目编码", "项目「P999」不是 2024 年度的项目（基础数据中没有）"),),
        ),
        Case(
            "progress-over-100",
            "monitoring: progress 150 %",
            file("progress-over-100.xlsx")(_monitoring(200, 150)),
            (e("项目监控", 2, "目标完成进度（%）", "百分比应在 0 到 100 之间: 150"),),
        ),
        Case(
            "overspent",
            "monitoring: spending above the annual budget",
            file("overspent.xlsx")(_monitoring(5000, 30)),
            (
                e(
                    "项目监控",
                    2,
                    "累计支出（万元）",
                    "累计支出超过年度预算（累计支出 5000.00 万元，年度预算 1000.00 万元）",
                ),
            ),
        ),
        # ------------------------------------------------------------------- read exactly or refused
        Case(
            "rows-backwards",
            "rows numbered 1, 2, 4, 3 (written out of order)",
            file("rows-backwards.xlsx")(_rows_backwards),
            (e("项目", 3, None, "第 3 行写在第 4 行之后（行的顺序颠倒）"),),
        ),
        Case(
            "cells-out-of-order",
            "G2 written before A2",
            file("cells-out-of-order.xlsx")(_cells_out_of_order),
            (e("项目", 2, None, "单元格 A2 写在 G2 之后（列的顺序颠倒"),),
        ),
        Case(
            "duplicate-cell",
            "the cell F2 twice in its row",
            file("duplicate-cell.xlsx")(_duplicate_cell),
            (e("项目", 2, None, "单元格 F2 在文件中出现了两次"),),
        ),
        Case(
            "shared-string-minus-one",
            "a shared-string index of -1",
            file("shared-string-minus-one.xlsx")(_shared_minus_one),
            (e("项目", 2, None, "文件已损坏：单元格 C2 引用的共享字符串（编号 -1）不存在"),),
        ),
        Case(
            "twin-sheets",
            "a visible 项目 and a hidden 项目 with a trailing space",
            file("twin-sheets.xlsx")(_twin_sheets),
            (e(None, None, None, "工作表「项目」与「项目 」的名称只差空格或不可见字符，无法确定该读哪一个"),),
        ),
        Case(
            "invisible-twin-sheets",
            "部门 and 部门 with a zero-width space inside",
            file("invisible-twin-sheets.xlsx")(_invisible_twin),
            (e(None, None, None, "工作表「部门」与「部\u200b门」的名称只差空格或不可见字符"),),
        ),
        Case(
            "duplicate-part",
            "two zip entries with the same part name",
            file("duplicate-part.xlsx")(_duplicate_part),
            (e(None, None, None, "文件已损坏：压缩包中有两个同名部件「xl/worksheets/sheet2.xml」"),),
        ),
        Case(
            "missing-sheet-part",
            "a sheet listed by the workbook whose part is not in the zip",
            file("missing-sheet-part.xlsx")(_missing_sheet_part),
            (e("部门", None, None, "文件已损坏：工作表「部门」的内容（xl/worksheets/sheet1.xml）不在文件中"),),
        ),
        Case(
            "shared-strings-elsewhere",
            "the shared strings in a part of another name than spreadsheet programs give it",
            file("shared-strings-elsewhere.xlsx")(_shared_strings_elsewhere),
            (e(None, None, None, "工作簿的部件位置不常见（xl/strings.xml）"),),
        ),
        Case(
            "dtd-in-part",
            "a DTD (with an entity) inside a worksheet part",
            file("dtd-in-part.xlsx")(_dtd_in_part),
            (e(None, None, None, "工作簿的部件「xl/worksheets/sheet1.xml」含有 DTD"),),
        ),
        Case(
            "decimal-comma",
            "an amount typed 1,5 (a decimal comma)",
            file("decimal-comma.xlsx")(_amount_text("1,5")),
            (e("项目", 2, MONEY, "不是数字: '1,5'（逗号只能作千位分隔"),),
        ),
        Case(
            "broken-thousands",
            "an amount typed 12,345,6 (not a thousands grouping)",
            file("broken-thousands.xlsx")(_amount_text("12,345,6")),
            (e("项目", 2, MONEY, "不是数字: '12,345,6'（逗号只能作千位分隔"),),
        ),
        Case(
            "huge-row-number",
            "a row numbered 1 000 000 000 000",
            file("huge-row-number.xlsx")(_huge_row_number),
            (e("项目", None, None, '工作表有单元格的位置缺失、不规范或超出 Excel 的范围（<c r="A1000000000000"'),),
            tags=frozenset({"unread"}),
        ),
        Case(
            "far-right-values",
            "4 000 rows with a value at column XFD",
            file("far-right-values.xlsx")(_far_right_values),
            (e("项目", 5, None, "单元格 XFD5 超出第 30 列（上限）"),),
            tags=frozenset({"unread"}),
        ),
        Case(
            "no-references",
            "rows and cells without references",
            file("no-references.xlsx")(raw_base(_without_references)),
            (
                e("部门", None, None, '工作表有单元格的位置缺失、不规范或超出 Excel 的范围（<c t="inlineStr"'),
                e("项目", None, None, '工作表有单元格的位置缺失、不规范或超出 Excel 的范围（<c t="inlineStr"'),
            ),
        ),
        Case(
            "prefixed-elements",
            "every element of the sheets with a namespace prefix",
            file("prefixed-elements.xlsx")(raw_base(_prefixed)),
            (
                e("部门", None, None, "工作表的元素带有命名空间前缀（<x:sheetData>）"),
                e("项目", None, None, "工作表的元素带有命名空间前缀（<x:sheetData>）"),
            ),
        ),
        Case(
            "date-serial-zero",
            "a date cell with serial 0",
            file("date-serial-zero.xlsx")(_date_serial_zero),
            (e("部门自评", 2, "自评报告公开日期", "日期序号为 0，不是日期"),),
        ),
        Case(
            "lying-deflate",
            "a 0.4 MB file whose sheet inflates to 400 MB past its declared size",
            file("lying-deflate.xlsx")(_lying_deflate),
            (e(None, None, None, "文件已损坏：压缩包中的「xl/worksheets/sheet1.xml」解压后与声明的大小不符"),),
            tags=frozenset({"unread"}),
        ),
        # ------------------------------------------------------------------------------- files
        Case(
            "empty-file",
            "an empty (0-byte) file",
            file("empty-file.xlsx")(_empty),
            (e(None, None, None, "文件是空的（0 字节）"),),
        ),
        Case(
            "xls-renamed",
            "an Excel 97-2003 .xls renamed to .xlsx",
            file("xls-renamed.xlsx")(_xls),
            (e(None, None, None, "这是旧版 Excel 97-2003 工作簿（.xls），只是扩展名改成了 .xlsx"),),
        ),
        Case(
            "password-protected",
            "a password-protected (encrypted) workbook",
            file("password-protected.xlsx")(_encrypted),
            (e(None, None, None, "工作簿设置了打开密码（已加密），系统无法读取"),),
        ),
        Case(
            "zip-password",
            "a workbook zipped with a password (encrypted zip entries)",
            file("zip-password.xlsx")(lambda path, good: encrypted_entries(path, good.base)),
            (e(None, None, None, "文件是加了密码的压缩包，无法读取"),),
        ),
        Case(
            "zip-bomb",
            "a zip bomb: a 2 GB worksheet of spaces deflated to 2 MB",
            file("zip-bomb.xlsx")(lambda path, good: zip_bomb(path, good.base, 2048)),
            (e(None, None, None, "工作簿解压后共 2,048 MB，超过上限 500 MB（可能是“压缩炸弹”），拒绝读取"),),
            tags=frozenset({"unread"}),
        ),
        Case(
            "zip-bomb-ratio",
            "a smaller zip bomb: 100 MB inflating 1 000 times, under the total limit",
            file("zip-bomb-ratio.xlsx")(lambda path, good: zip_bomb(path, good.base, 100)),
            (
                e(
                    None,
                    None,
                    None,
                    "压缩包中的「xl/worksheets/sheet1.xml」解压后 100 MB，是压缩后的 1,0",
                    ("（上限 200 倍）",),
                ),
            ),
            tags=frozenset({"unread"}),
        ),
        Case(
            "file-over-50mb",
            "a 51 MB workbook (stored media): over the size limit",
            file("file-over-50mb.xlsx")(_oversized),
            (e(None, None, None, "文件过大（51.0 MB，上限 50 MB），未读取"),),
            tags=frozenset({"unread"}),
        ),
        Case(
            "not-a-zip",
            "a CSV text file named .xlsx",
            file("not-a-zip.xlsx")(_not_a_zip),
            (e(None, None, None, "不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 打开后“另存为” .xlsx"),),
        ),
        Case(
            "zip-not-ooxml",
            "a zip that is a Word document, not a workbook",
            file("zip-not-ooxml.xlsx")(_word),
            (e(None, None, None, "不是 Excel 工作簿（.xlsx）（像是 Word 文档）"),),
        ),
        Case(
            "truncated",
            "half of a workbook (download cut off)",
            file("truncated.xlsx")(_truncated),
            (e(None, None, None, "文件已损坏（不是完整的 .xlsx 压缩包）"),),
        ),
        Case(
            "broken-sheet-xml",
            "a worksheet part that is not well-formed XML",
            file("broken-sheet-xml.xlsx")(_broken_sheet),
            (e("项目", None, None, "文件已损坏：工作表不完整"),),
        ),
    ]


# ------------------------------------------------------------------------- codes are identifiers

POLICY_HEADERS = BASE.sheet("财政政策").headers
CODE_RULE_TEXT = "（编码只能由英文字母、数字和 - _ . 组成，以字母或数字开头）"


def _department(code: str) -> list[Any]:
    return [code, "区伪造局", "钱七", "wz@example.cn", None, "孙八", None]


def _base_with_departments(*codes: str) -> Callable[[Path, GoodFiles], Path]:
    """The good base data with departments of these codes added after D01 and D02 (rows 4, 5 …)."""
    return lambda path, good: save(base_book(dept_rows=departments() + [_department(c) for c in codes]), path)


def _base_with_policy(code: str) -> Callable[[Path, GoodFiles], Path]:
    def make(path: Path, good: GoodFiles) -> Path:
        book = base_book()
        sheet = book.create_sheet("财政政策")
        sheet.append(POLICY_HEADERS)
        sheet.append([code, "义务教育补助政策", "D01", 500])
        return save(book, path)

    return make


def code_cases() -> list[Case]:
    """Codes that would name a file outside its folder (or in one no stage reads), or that differ from a good
    code only by what nobody can see: refused where they come in, base data and forms alike."""
    e = Expected
    return [
        Case(
            "code-path-traversal",
            "a department code ../../x in the base data (submit would file its form outside the folder)",
            file("code-path-traversal.xlsx")(_base_with_departments("../../x")),
            (e("部门", 4, "部门编码", "编码「../../x」含有路径分隔符「/」", (CODE_RULE_TEXT,)),),
        ),
        Case(
            "code-path-separators",
            "department codes a/b and ..\\x (filed in folders the stage never reads)",
            file("code-path-separators.xlsx")(_base_with_departments("a/b", "..\\x")),
            (
                e("部门", 4, "部门编码", "编码「a/b」含有路径分隔符「/」"),
                e("部门", 5, "部门编码", "编码「..\\x」含有路径分隔符「\\」"),
            ),
        ),
        Case(
            "code-dots-and-spaces",
            "department codes .., a..b, a leading dot, a trailing dot and a space inside",
            file("code-dots-and-spaces.xlsx")(_base_with_departments("..", "a..b", ".D03", "D03.", "D 03")),
            (
                e("部门", 4, "部门编码", "编码「..」含有「..」"),
                e("部门", 5, "部门编码", "编码「a..b」含有「..」"),
                e("部门", 6, "部门编码", "编码「.D03」不能以「.」开头"),
                e("部门", 7, "部门编码", "编码「D03.」不能以「.」结尾"),
                e("部门", 8, "部门编码", "编码「D 03」中有空格、换行或制表符"),
            ),
        ),
        Case(
            "code-invisible-character",
            "a project code P101 followed by a zero-width space (looks exactly like P101)",
            file("code-invisible-character.xlsx")(base_with("A2", "P101\u200b")),
            (e("项目", 2, "项目编码", "编码「P101」含有不可见字符 U+200B，请删除后重新输入"),),
        ),
        Case(
            "code-byte-order-mark",
            "a department code of a project starting with a BOM (U+FEFF), as pasted from a text file",
            file("code-byte-order-mark.xlsx")(base_with("B3", "\ufeffD01")),
            (e("项目", 3, "部门编码", "编码「D01」含有不可见字符 U+FEFF"),),
        ),
        Case(
            "code-full-width",
            "a project code typed with full-width digits (Ｐ１０１)",
            file("code-full-width.xlsx")(base_with("A2", "Ｐ１０１")),
            (e("项目", 2, "项目编码", "编码「Ｐ１０１」含有全角字符「Ｐ」，请用半角输入"),),
        ),
        Case(
            "policy-code-traversal",
            "a policy code ../p in the 财政政策 sheet",
            file("policy-code-traversal.xlsx")(_base_with_policy("../p")),
            (e("财政政策", 2, "政策编码", "编码「../p」含有路径分隔符「/」"),),
        ),
        Case(
            "form-code-invisible",
            "a targets form whose department code is D01 with a zero-width joiner: named, not 'unknown department'",
            file("form-code-invisible.xlsx")(
                _targets_with(["D01\u200d", "P101", "产出", "数量", "培训人次", "≥", "500", "人次", None], 0)
            ),
            (e("绩效指标", 2, "部门编码", "编码「D01」含有不可见字符 U+200D"),),
            kind="targets",
        ),
        Case(
            "form-code-separator",
            "a targets form naming project P1/01",
            file("form-code-separator.xlsx")(
                _targets_with(["D01", "P1/01", "产出", "数量", "培训人次", "≥", "500", "人次", None], 0)
            ),
            (e("绩效指标", 2, "项目编码", "编码「P1/01」含有路径分隔符「/」"),),
            kind="targets",
        ),
    ]


def header_cases() -> list[Case]:
    """Headers that look exactly right but hold a character nobody can see: the refusal names it by code point."""
    e = Expected
    return [
        Case(
            "header-invisible-character",
            "the 项目名称 header with a zero-width space inside (U+200B)",
            file("header-invisible-character.xlsx")(
                lambda path, good: save(with_cell(base_book(), "项目", "C1", "项目\u200b名称"), path)
            ),
            (e("项目", 1, "项目\u200b名称", "C 列的列名「项目名称」含有不可见字符 U+200B，应为「项目名称」"),),
        ),
        Case(
            "header-byte-order-mark",
            "the first header of 部门 starting with a BOM (U+FEFF), as pasted from a text file",
            file("header-byte-order-mark.xlsx")(
                lambda path, good: save(with_cell(base_book(), "部门", "A1", "\ufeff部门编码"), path)
            ),
            (e("部门", 1, "\ufeff部门编码", "A 列的列名「部门编码」含有不可见字符 U+FEFF，应为「部门编码」"),),
        ),
    ]


@dataclass(frozen=True)
class Built:
    case: Case
    path: Path


def build_corpus(folder: Path, good: GoodFiles) -> list[Built]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Built(case, case.build(folder, good)) for case in [*corpus(), *code_cases()]]


# ----------------------------------------------------------------------------------- tolerated variants


def exact(folder: Path, good: GoodFiles) -> dict[str, Path]:
    """Workbooks written unusually but unambiguously: each reads exactly as the good base data does (a sheet
    written the way no spreadsheet program writes one is refused instead: see `corpus`)."""
    folder.mkdir(parents=True, exist_ok=True)

    def far_right_blanks(sheets: list[RawSheet]) -> list[RawSheet]:
        blanks = "".join(f'<row r="{n}"><c r="XFD{n}"/></row>' for n in range(5, 4005))
        return [sheets[0], RawSheet("项目", sheets[1].xml.replace("</sheetData>", blanks + "</sheetData>"))]

    def spaced_names(sheets: list[RawSheet]) -> list[RawSheet]:
        return [RawSheet(" 部门", sheets[0].xml), RawSheet("项目 ", sheets[1].xml)]

    builders: dict[str, Callable[[Path, GoodFiles], Path]] = {
        "raw-parts": raw_base(),
        "strict-open-xml": raw_base(strict=True),
        "far-right-blank-cells": raw_base(far_right_blanks),
        "spaced-sheet-names": raw_base(spaced_names),
        "thousands-separator": _amount_text("1,000"),
    }
    return {name: build(folder / f"{name}.xlsx", good) for name, build in builders.items()}


def tolerated(folder: Path) -> dict[str, Path]:
    """Workbooks that look odd but are fine: the reader ignores sheets it does not know, hidden or charts."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = base_book()
    extra.create_sheet("填表说明")["A1"] = "请按说明填写"
    hidden = extra.create_sheet("辅助")
    hidden["A1"] = "隐藏的辅助数据"
    hidden.sheet_state = "hidden"
    chart = BarChart()
    chart.add_data(Reference(extra["项目"], min_col=6, min_row=1, max_row=4))
    extra.create_chartsheet("预算图").add_chart(chart)
    hidden_required = base_book()
    hidden_required["项目"].sheet_state = "hidden"
    return {
        "extra-sheets": save(extra, folder / "extra-sheets.xlsx"),
        "hidden-required-sheet": save(hidden_required, folder / "hidden-required-sheet.xlsx"),
    }
