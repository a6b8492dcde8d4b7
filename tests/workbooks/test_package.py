"""Archives that zip readers could see differently: each is refused, or read exactly as the plain one is.

calamine is handed an archive rebuilt from what the checks read, so its own zip reader never sees the file;
these cases show that the file itself is refused whenever a zip reader other than zipfile could find other
content in it. Each archive is the good base data written by zipfile, then changed byte by byte here.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfcycle.workbooks.reader import ImportRejected, read_workbook
from tests.hostile.corpus import base_sheets, raw_parts, write_parts

ODD = "文件已损坏或结构异常："


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in: it writes each entry's sizes in a data descriptor after it."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)


def good(zip64: bool = False, stream: bool = False) -> bytes:
    """The good base data as zipfile writes it (every entry with zip64 sizes, or with data descriptors)."""
    out: Any = Unseekable() if stream else io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in raw_parts(base_sheets()):
            with archive.open(name, "w", force_zip64=zip64) as handle:
                handle.write(data)
    return bytes(out.buffer) if stream else out.getvalue()


def entries(data: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sorted(archive.infolist(), key=lambda info: info.header_offset)


def patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt) :]


def prepended(data: bytes) -> bytes:
    """A self-extractor: a program before the archive, whose offsets still count from the archive's start."""
    return b"MZ" + b"\0" * 510 + data


