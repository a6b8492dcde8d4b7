"""The quick ways of the fast reader give exactly what the slower ones give: the split reading of a plain
sheetData what the tree reading gives (and it declines whatever it does not know), the direct inflating of a
part what `zipfile` gives, the built digest text what `json.dumps` gives."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from lxml import etree

from perfcycle.demo import DemoFiles
from perfcycle.workbooks import reader
from perfcycle.workbooks.reader import ParsedRow, ParsedWorkbook, parse_workbook
from tests.workbooks.test_fast_reader import (
    MONITORING_HEADER,
    both_ways,
    fast_read,
    monitoring_workbook,
    rows,
    with_shared_strings,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
HEAD = f'<worksheet xmlns="{MAIN}" xmlns:x14ac="{AC}"><dimension ref="A1:F9"/><sheetData>'
TAIL = (
    '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
)


def book() -> Any:
    """Shared strings and styles as the cells below use them: style 1 is a date, style 2 a percent."""
    styles = reader._Styles(
        [reader._GENERAL, reader._Style("yyyy-mm-dd"), reader._Style("0%")], frozenset({1}), frozenset()
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return reader._FastBook(["共享", "  padded ", "x&y"], styles, parser)


def sheet(body: str, head: str = HEAD, tail: str = TAIL) -> bytes:
    return (head + body + tail).encode()


def by_tree(raw: bytes, fast_book: Any) -> Any:
    """What `_fast_rows` gives, values with their types, or 'refused'."""
    try:
        result = reader._fast_rows(etree.fromstring(raw, fast_book.parser), fast_book)
    except Exception:
        return "refused"
    return typed(result)


def typed(result: list[tuple[int, list[Any], list[Any]]]) -> Any:
    return [(n, [(type(v), v) for v in values], [s.number_format for s in styles]) for n, values, styles in result]


ROW1 = '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'

READ_BY_SPLITTING = {
    "inline strings": '<row r="1"><c r="A1" t="inlineStr"><is><t>部门</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>&#37096;&#x95E8;</t></is></c></row>',
    "entities and references": '<row r="2"><c r="A2" t="inlineStr"><is><t>a &amp; b &lt;c&gt; &quot;&apos; &#10;&#13;'
    "&#x1F600;</t></is></c></row>",
    "preserved spaces": '<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve">  D01 </t></is></c></row>',
    "line ends and tabs": '<row r="2"><c r="A2" t="inlineStr"><is><t>a\r\nb\rc\td</t></is></c></row>',
    "empty text and a lone >": '<row r="2"><c r="A2" t="inlineStr"><is><t></t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>a > b</t></is></c></row>',
    "numbers": '<row r="2"><c r="A2"><v>12</v></c><c r="B2" t="n"><v>1.5</v></c><c r="C2"><v>1E3</v></c>'
    '<c r="D2"><v> 7 </v></c><c r="E2"><v>-0</v></c><c r="F2"><v>&#49;2</v></c></row>',
    "dates and percent styles": '<row r="2"><c r="A2" s="1"><v>45383</v></c><c r="B2" s="1" t="n"><v>45383.5</v></c>'
    '<c r="C2" s="2"><v>0.5</v></c></row>',
    "booleans, formula text and shared strings": '<row r="2"><c r="A2" t="b"><v>1</v></c><c r="B2" t="b"><v>0</v></c>'
    '<c r="C2" t="str"><v>text</v></c><c r="D2" s="0" t="s"><v>1</v></c><c r="E2" t="s"><v>2</v></c></row>',
    "empty cells": '<row r="2"><c r="A2"/><c r="B2" s="2"/><c r="C2" t="s"/><c r="D2" t="n"><v></v></c>'
    '<c r="E2" t="e"><v></v></c><c r="F2" t="inlineStr"/></row>',
    "gaps in columns and rows": '<row r="2"><c r="B2"><v>1</v></c><c r="E2" t="inlineStr"><is><t>x</t></is></c></row>'
    '<row r="7"><c r="AA7"><v>2</v></c></row>',
    "empty rows": '<row r="2"/><row r="3" ht="20" customHeight="1"></row><row r="04"><c r="A4"><v>4</v></c></row>',
    "Excel's row attributes": '<row r="2" spans="1:6" s="1" customFormat="1" x14ac:dyDescent="0.25">'
    '<c r="A2" s="1" t="s"><v>0</v></c></row>',
    "the same local name in two namespaces": '<row r="2" ht="1" x14ac:ht="2"><c r="A2"><v>1</v></c></row>',
    "characters beyond the basic plane": '<row r="2"><c r="A2" t="inlineStr"><is><t>\U0001f600 𠀀</t></is></c></row>',
}

DECLINED_BUT_READ_BY_THE_TREE = {
    "pretty-printed": '\n  <row r="2">\n    <c r="A2"><v>1</v></c>\n  </row>\n',
    "a comment in a text": '<row r="2"><c r="A2" t="inlineStr"><is><t>a<!-- note -->b</t></is></c></row>',
    "CDATA": '<row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[a<b]]></t></is></c></row>',
    "rich text": '<row r="2"><c r="A2" t="inlineStr"><is><r><t>a</t></r><r><rPr><b/></rPr><t>b</t></r></is></c></row>',
    "an empty t": '<row r="2"><c r="A2" t="inlineStr"><is><t/></is></c></row>',
    "t before s": '<row r="2"><c r="A2" t="n" s="2"><v>1</v></c></row>',
    "another cell attribute": '<row r="2"><c r="A2" cm="1"><v>1</v></c></row>',
    "single quotes": "<row r='2'><c r='A2'><v>1</v></c></row>",
    "text in a cell": '<row r="2"><c r="A2">note<v>1</v></c></row>',
    "an empty v": '<row r="2"><c r="A2"><v/></c></row>',
    "the separator in a text": '<row r="2"><c r="A2" t="inlineStr"><is><t>a\ue000b</t></is></c></row>',
    "the separator as a reference": '<row r="2"><c r="A2" t="inlineStr"><is><t>a&#57344;b</t></is></c></row>',
    "the cut marker's name": '<row r="2"><c r="A2" t="inlineStr"><is><t>perfcycleCut</t></is></c></row>',
    "a namespace declared on a row": '<row r="2" xmlns:q="urn:q" q:a="1"><c r="A2"><v>1</v></c></row>',
    "an xml: attribute on a row": '<row r="2" xml:lang="zh"><c r="A2"><v>1</v></c></row>',
    "an entity in a row attribute": '<row r="2" ht="&amp;"><c r="A2"><v>1</v></c></row>',
    "a row attribute beyond ASCII": '<row r="2" note="备注"><c r="A2"><v>1</v></c></row>',
}

REFUSED_BY_BOTH = {
    "a reference of another row": '<row r="2"><c r="A3"><v>1</v></c></row>',
    "a lower-case reference": '<row r="2"><c r="a2"><v>1</v></c></row>',
    "a zero-padded reference": '<row r="2"><c r="A02"><v>1</v></c></row>',
    "a column twice": '<row r="2"><c r="B2"><v>1</v></c><c r="B2"><v>2</v></c></row>',
    "columns backwards": '<row r="2"><c r="C2"><v>1</v></c><c r="B2"><v>2</v></c></row>',
    "rows backwards": '<row r="3"><c r="A3"><v>1</v></c></row><row r="2"/>',
    "row zero": '<row r="0"><c r="A0"><v>1</v></c></row>',
    "an error cell": '<row r="2"><c r="A2" t="e"><v>#N/A</v></c></row>',
    "an ISO date cell": '<row r="2"><c r="A2" t="d"><v>2024-01-01</v></c></row>',
    "an unknown empty type": '<row r="2"><c r="A2" t="x"/></row>',
    "a formula": '<row r="2"><c r="A2"><f>1+1</f><v>2</v></c></row>',
    "two values": '<row r="2"><c r="A2"><v>1</v><v>2</v></c></row>',
    "a value in an inline string": '<row r="2"><c r="A2" t="inlineStr"><v>1</v></c></row>',
    "an inline string in a number": '<row r="2"><c r="A2" t="n"><is><t>1</t></is></c></row>',
    "no number": '<row r="2"><c r="A2"><v>abc</v></c></row>',
    "no shared string": '<row r="2"><c r="A2" t="s"><v>9</v></c></row>',
    "no such style": '<row r="2"><c r="A2" s="9"/></row>',
    "no such style in a far column": ROW1 + '<row r="2"><c r="ZZ2" s="9"/></row>',
    "an undefined entity": '<row r="2"><c r="A2" t="inlineStr"><is><t>a&foo;</t></is></c></row>',
    "a control character": '<row r="2"><c r="A2" t="inlineStr"><is><t>a\x01</t></is></c></row>',
    "a control character reference": '<row r="2"><c r="A2" t="inlineStr"><is><t>a&#1;</t></is></c></row>',
    "]]> in a text": '<row r="2"><c r="A2" t="inlineStr"><is><t>a]]>b</t></is></c></row>',
    "a row in a row": '<row r="2"><row r="3"></row></row>',
    "an unclosed row": '<row r="2"><c r="A2"><v>1</v></c>',
    "an undeclared prefix": '<row r="2" q:a="1"><c r="A2"><v>1</v></c></row>',
    "an attribute twice": '<row r="2" ht="1" ht="2"><c r="A2"><v>1</v></c></row>',
    "a namespaced attribute twice": '<row r="2" x14ac:a="1" x14ac:a="2"><c r="A2"><v>1</v></c></row>',
    "a cell outside a row": '<c r="A1"><v>1</v></c>',
    "a comment in a row": '<row r="2"><!-- note --><c r="A2"><v>1</v></c></row>',
    "a control character in a row attribute": '<row r="2" ht="\x01"><c r="A2"><v>1</v></c></row>',
}


@pytest.mark.parametrize("name", list(READ_BY_SPLITTING))
def test_plain_sheet_data_is_split_into_what_the_tree_gives(name: str) -> None:
    fast_book = book()
    raw = sheet(READ_BY_SPLITTING[name])
    split = reader._plain_rows(raw, fast_book)
    assert split is not None
    assert typed(split) == by_tree(raw, fast_book) != "refused"


@pytest.mark.parametrize("name", list(DECLINED_BUT_READ_BY_THE_TREE))
def test_anything_else_is_left_to_the_tree(name: str) -> None:
    fast_book = book()
    raw = sheet(DECLINED_BUT_READ_BY_THE_TREE[name])
    assert reader._plain_rows(raw, fast_book) is None
    assert by_tree(raw, fast_book) != "refused"


@pytest.mark.parametrize("name", list(REFUSED_BY_BOTH))
def test_what_the_tree_refuses_is_never_split(name: str) -> None:
    fast_book = book()
    raw = sheet(REFUSED_BY_BOTH[name])
    assert by_tree(raw, fast_book) == "refused"
    assert reader._plain_rows(raw, fast_book) is None


@pytest.mark.parametrize(
    "raw",
    [
        sheet('<row r="2"><c r="A2" t="inlineStr"><is><t>a?</t></is></c></row>').replace(b"a?", b"a\xff"),
        sheet('<row r="2"><c r="A2"><v>1?</v></c></row>').replace(b"1?", b"1\xc3"),
        sheet('<row r="2" ht="?"><c r="A2"><v>1</v></c></row>').replace(b'"?"', b'"\xe9"'),
    ],
    ids=["text", "number", "row attribute"],
)
def test_bytes_that_are_not_utf8_are_refused_by_both(raw: bytes) -> None:
    fast_book = book()
    assert by_tree(raw, fast_book) == "refused"
    assert reader._plain_rows(raw, fast_book) is None


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + HEAD, TAIL),
        ("\ufeff" + HEAD, TAIL),
        (
            HEAD.replace("<dimension", "<!-- sheetData --><dimension"),
            TAIL.replace("<pageMargins", "<!--x--><pageMargins"),
        ),
    ],
)
def test_declarations_and_comments_around_sheet_data(head: str, tail: str) -> None:
    fast_book = book()
    raw = sheet(READ_BY_SPLITTING["inline strings"], head, tail)
    split = reader._plain_rows(raw, fast_book)
    assert split is not None and typed(split) == by_tree(raw, fast_book)


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        ('<?xml version="1.1" encoding="UTF-8"?>' + HEAD, TAIL),  # another XML version
        ('<?xml version="1.0" encoding="ISO-8859-1"?>' + HEAD, TAIL),  # another encoding
        (HEAD.replace("<sheetData>", '<sheetData xmlns="urn:other">'), TAIL),  # not the sheetData that is read
        (HEAD.replace("<sheetData>", "<sheetData/><sheetData>"), TAIL),  # the second of two
        (HEAD.replace("<dimension", '<other xmlns="urn:o"><sheetData></sheetData></other><dimension'), TAIL),
        (f'<x:worksheet xmlns:x="{MAIN}"><sheetData>', "</sheetData></x:worksheet>"),  # no namespace there
        (HEAD, TAIL.replace("<pageMargins", "<pageMargins broken")),  # the rest of the sheet is malformed
        (HEAD.replace("<dimension", "<!-- <sheetData> --><dimension"), TAIL),  # the first one is in a comment
    ],
)
def test_the_rest_of_the_sheet_decides_too(head: str, tail: str) -> None:
    fast_book = book()
    raw = sheet(READ_BY_SPLITTING["inline strings"], head, tail)
    assert reader._plain_rows(raw, fast_book) is None


def test_a_long_sheet_is_split_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "_CHUNK", 200)
    fast_book = book()
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>行 &#37096; {n}</t></is></c><c r="B{n}"><v>{n}.5</v></c></row>'
        for n in range(1, 60)
    )
    raw = sheet(body + '<row r="60"/>')
    split = reader._plain_rows(raw, fast_book)
    assert split is not None and len(split) == 60
    assert typed(split) == by_tree(raw, fast_book)


# ------------------------------------------------------------------------------------------ workbooks


def excel_like(path: Path, edit_xml: Any = None) -> Path:
    """A monitoring workbook saved the way Excel saves one: shared strings, styles before types, spans and
    x14ac:dyDescent on every row."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "项目监控"
    ws.append(MONITORING_HEADER)
    ws.append(["D01", "P&1 <a>", "Q2", 12.5, 0.5, "有可能", "  进度慢 \n"])
    ws.append([])
    ws.append(["D01", 102, "q2", 3, "85%", "确定能", "原因 &#1;"])
    ws["E2"].number_format = "0%"
    ws["H4"] = datetime(2025, 3, 31)
    workbook.save(path)
    with_shared_strings(path, {})
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = xml.replace(f'xmlns="{MAIN}"', f'xmlns="{MAIN}" xmlns:x14ac="{AC}"', 1)
    for number in range(1, 5):
        xml = xml.replace(f'<row r="{number}">', f'<row r="{number}" spans="1:8" x14ac:dyDescent="0.25">')
    if edit_xml is not None:
        xml = edit_xml(xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_inline_strings_with_markup_characters_read_as_openpyxl_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl writes inline strings, escaping markup and keeping spaces with xml:space."""
    reasons = ["a & b <c> \"d\" 'e'", " 前后有空格 ", "多行\r\n第二行\t制表", "\U0001f600 𠀀", "100% %s"]
    path = monitoring_workbook(
        tmp_path / "inline.xlsx",
        [["D01", f"P{n}", "Q2", n, 50 + n, "有可能", reason] for n, reason in enumerate(reasons, 1)],
    )
    assert all(rows is not None for rows in split_sheets(path))
    assert fast_read(path) is not None
    (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems == []
    assert rows(fast) == rows(slow)
    assert [r.values["reason"] for r in fast.sheets["项目监控"]] == [reason.strip() for reason in reasons]


def split_sheets(path: Path) -> list[Any]:
    workbook = reader._fast_workbook(path.read_bytes())
    return [reader._plain_rows(workbook[name]._content, workbook[name]._book) for name in workbook.sheetnames]


def test_an_excel_like_workbook_is_split_and_reads_as_openpyxl_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = excel_like(tmp_path / "excel.xlsx")
    assert all(rows is not None for rows in split_sheets(path))
    assert fast_read(path) is not None
    (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems == []
    assert rows(fast) == rows(slow)
    first, second = (r.values for r in fast.sheets["项目监控"])
    assert (first["project_code"], first["reason"], second["project_code"]) == ("P&1 <a>", "进度慢", "102")


@pytest.mark.parametrize(
    "edit",
    [
        lambda xml: xml.replace('<c r="D2" t="n"><v>12.5</v>', '<c r="D2" t="e"><v>#N/A</v>', 1),
        lambda xml: xml.replace('<c r="D4" t="n"><v>3</v>', '<c r="D4"><f>1+2</f><v>3</v>', 1),
        lambda xml: xml.replace('spans="1:8" x14ac:dyDescent="0.25"', 'x14ac:dyDescent="0.25" x14ac:dyDescent="1"', 1),
    ],
    ids=["error value", "formula", "broken XML"],
)
def test_an_unusual_excel_like_workbook_still_goes_to_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Any
) -> None:
    path = excel_like(tmp_path / "excel.xlsx", edit)
    assert fast_read(path) is None
    (_, fast_problems), (_, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems


def test_demo_workbooks_split_as_the_tree_reads_them(demo_2024: DemoFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [demo_2024.base, *sorted(Path(demo_2024.submissions).rglob("*.xlsx"))]
    split = [parse_workbook(path) for path in paths]
    assert all(all(rows is not None for rows in split_sheets(path)) for path in paths)
    with monkeypatch.context() as patched:
        patched.setattr(reader, "_plain_rows", lambda raw, fast_book: None)
        tree = [parse_workbook(path) for path in paths]
    for path, (a, a_problems), (b, b_problems) in zip(paths, split, tree, strict=True):
        assert a_problems == b_problems == [], path
        assert rows(a) == rows(b), path
        assert typed_values(a) == typed_values(b), path


def typed_values(parsed: ParsedWorkbook | None) -> Any:
    assert parsed is not None
    return {name: [[(k, type(v)) for k, v in r.values.items()] for r in sheet] for name, sheet in parsed.sheets.items()}


# ------------------------------------------------------------------------------------------ zip parts


def archive_of(entries: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, compression in entries:
            archive.writestr(name, data, compress_type=compression)
    return buffer.getvalue()


def read_both(data: bytes, name: str) -> tuple[Any, Any]:
    def outcome(read: Any) -> Any:
        try:
            return read()
        except Exception as exc:
            return type(exc), str(exc)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return outcome(lambda: reader._member(archive, data, name)), outcome(lambda: archive.read(name))


def test_parts_are_inflated_as_zipfile_inflates_them() -> None:
    text = "部门编码,项目编码\n".encode() * 200
    data = archive_of(
        [("deflated.xml", text, zipfile.ZIP_DEFLATED), ("stored.xml", text, zipfile.ZIP_STORED), ("empty", b"", 8)]
    )
    for name in ("deflated.xml", "stored.xml", "empty", "missing"):
        direct, by_zipfile = read_both(data, name)
        assert direct == by_zipfile
    assert read_both(data, "deflated.xml")[0] == text


@pytest.mark.parametrize("damage", ["crc", "name", "stream", "size"])
def test_a_damaged_part_fails_as_zipfile_fails(damage: str) -> None:
    text = b"<sst>" + b"x" * 5000 + b"</sst>"
    data = bytearray(archive_of([("xl/sharedStrings.xml", text, zipfile.ZIP_DEFLATED)]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/sharedStrings.xml")
    begin = info.header_offset + 30 + len(info.filename)
    if damage == "crc":
        data[info.header_offset + 14] ^= 0xFF  # the local header's CRC is not the one checked
        central = bytes(data).rindex(b"PK\x01\x02")
        data[central + 16] ^= 0xFF
    elif damage == "name":
        data[info.header_offset + 30] = ord("X")
    elif damage == "stream":
        data[begin + 3] ^= 0xFF
    else:
        central = bytes(data).rindex(b"PK\x01\x02")
        data[central + 24 : central + 28] = (info.file_size - 1).to_bytes(4, "little")
    direct, by_zipfile = read_both(bytes(data), "xl/sharedStrings.xml")
    assert direct == by_zipfile
    assert isinstance(by_zipfile, tuple)


# ------------------------------------------------------------------------------------------ the digest


def reference_json(kind: Any, sheets: dict[Any, list[ParsedRow]]) -> str:
    """The digest text as it has always been made (the stored digests were made of it)."""
    canonical = [
        [name, [[(key, str(row.values[key])) for key in sorted(row.values)] for row in rows]]
        for name, rows in sorted(sheets.items())
    ]
    return json.dumps([kind, canonical], ensure_ascii=False)


AWKWARD = ['a"b\\c', "100% %s %%d", "tab\tnew\nline\r", "\x00\x1f\x7f", "\u2028\U0001f600", "", " 部门 "]


@pytest.mark.parametrize(
    "sheets",
    [
        {},
        {"空": []},
        {"表": [ParsedRow(2, {"b": value, "a%": "x"}) for value in AWKWARD]},
        {"表": [ParsedRow(2, {"only": value}) for value in AWKWARD]},
        {"表": [ParsedRow(2, {}), ParsedRow(3, {})]},
        {
            "数": [ParsedRow(2, {"n": Decimal("1.50"), "d": date(2025, 3, 31), "t": True, "i": 7, "none": None})],
            "另": [ParsedRow(2, {"when": datetime(2025, 1, 2, 3, 4), "f": 0.1})],
        },
        {"不齐": [ParsedRow(2, {"a": 1, "b": 2}), ParsedRow(3, {"a": 1, "c": 2}), ParsedRow(4, {"a": 1})]},
        {'%s"': [ParsedRow(2, {'k"%': "v", "k\\": "w"})]},
    ],
    ids=["none", "empty sheet", "awkward text", "one key", "no keys", "value types", "uneven keys", "awkward names"],
)
def test_the_digest_text_is_byte_for_byte_the_json_it_always_was(sheets: dict[str, list[ParsedRow]]) -> None:
    assert reader._content_json("targets", sheets) == reference_json("targets", sheets)
    parsed = ParsedWorkbook(path=Path("x.xlsx"), kind="targets", sha256="", sheets=sheets)
    assert parsed.content_digest == hashlib.sha256(reference_json("targets", sheets).encode()).hexdigest()


def test_the_digest_of_a_read_workbook_is_unchanged(tmp_path: Path) -> None:
    path = excel_like(tmp_path / "excel.xlsx")
    parsed, problems = parse_workbook(path, "monitoring")
    assert parsed is not None and problems == []
    expected = hashlib.sha256(reference_json(parsed.kind, parsed.sheets).encode()).hexdigest()
    assert parsed.content_digest == expected