def polyglot(data: bytes) -> bytes:
    """Another small zip, then the workbook: zipfile reads the last one, a reader from the front the first."""
    front = io.BytesIO()
    with zipfile.ZipFile(front, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return front.getvalue() + data


def two_end_records(data: bytes) -> bytes:
    """The end record twice: readers that search for it from the end or from the directory disagree."""
    return data + data[data.rindex(b"PK\x05\x06") :]


def trailing(data: bytes) -> bytes:
    return data + b"appended after the archive"


def renamed_local_header(data: bytes) -> bytes:
    """The first entry's local header names another part than its directory record does."""
    first = entries(data)[0]
    name = first.filename.encode()
    return data[:30] + name[:-1] + b"X" + data[30 + len(name) :]


def local_sizes_differ(data: bytes) -> bytes:
    """The worksheet's local header declares another compressed size than its directory record."""
    info = next(info for info in entries(data) if info.filename == "xl/worksheets/sheet2.xml")
    return patch(data, info.header_offset + 18, "<I", info.compress_size - 10)


def overlapping(data: bytes) -> bytes:
    """部门's sheet declares, in both its records, 10 packed bytes more than it has: its data runs into the next
    entry, whose bytes two entries then share."""
    info = next(info for info in entries(data) if info.filename == "xl/worksheets/sheet1.xml")
    record = data.index(info.filename.encode(), data.index(b"PK\x01\x02")) - 46
    data = patch(data, record + 20, "<I", info.compress_size + 10)
    return patch(data, info.header_offset + 18, "<I", info.compress_size + 10)


def gap(data: bytes) -> bytes:
    """Bytes hidden between two entries, every later offset moved past them."""
    infos = entries(data)
    at, extra = infos[1].header_offset, b"hidden between entries"
    moved = data[:at] + extra + data[at:]
    directory = moved.index(b"PK\x01\x02")
    record = directory
    while moved.startswith(b"PK\x01\x02", record):
        offset, length = (
            struct.unpack("<I", moved[record + 42 : record + 46])[0],
            sum(struct.unpack("<3H", moved[record + 28 : record + 34])),
        )
        if offset >= at:
            moved = patch(moved, record + 42, "<I", offset + len(extra))
        record += 46 + length
    end = moved.rindex(b"PK\x05\x06")
    return patch(moved, end + 16, "<I", directory)


REFUSED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "prepended": (prepended, "压缩包之前附加了其他数据"),
    "polyglot": (polyglot, "压缩包之前附加了其他数据"),
    "two-end-records": (two_end_records, "压缩包有不止一个目录结尾记录"),
    "trailing": (trailing, "压缩包的结尾之后还有 26 字节的其他数据"),
    "renamed-local-header": (renamed_local_header, "压缩包中「[Content_Types].xml」的两处记录不一致"),
    "local-sizes-differ": (local_sizes_differ, "压缩包中「xl/worksheets/sheet2.xml」的两处记录不一致"),
    "overlapping": (overlapping, "压缩包中有重叠的条目"),
    "gap": (gap, "压缩包中夹有其他数据"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_archive_zip_readers_could_read_differently_is_refused(tmp_path: Path, case: str) -> None:
    change, reason = REFUSED[case]
    path = tmp_path / f"{case}.xlsx"
    path.write_bytes(change(good()))
    with pytest.raises(ImportRejected) as refused:
        read_workbook(path, "base")
    (problem,) = refused.value.problems
    assert (problem.sheet, problem.row, problem.column) == (None, None, None)
    assert problem.reason.startswith(ODD + reason), problem.reason


def records(path: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    return {name: [(row.row, row.values) for row in rows] for name, rows in read_workbook(path).sheets.items()}


def test_zip64_sizes_and_data_descriptors_read_exactly_as_the_plain_archive(tmp_path: Path) -> None:
    """Entries whose sizes are in zip64 extra fields, or in data descriptors after their data, as zipfile
    writes them: both are read, and exactly as the plain archive is."""
    plain, zip64, streamed = tmp_path / "plain.xlsx", tmp_path / "zip64.xlsx", tmp_path / "streamed.xlsx"
    plain.write_bytes(good())
    zip64.write_bytes(good(zip64=True))
    streamed.write_bytes(good(stream=True))
    assert all(info.flag_bits & 0x8 for info in entries(streamed.read_bytes()))
    assert b"\x01\x00\x10\x00" in zip64.read_bytes()  # the zip64 extra field of the local headers
    expected = records(plain)
    assert [row[1]["code"] for row in expected["项目"]] == ["P101", "P102", "P201"]
    assert records(zip64) == expected
    assert records(streamed) == expected


SHEET_CHANGES: dict[str, tuple[Callable[[str], str], str]] = {
    "comment-before": (lambda xml: xml.replace("<sheetData>", "<!-- x --><sheetData>"), "工作表含有注释"),
    "comment-inside": (lambda xml: xml.replace("</row>", "<!-- y --></row>", 1), "工作表含有注释"),
    "instruction-after": (lambda xml: xml.replace("</sheetData>", "</sheetData><?pi x?>"), "工作表含有处理指令"),
    "cdata-value": (lambda xml: xml.replace("<t>D01</t>", "<t><![CDATA[D01]]></t>", 1), "工作表含有 CDATA 或 DTD"),
    "single-quotes": (lambda xml: xml.replace('<c r="A2"', "<c r='A2'", 1), "工作表的属性使用了单引号"),
    "second-sheet-data": (
        lambda xml: xml.replace("</sheetData>", "</sheetData><sheetData></sheetData>"),
        "工作表有单元格的位置缺失、不规范",
    ),
}


@pytest.mark.parametrize("case", list(SHEET_CHANGES))
def test_a_sheet_written_unlike_any_spreadsheet_program_is_refused(tmp_path: Path, case: str) -> None:
    """What calamine would skip or read otherwise than the checks (comments, CDATA, a second sheetData)."""
    change, reason = SHEET_CHANGES[case]
    sheets = base_sheets()
    sheets[0] = type(sheets[0])(sheets[0].name, change(sheets[0].xml))
    path = tmp_path / f"{case}.xlsx"
    write_parts(path, raw_parts(sheets))
    with pytest.raises(ImportRejected) as refused:
        read_workbook(path, "base")
    (problem,) = refused.value.problems
    assert (problem.sheet, problem.reason[: len(reason)]) == ("部门", reason)


def test_an_xml_declaration_is_not_an_instruction(tmp_path: Path) -> None:
    sheets = base_sheets()
    sheets[0] = type(sheets[0])(sheets[0].name, '<?xml version="1.0" encoding="UTF-8"?>\n' + sheets[0].xml)
    path = write_parts(tmp_path / "declared.xlsx", raw_parts(sheets))
    assert [row.values["code"] for row in read_workbook(path, "base").sheets["部门"]] == ["D01", "D02"]


def damaged_part(data: bytes, name: str) -> bytes:
    """One byte of a part's packed data changed; its directory entry (size, CRC) left as it was."""
    (info,) = [info for info in entries(data) if info.filename == name]
    name_length, extra_length = struct.unpack("<2H", data[info.header_offset + 26 : info.header_offset + 30])
    at = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"])
def test_a_part_verified_before_counts_only_for_the_same_packed_bytes(tmp_path: Path, part: str) -> None:
    """The workbook's small parts are inflated once for the files that share them: a file whose part has the
    same directory entry as one read before, but other packed bytes, is still inflated and refused."""
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(good())
    expected = records(plain)
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(damaged_part(good(), part))
    assert entries(damaged.read_bytes())[0].CRC == entries(good())[0].CRC
    if part == "[Content_Types].xml":  # not a part the cells are read from: never inflated, and harmless
        assert records(damaged) == expected
        return
    with pytest.raises(ImportRejected) as refused:
        read_workbook(damaged, "base")
    (problem,) = refused.value.problems
    assert problem.reason.startswith("文件已损坏：压缩包中的「" + part + "」"), problem.reason
    assert records(plain) == expected  # and the part read before still reads as it did
