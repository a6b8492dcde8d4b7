"""Read and validate a workbook against its documented format, without touching the database.

Every problem found is collected (not just the first) and reported with the file, sheet, row, column
and reason, so a department can fix its workbook in one pass. Values are converted exactly: money and
numbers become `Decimal` (never binary float), codes become text, dates become `datetime.date`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
import itertools
import json
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any

from perfcycle.money import CENT, MoneyError, to_decimal
from perfcycle.workbooks.formats import SPECS, Column, SheetSpec, WorkbookSpec, detect_kind

# Defaults of the limits; the year's policy (`imports:` in perfcycle/policies/<year>.yaml) sets the real ones.
MAX_ROWS = 200_000
MAX_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked are never a bomb, however well they compress
MAX_MONEY_WAN = Decimal(10) ** 10  # 100 亿万元: anything this large is a typing error
MAX_NUMBER = Decimal(10) ** 15
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2100, 12, 31)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
MB = 1024 * 1024

YES = ("是",)
NO = ("否",)
CHOICE_ALIASES = {">=": "≥", "＞＝": "≥", "=>": "≥", "<=": "≤", "＜＝": "≤", "=<": "≤", "＝": "=", "==": "="}
DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
SHORT_YEAR_DATE = re.compile(r"^(\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
YEAR_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")
OTHER_CALENDARS = ("民国", "令和", "平成", "昭和", "农历", "阴历", "癸卯", "甲辰", "乙巳", "丙午")
BAD_SERIAL = re.compile(r"Cell ([A-Z]+[0-9]+) is marked as a date but the serial value (\S+) is outside")
QUANTITATIVE = ("≥", "≤", "=")


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with a workbook, located as precisely as possible."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet is not None:
            parts.append(f"工作表「{self.sheet}」")
        if self.row is not None:
            parts.append(f"第 {self.row} 行")
        if self.column is not None:
            parts.append(f"列「{self.column}」")
        where = " · ".join(parts).replace("」 · ", "」· ")
        return f"{where}: {self.reason}"


class ImportRejected(Exception):
    """A workbook (or batch) refused as a whole; `.problems` lists every problem found."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems: list[ImportProblem] = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        files = list(dict.fromkeys(p.file for p in self.problems)) or ["(未知)"]
        lines = [f"文件 {'、'.join(files)} 未导入：发现 {len(self.problems)} 个问题"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


@dataclass
class ParsedRow:
    """One data row: its Excel row number and the converted values keyed by column field.

    `errors` names the fields whose cell was refused (their value is None) or whose column is missing, so
    later checks can skip them instead of reporting the same cell twice.
    """

    row: int
    values: dict[str, Any]
    errors: set[str] = field(default_factory=set)


@dataclass
class ParsedWorkbook:
    """A workbook that passed every format check; `sheets` has every sheet of the spec (optional ones may be empty)."""

    path: Path
    kind: str
    sha256: str
    sheets: dict[str, list[ParsedRow]]

    @property
    def rows(self) -> int:
        return sum(len(rows) for rows in self.sheets.values())

    @functools.cached_property
    def content_digest(self) -> str:
        """sha256 of the kind and the cell values: the same data saved again is the same submission."""
        return hashlib.sha256(_content_json(self.kind, self.sheets).encode()).hexdigest()


def _canonical(values: dict[str, Any]) -> list[tuple[str, str]]:
    """`sorted((k, str(v)) for k, v in values.items())`: the keys are distinct, so sorting them is enough."""
    return [(key, str(values[key])) for key in sorted(values)]


def _content_json(kind: str, sheets: dict[str, list[ParsedRow]]) -> str:
    """`json.dumps([kind, [[name, [_canonical(row.values) for row in rows]] for name, rows in sorted(sheets.items())]],
    ensure_ascii=False)`, the text the digests in the database were made of, built with one formatting per sheet."""
    if not isinstance(kind, str) or not all(isinstance(name, str) for name in sheets):
        canonical = [[name, [_canonical(row.values) for row in rows]] for name, rows in sorted(sheets.items())]
        return json.dumps([kind, canonical], ensure_ascii=False)
    quote = json.encoder.encode_basestring
    parts = [f"[{quote(name)}, [{_rows_json(rows)}]]" for name, rows in sorted(sheets.items())]
    return f"[{quote(kind)}, [{', '.join(parts)}]]"


def _rows_json(rows: list[ParsedRow]) -> str:
    """The JSON of `[_canonical(row.values) for row in rows]` without its brackets: when every row has the same
    text keys (as every row of a sheet has), one template of the keys takes all the values at once."""
    quote = json.encoder.encode_basestring
    dicts = [row.values for row in rows]
    keys = sorted(dicts[0]) if dicts else []
    if keys and set(map(len, dicts)) == {len(keys)} and all(type(key) is str for key in keys):
        try:
            values = (
                list(itertools.chain.from_iterable(map(itemgetter(*keys), dicts)))
                if len(keys) > 1
                else list(map(itemgetter(keys[0]), dicts))
            )
        except KeyError:  # another row has other keys
            pass
        else:
            row = "[" + ", ".join(f"[{quote(key).replace('%', '%%')}, %s]" for key in keys) + "]"
            return ", ".join([row] * len(rows)) % tuple(map(quote, map(str, values)))
    return json.dumps([_canonical(values) for values in dicts], ensure_ascii=False)[1:-1]


class _CellError(ValueError):
    """A cell value that does not fit its column; the message is the reason shown to the user."""


# ---------------------------------------------------------------------------------------------- cells


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _plain_number_text(amount: Decimal) -> str:
    """101.0 → '101', 0.950 → '0.95', never scientific notation."""
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def _is_percent_format(cell: Any) -> bool:
    try:
        return "%" in str(cell.number_format or "")
    except Exception:  # a broken style table must not become a traceback
        return False


def _number(value: Any) -> Decimal:
    if isinstance(value, datetime | date):
        raise _CellError(f"不是数字（单元格是日期 {value:%Y-%m-%d}）")
    if isinstance(value, bool):
        raise _CellError(f"不是数字: {'TRUE' if value else 'FALSE'}")
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        raise _CellError(str(exc)) from None
    if abs(amount) >= MAX_NUMBER:
        raise _CellError(f"数值过大: {value!r}")
    return amount


def _text(value: Any, cell: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        amount = _number(value)
        if _is_percent_format(cell):
            return _plain_number_text(amount * 100) + "%"
        return _plain_number_text(amount)
    return str(value).strip()


def _code(value: Any, cell: Any) -> str:
    if isinstance(value, bool | datetime | date):
        raise _CellError(f"不是有效的编码: {value!r}")
    if isinstance(value, int | float | Decimal):
        return _plain_number_text(_number(value))
    text = str(value).strip()
    if any(ch in text for ch in "\r\n\t"):
        raise _CellError(f"编码中不能有换行或制表符: {text!r}")
    return text


def _money(value: Any, cell: Any) -> Decimal:
    amount = _number(value)
    if amount < 0:
        raise _CellError(f"金额不能为负数: {_plain_number_text(amount)}")
    if amount != amount.quantize(CENT):
        raise _CellError(f"金额最多两位小数（万元）: {_plain_number_text(amount)}")
    if amount >= MAX_MONEY_WAN:
        raise _CellError(f"金额过大（万元）: {_plain_number_text(amount)}")
    return amount


def _decimal(value: Any, cell: Any) -> Decimal:
    return _number(value)


def _percent(value: Any, cell: Any) -> Decimal:
    if isinstance(value, str) and value.strip().endswith(("%", "％")):
        amount = _number(value.strip()[:-1])
    else:
        amount = _number(value)
        if isinstance(value, int | float) and _is_percent_format(cell):
            amount *= 100
    if not 0 <= amount <= 100:
        raise _CellError(f"百分比应在 0 到 100 之间: {_plain_number_text(amount)}")
    return amount


def _int(value: Any, cell: Any) -> int:
    amount = _number(value)
    if amount != amount.to_integral_value():
        raise _CellError(f"不是整数: {_plain_number_text(amount)}")
    return int(amount)


def _year(value: Any, cell: Any) -> int:
    try:
        year = _int(value, cell)
    except _CellError:
        raise _CellError(f"不是年度: {value!r}") from None
    if not 2000 <= year <= 2100:
        raise _CellError(f"年度应在 2000 到 2100 之间: {year}")
    return year


def _bool(value: Any, cell: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in YES:
        return True
    if text in NO:
        return False
    raise _CellError(f"应填「是」或「否」，不是 {text!r}")


def _date(value: Any, cell: Any) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return _date_in_range(value)
    if isinstance(value, str):
        text = value.strip()
        match = DATE_TEXT.match(text)
        if match:
            try:
                day = date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise _CellError(f"日期不存在: {text!r}（月份应为 1–12，日应在该月天数之内）") from None
            return _date_in_range(day)
        if any(name in text for name in OTHER_CALENDARS):
            raise _CellError(f"请填公历日期 YYYY-MM-DD（不接受民国、农历等纪年）: {text!r}")
        if SHORT_YEAR_DATE.match(text):
            raise _CellError(f"年份应写四位数（如 2025-05-31），不是 {text!r}")
        month = YEAR_MONTH.match(text)
        if month:
            if not 1 <= int(month[2]) <= 12:
                raise _CellError(f"日期不存在: {text!r}（月份应为 1–12）")
            raise _CellError(f"缺少日：应填完整日期 YYYY-MM-DD，不是 {text!r}")
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        raise _CellError(f"不是日期（数字 {value!r}；请把单元格设为日期格式，或填 YYYY-MM-DD）")
    raise _CellError(f"不是日期（应为日期单元格或 YYYY-MM-DD）: {value!r}")


def _date_in_range(day: date) -> date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise _CellError(f"日期超出范围: {day.isoformat()}（应在 {FIRST_DATE.year} 到 {LAST_DATE.year} 年之间）")
    return day


def _choice_converter(column: Column) -> Callable[[Any, Any], str]:
    allowed = "、".join(column.choices)

    def convert(value: Any, cell: Any) -> str:
        text = _text(value, cell)
        if text in column.choices:
            return text
        alias = CHOICE_ALIASES.get(text) or text.upper()
        if alias in column.choices:
            return alias
        raise _CellError(f"「{text}」不是可选值；可选: {allowed}")

    return convert


_CONVERTERS: dict[str, Callable[[Any, Any], Any]] = {
    "text": _text,
    "code": _code,
    "money": _money,
    "number": _decimal,
    "percent": _percent,
    "int": _int,
    "year": _year,
    "bool": _bool,
    "date": _date,
}
_NUMERIC_KINDS = {"money", "number", "percent", "int", "year"}


def _converter(column: Column) -> Callable[[Any, Any], Any]:
    if column.kind == "choice":
        return _choice_converter(column)
    return _CONVERTERS[column.kind]


def convert_cell(column: Column, cell: Any, converter: Callable[[Any, Any], Any] | None = None) -> Any:
    """The value of one cell for `column`, or `_CellError` with the reason; blank optional cells give None."""
    data_type = getattr(cell, "data_type", "n")
    value = getattr(cell, "value", cell)
    if data_type == "f" or (
        column.kind in _NUMERIC_KINDS and isinstance(value, str) and value.lstrip().startswith("=")
    ):
        raise _CellError("不接受公式，请复制后“粘贴为数值”")
    if data_type == "e":
        raise _CellError(f"单元格是错误值 {value}")
    if not isinstance(value, str | int | float | Decimal | bool | datetime | date) and value is not None:
        raise _CellError(f"无法识别的单元格内容: {type(value).__name__}")
    if _is_blank(value):
        if column.required:
            raise _CellError("必填")
        return None
    return (converter or _converter(column))(value, cell)


# ------------------------------------------------------------------------------------------- headers


def normalize_header(value: Any) -> str:
    """Headers compare without whitespace and with full-width brackets, as users retype them."""
    text = "" if value is None else str(value)
    text = re.sub(r"\s+", "", text).replace("\u3000", "")
    return text.replace("(", "（").replace(")", "）").replace("％", "%")


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ImportProblem] = []
        self.warnings: list[warnings.WarningMessage] = []
        self._serials: dict[str, str] = {}
        self._seen_warnings = 0

    def add(self, reason: str, sheet: str | None = None, row: int | None = None, column: str | None = None) -> None:
        self.problems.append(ImportProblem(self.file, sheet, row, column, reason))

    def bad_serial(self, cell: Any) -> str | None:
        """The raw number of a date cell openpyxl turned into #VALUE! because it is no date at all."""
        if getattr(cell, "data_type", None) != "e":
            return None
        for caught in self.warnings[self._seen_warnings :]:
            match = BAD_SERIAL.search(str(caught.message))
            if match:
                self._serials[match[1]] = match[2]
        self._seen_warnings = len(self.warnings)
        return self._serials.get(getattr(cell, "coordinate", ""))

    def start_sheet(self) -> None:
        """Coordinates are per sheet: forget the previous sheet's bad date serials."""
        self._seen_warnings = len(self.warnings)
        self._serials.clear()


def _match_headers(
    cells: Sequence[Any], sheet: SheetSpec, found: _Collector, second_row: Sequence[Any] | None
) -> dict[int, Column] | None:
    """Map column positions to spec columns (every header problem is reported); None when no spec header is there.

    Columns that are recognised are still read when others are wrong, so the rest of the sheet is checked too.
    """
    expected = {normalize_header(c.header): c for c in sheet.columns}
    texts = [normalize_header(getattr(cell, "value", cell)) for cell in cells]
    while texts and not texts[-1]:
        texts.pop()  # blank trailing columns are ignored
    if not texts and second_row is None:
        if not sheet.required:
            return {}  # an optional sheet left completely empty: nothing to import
        found.add(f"工作表是空的；应有表头: {'、'.join(sheet.headers)}", sheet.name, 1)
        return None
    if not any(text in expected for text in texts):
        second = [normalize_header(getattr(cell, "value", cell)) for cell in second_row or ()]
        if sum(text in expected for text in second) * 2 >= len(expected):
            found.add("表头必须在第 1 行：第 2 行才像表头，请删除上面的标题行", sheet.name, 1)
        else:
            found.add(f"第 1 行不是本工作表的表头；应包含列: {'、'.join(sheet.headers)}", sheet.name, 1)
        return None
    mapping: dict[int, Column] = {}
    first_seen: dict[str, int] = {}
    extras: list[tuple[int, str]] = []
    blanks: list[int] = []
    for index, text in enumerate(texts):
        letter = _column_letter(index)
        if not text:
            blanks.append(index)
        elif text in first_seen:
            found.add(
                f"表头重复：{letter} 列与 {_column_letter(first_seen[text])} 列同名",
                sheet.name,
                1,
                expected[text].header,
            )
        elif text in expected:
            first_seen[text] = index
            mapping[index] = expected[text]
        else:
            extras.append((index, text))
    missing = [c for key, c in expected.items() if key not in first_seen]
    for index, text in extras:
        letter = _column_letter(index)
        best = max(missing, key=lambda c: difflib.SequenceMatcher(None, text, c.header).ratio(), default=None)
        if best is not None and (
            len(missing) == len(extras) or difflib.SequenceMatcher(None, text, best.header).ratio() >= 0.4
        ):
            missing.remove(best)
            found.add(f"{letter} 列的列名「{text}」不符合格式，应为「{best.header}」", sheet.name, 1, text)
        else:
            found.add(
                f"{letter} 列「{text}」不是本工作表的列（请删除）；应有的列: {'、'.join(sheet.headers)}",
                sheet.name,
                1,
                text,
            )
    for index in blanks:
        letter = _column_letter(index)
        if missing:
            column = missing.pop(0)
            found.add(f"{letter} 列的表头为空（合并单元格？），应为「{column.header}」", sheet.name, 1, column.header)
        else:
            found.add(f"{letter} 列的表头为空（合并单元格或空列？请删除该列或填写列名）", sheet.name, 1)
    for column in missing:
        if not column.reference:
            found.add("缺少此列", sheet.name, 1, column.header)
    return mapping


# -------------------------------------------------------------------------------------------- files


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def _ole_problem(data: bytes) -> str:
    """What an OLE compound file (the pre-2007 container) most likely is, from its stream names."""
    if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
        return (
            "工作簿设置了打开密码（已加密），系统无法读取；请在 Excel 中“文件 → 信息 → 保护工作簿 → 用密码进行加密”"
            "清空密码，保存为 .xlsx 后再提交"
        )
    if _utf16("Workbook") in data or _utf16("Book") in data:
        return (
            "这是旧版 Excel 97-2003 工作簿（.xls），只是扩展名改成了 .xlsx；请在 Excel 或 WPS 中“另存为” .xlsx 后再提交"
        )
    if _utf16("WordDocument") in data:
        return "这是旧版 Word 文档（.doc），不是 Excel 工作簿；请提交 .xlsx 格式的工作簿"
    return "这是旧版 .xls 文件（或其他旧版 Office 文件）或设置了打开密码的工作簿；请在 Excel 中取消密码并“另存为” .xlsx 后再提交"


def _open_container(
    data: bytes, found: _Collector, max_uncompressed_bytes: int, max_compression_ratio: int
) -> zipfile.ZipFile | None:
    """The archive of a real .xlsx (OOXML zip) that is safe to unpack; otherwise None and one clear problem,
    never a traceback. The caller closes it.

    Only the archive's directory is read here: the declared sizes are checked before anything is inflated
    (`zipfile` never inflates an entry beyond its declared size, so a lying directory cannot get past this).
    """
    if data.startswith(OLE_MAGIC):
        found.add(_ole_problem(data))
        return None
    if not data.startswith(ZIP_MAGIC):
        found.add("不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 打开后“另存为” .xlsx")
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        found.add("文件已损坏（不是完整的 .xlsx 压缩包）；请重新保存后再提交")
        return None
    if _check_container(archive.infolist(), found, max_uncompressed_bytes, max_compression_ratio):
        return archive
    archive.close()
    return None


def _check_container(
    infos: list[zipfile.ZipInfo], found: _Collector, max_uncompressed_bytes: int, max_compression_ratio: int
) -> bool:
    """Are the entries of the archive those of an .xlsx, unencrypted, and of a sane size? One problem otherwise."""
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        hint = "（像是 Word 文档）" if any(n.startswith("word/") for n in names) else ""
        found.add(f"不是 Excel 工作簿（.xlsx）{hint}；请提交 .xlsx 格式的工作簿")
        return False
    if any(info.flag_bits & 0x1 for info in infos):
        found.add("文件是加了密码的压缩包，无法读取；请提交未加密的 .xlsx 工作簿")
        return False
    total = sum(info.file_size for info in infos)
    if total > max_uncompressed_bytes:
        found.add(
            f"工作簿解压后共 {total / MB:,.0f} MB，超过上限 {max_uncompressed_bytes / MB:,.0f} MB"
            "（可能是“压缩炸弹”），拒绝读取"
        )
        return False
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > max_compression_ratio:
            found.add(
                f"压缩包中的「{info.filename}」解压后 {info.file_size / MB:,.0f} MB，是压缩后的 {ratio:,.0f} 倍"
                f"（上限 {max_compression_ratio} 倍），像是“压缩炸弹”，拒绝读取"
            )
            return False
    return True


def read_workbook(
    path: Path,
    kind: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_compression_ratio: int = MAX_COMPRESSION_RATIO,
) -> ParsedWorkbook:
    """Read and validate one workbook; raise `ImportRejected` listing every problem found.

    The limits default to the built-in ones; callers pass the year's policy (`Policy.imports.reader_limits()`).
    """
    parsed, problems = parse_workbook(
        path,
        kind,
        max_rows=max_rows,
        max_bytes=max_bytes,
        max_uncompressed_bytes=max_uncompressed_bytes,
        max_compression_ratio=max_compression_ratio,
    )
    if problems or parsed is None:
        raise ImportRejected(problems)
    return parsed


def parse_workbook(
    path: Path,
    kind: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_compression_ratio: int = MAX_COMPRESSION_RATIO,
) -> tuple[ParsedWorkbook | None, list[ImportProblem]]:
    """Like `read_workbook` but never raises: what could be read, and every problem found.

    The workbook is None when the file itself is unusable (missing, not an .xlsx, too large, unknown kind).
    Otherwise refused cells are None in their row (and named in `ParsedRow.errors`), so the loader can still
    check the cross-references of the rest and a single refusal lists every problem of the file.

    The cheap checks come first and stop at the first failure: size on disk (nothing is read), then the
    container and the archive's declared sizes (nothing is inflated), and only then the cells.
    """
    path = Path(path)
    found = _Collector(path.name)
    spec: WorkbookSpec | None = None
    if kind is not None:
        if kind not in SPECS:
            found.add(f"未知的表格类型 {kind!r}；可用: {', '.join(SPECS)}")
            return None, found.problems
        spec = SPECS[kind]
    if not path.exists():
        found.add("文件不存在")
        return None, found.problems
    if not path.is_file():
        found.add("不是文件")
        return None, found.problems
    size = path.stat().st_size
    if size == 0:
        found.add("文件是空的（0 字节）")
        return None, found.problems
    if size > max_bytes:
        found.add(_too_large(size, max_bytes))
        return None, found.problems
    try:
        with path.open("rb") as handle:
            data = handle.read(size + 1)  # a buffer of the file's size, not of the limit
            if len(data) > size:  # the file grew meanwhile: read on, never more than the limit
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        found.add(f"无法读取文件（{exc.strerror or type(exc).__name__}）")
        return None, found.problems
    if len(data) > max_bytes:
        found.add(_too_large(len(data), max_bytes))
        return None, found.problems
    if not data:
        found.add("文件是空的（0 字节）")
        return None, found.problems
    digest = hashlib.sha256(data).hexdigest()
    archive = _open_container(data, found, max_uncompressed_bytes, max_compression_ratio)
    if archive is None:
        return None, found.problems

    with archive:
        fast = _fast_read(data, spec, path.name, max_rows, archive)
    if fast is not None:
        parsed_sheets, detected = fast
        return ParsedWorkbook(path=path, kind=detected, sha256=digest, sheets=parsed_sheets), []

    from openpyxl import load_workbook

    # openpyxl reports what it could not understand as warnings; they become located problems, never console noise
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found.warnings = caught
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds on malformed parts; the user needs one sentence
            broken = _failed_sheet(exc)
            where = "工作表" if broken else "工作簿"
            found.add(f"无法读取{where}（{type(exc).__name__}: {exc}）；请用 Excel 打开后重新保存为 .xlsx", broken)
            return None, found.problems
        try:
            sheets = _read_sheets(workbook, spec, found, max_rows)
        finally:
            workbook.close()
    if sheets is None:
        return None, found.problems
    parsed, detected = sheets
    return ParsedWorkbook(path=path, kind=detected, sha256=digest, sheets=parsed), found.problems


def _too_large(size: int, max_bytes: int) -> str:
    return f"文件过大（{size / MB:.1f} MB，上限 {max_bytes / MB:.0f} MB），未读取"


def _similar_sheets(wanted: str, names: Sequence[str]) -> list[str]:
    return difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.5)


def _closest_spec(names: Sequence[str]) -> WorkbookSpec | None:
    """The kind most of whose sheets are there (none when no sheet name matches at all, or on a tie)."""
    scores = sorted(((sum(s.name in names for s in spec.sheets), spec.kind) for spec in SPECS.values()), reverse=True)
    if not scores or scores[0][0] == 0 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        return None
    return SPECS[scores[0][1]]


def _sheet_hints(spec: WorkbookSpec | None, names: Sequence[str]) -> str:
    """「部门信息」是否应为「部门」: the likely renamed sheets of a workbook."""
    if spec is None:
        return ""
    hints = []
    for sheet in spec.sheets:
        if sheet.name in names:
            continue
        for similar in _similar_sheets(sheet.name, [n for n in names if n not in {s.name for s in spec.sheets}]):
            hints.append(f"工作表「{similar}」是否应命名为「{sheet.name}」？")
    return "".join(hints)


def _read_sheets(
    workbook: Any, spec: WorkbookSpec | None, found: _Collector, max_rows: int
) -> tuple[dict[str, list[ParsedRow]], str] | None:
    from openpyxl.chartsheet import Chartsheet

    actual = {name.strip(): name for name in workbook.sheetnames}
    if spec is None:
        detected = detect_kind(list(actual))
        if detected is None:
            expected = "；".join(
                f"{s.title}: {'、'.join(sh.name for sh in s.sheets if sh.required)}" for s in SPECS.values()
            )
            hints = _sheet_hints(_closest_spec(list(actual)), list(actual))
            found.add(
                f"无法识别表格类型：工作表为 {'、'.join(workbook.sheetnames) or '（无）'}；应包含以下之一 —— {expected}"
                + (f"。{hints}" if hints else "")
            )
            return None
        spec = SPECS[detected]
    parsed: dict[str, list[ParsedRow]] = {}
    budget = [max_rows]
    missing_required = False
    for sheet in spec.sheets:
        parsed[sheet.name] = []
        name = actual.get(sheet.name)
        if name is None:
            if sheet.required:
                missing_required = True
                similar = _similar_sheets(sheet.name, [n for n in actual if n not in {s.name for s in spec.sheets}])
                hint = f"；工作表「{similar[0]}」是否应命名为「{sheet.name}」？" if similar else ""
                found.add(
                    f"缺少工作表「{sheet.name}」（{spec.title}应有: {'、'.join(s.name for s in spec.sheets)}）{hint}"
                )
            continue
        ws = workbook[name]
        if isinstance(ws, _FastSheet):
            parsed[sheet.name] = _read_fast_sheet(ws, spec.kind, sheet, budget)
            continue
        if isinstance(ws, Chartsheet) or not hasattr(ws, "iter_rows"):
            found.add("是图表页，不是数据表；请把数据填在普通工作表中", sheet.name)
            continue
        if budget[0] < 0:
            continue
        try:
            parsed[sheet.name] = _read_sheet(ws, spec.kind, sheet, found, budget, max_rows)
        except Exception as exc:  # a malformed sheet part: report it, never a traceback
            row, _, value = _failed_cell(exc)
            found.add(_unreadable(exc, value), sheet.name, row)
    if missing_required:
        other = detect_kind(list(actual))
        if other is not None and other != spec.kind:
            found.add(f"这个工作簿像是「{SPECS[other].title}」（{other}），不是「{spec.title}」（{spec.kind}）")
    return parsed, spec.kind


def _failed_cell(exc: BaseException) -> tuple[int | None, int | None, Any]:
    """(row, column, raw value) of the cell openpyxl was parsing when it failed, when the traceback shows it."""
    trace: TracebackType | None = exc.__traceback__
    found: tuple[int | None, int | None, Any] = (None, None, None)
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_name == "parse_cell":
            local = frame.f_locals
            row, column = local.get("row"), local.get("column")
            if isinstance(row, int) and isinstance(column, int):
                found = (row, column, local.get("value"))
        trace = trace.tb_next
    return found


def _failed_sheet(exc: BaseException) -> str | None:
    """The title of the worksheet openpyxl was opening when it failed, when the traceback shows it."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    trace: TracebackType | None = exc.__traceback__
    title: str | None = None
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        if isinstance(owner, ReadOnlyWorksheet) and isinstance(getattr(owner, "title", None), str):
            title = owner.title
        trace = trace.tb_next
    return title


def _unreadable(exc: Exception, value: Any) -> str:
    if isinstance(value, str):
        return f"单元格内容无法解析: {value[:40]!r}；请检查该单元格后重新保存"
    return f"无法读取工作表（{type(exc).__name__}: {exc}）"


def _has_row_rules(kind: str, sheet: SheetSpec) -> bool:
    return kind == "targets" and sheet.name == "绩效指标"


def _row_rules(kind: str, sheet: SheetSpec, values: dict[str, Any], errors: set[str]) -> list[tuple[str, str]]:
    """(field, reason) of what is wrong between the cells of one row (each cell being fine by itself)."""
    if _has_row_rules(kind, sheet):
        operator = values.get("operator")
        if operator in QUANTITATIVE and values.get("target") is None and "target" not in errors:
            return [("target", f"定量指标（运算符 {operator}）必须填写目标值（数字）")]
    return []


def _read_sheet(
    ws: Any, kind: str, sheet: SheetSpec, found: _Collector, budget: list[int], max_rows: int
) -> list[ParsedRow]:
    ws.reset_dimensions()  # some generators write a wrong <dimension>; read what is really there
    found.start_sheet()
    rows = ws.iter_rows()
    header = next(rows, ())
    failure: Exception | None = None
    try:
        second = next(rows, None)
    except Exception as exc:  # the first data row is unreadable: still check the header, then name the cell
        second, failure = None, exc
    mapping = _match_headers(header, sheet, found, second)
    if mapping is None:
        return []
    converters = [(index, column, _converter(column)) for index, column in mapping.items()]
    missing = {c.field for c in sheet.columns if not c.reference} - {c.field for c in mapping.values()}
    key_columns = [c for c in sheet.columns if c.field in sheet.key]
    key_label = "、".join(c.header for c in key_columns)
    by_field = {c.field: c for c in sheet.columns}
    by_position = {index + 1: column for index, column in mapping.items()}
    seen_keys: dict[tuple[Any, ...], int] = {}
    result: list[ParsedRow] = []

    def data_rows() -> Any:
        if second is not None:
            yield second
        yield from rows

    row_number = 1
    try:
        if failure is not None:
            raise failure
        for row_number, cells in enumerate(data_rows(), start=2):
            if all(_is_blank(getattr(cells[i], "value", None)) for i in mapping if i < len(cells)):
                continue
            budget[0] -= 1
            if budget[0] < 0:
                found.add(f"数据行超过上限 {max_rows:,} 行，其余行未检查", sheet.name, row_number)
                break
            values: dict[str, Any] = dict.fromkeys(missing)
            errors = set(missing)
            for index, column, converter in converters:
                cell = cells[index] if index < len(cells) else None
                try:
                    serial = found.bad_serial(cell)
                    if serial is not None:
                        raise _CellError(
                            f"日期序号 {serial} 超出 Excel 的日期范围；请填 {FIRST_DATE.year} 到 {LAST_DATE.year} 年之间的日期"
                        )
                    values[column.field] = convert_cell(column, cell, converter)
                except _CellError as exc:
                    found.add(str(exc), sheet.name, row_number, column.header)
                    values[column.field] = None
                    errors.add(column.field)
            for field_name, reason in _row_rules(kind, sheet, values, errors):
                found.add(reason, sheet.name, row_number, by_field[field_name].header)
                errors.add(field_name)
            if key_columns:
                key = tuple(values[c.field] for c in key_columns)
                if all(part is not None for part in key):
                    first = seen_keys.get(key)
                    if first is not None:
                        shown = " + ".join(str(part) for part in key)
                        found.add(
                            f"与第 {first} 行重复（{shown}）；{key_label}在本工作表中不能重复",
                            sheet.name,
                            row_number,
                            key_label,
                        )
                    else:
                        seen_keys[key] = row_number
            result.append(ParsedRow(row_number, values, errors))
    except Exception as exc:  # openpyxl could not parse a cell: name it, keep what was read, never a traceback
        row, column_number, value = _failed_cell(exc)
        failed = by_position.get(column_number) if column_number is not None else None
        found.add(_unreadable(exc, value), sheet.name, row or row_number + 1, failed.header if failed else None)
    return result


# ------------------------------------------------------------------------------------ the fast path
#
# A workbook as Excel, WPS or openpyxl write it is read straight from its XML parts, giving exactly the
# values openpyxl gives (same number, string, boolean and date rules) at a fraction of the cost. Anything
# unusual (formulas, error cells, chart sheets, 1904 dates, unknown parts) or any problem at all sends the
# file to openpyxl instead, so every refusal keeps openpyxl's view and its precise messages. Since any
# problem means openpyxl reads the file again, the fast path stops at the first one instead of collecting.
#
# A worksheet whose sheetData is the plain run of rows and cells these programs write is not even built as
# a tree: one regular expression splits the raw bytes into rows and cells, and only the cells' texts go
# through the XML parser, all in one document. Anything else in sheetData, or any doubt, and the sheet is
# parsed as a tree (`_fast_rows`), which gives the same rows.

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_WORKSHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_LETTERS = re.compile(r"[A-Z]{1,3}")
_TEXT_PARTS = {_MAIN + "t", _MAIN + "r", _MAIN + "rPh", _MAIN + "phoneticPr"}


class _NotPlain(Exception):
    """The workbook needs openpyxl's full reading."""


_ROW, _CELL, _VALUE, _INLINE, _TEXT = (_MAIN + tag for tag in ("row", "c", "v", "is", "t"))
_DIGITS = "0123456789"
_COLUMNS: dict[str, int] = {}  # column letters → 1-based index, as met
_POSITIONS: dict[bytes, int] = {}  # column letters → 0-based position, as met
_STYLES: dict[bytes, _Styles] = {}  # styles.xml → what it means to the reader; many files share one
_STYLES_KEPT = 32
_BOOKS: dict[tuple[bytes, bytes], tuple[tuple[Any, Any, Any], ...]] = {}  # workbook.xml and its rels → sheets
_BOOKS_KEPT = 32
_PLANS: dict[tuple[Any, ...], _SheetPlan] = {}  # (sheet spec, header texts) → how to convert its rows
_PLANS_KEPT = 64
_FRAMES: dict[bytes, dict[Any, str] | None] = {}  # a sheet without its sheetData → the namespaces in scope there
_FRAMES_KEPT = 32
_KEPT_BYTES = 64 * 1024  # parts larger than this are not kept as keys

_NAME = rb"[a-zA-Z_][\w.-]*(?::[a-zA-Z_][\w.-]*)?"  # an attribute name, perhaps with a prefix
_ROW_ATTRIBUTES = rb'(?: %s="[\x20\x21\x23-\x25\x27-\x3b\x3d-\x7e]*")*' % _NAME  # values in printable ASCII
_SHEET_TOKEN = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"(?: s="([0-9]+)")?'
    rb'(?: t="inlineStr"><is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>'
    rb'|(?: t="([a-zA-Z]+)")?(?:/>|><v>([^<]*)</v></c>))'
    rb'|<row r="([0-9]+)"(%s)(/?)>'
    rb"|</row>" % _ROW_ATTRIBUTES
)
_STRIDE = 10  # what `_SHEET_TOKEN.split` gives per token: the bytes before it, then its nine groups
_ROW_ATTRIBUTE = re.compile(rb' (%s)="' % _NAME)
_SEPARATOR = "\ue000"
_CUT = "perfcycleCut"
_CHUNK = 4 * MB  # sheetData is split this much at a time, so the texts of one piece stay one modest XML text
_CELL_TYPES = (None, b"n", b"s", b"str", b"b", b"inlineStr")


class _Style:
    """The number format of a style, as the converters ask a cell for it."""

    __slots__ = ("number_format",)

    def __init__(self, number_format: str) -> None:
        self.number_format = number_format


@dataclass(frozen=True)
class _Styles:
    formats: list[_Style]
    dates: frozenset[int]
    durations: frozenset[int]


_GENERAL = _Style("General")
_NO_STYLES = _Styles([_GENERAL], frozenset(), frozenset())


class _FastBook:
    """The parts every sheet of a workbook reads through."""

    def __init__(self, shared: list[str], styles: _Styles, parser: Any) -> None:
        from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel

        self.shared = shared
        self.styles = styles
        self.parser = parser
        self.from_excel = from_excel
        self.epoch = CALENDAR_WINDOWS_1900


class _FastSheet:
    """One worksheet's XML, parsed when the spec asks for the sheet."""

    def __init__(self, content: bytes, book: _FastBook) -> None:
        self._content = content
        self._book = book

    def rows(self) -> list[tuple[int, list[Any], list[_Style]]]:
        rows = _plain_rows(self._content, self._book)
        if rows is None:
            from lxml import etree

            rows = _fast_rows(etree.fromstring(self._content, self._book.parser), self._book)
        return rows


class _FastWorkbook:
    def __init__(self, sheets: dict[str, _FastSheet]) -> None:
        self.sheetnames = list(sheets)
        self._sheets = sheets

    def __getitem__(self, name: str) -> _FastSheet:
        return self._sheets[name]


def _fast_read(
    data: bytes, spec: WorkbookSpec | None, file: str, max_rows: int, archive: zipfile.ZipFile | None = None
) -> tuple[dict[str, list[ParsedRow]], str] | None:
    """The sheets of a plain, valid workbook; None when openpyxl must read it (unusual content or any problem)."""
    found = _Collector(file)
    try:
        workbook = _fast_workbook(data, archive)
        result = _read_sheets(workbook, spec, found, max_rows)
    except Exception:  # anything this reader does not handle is openpyxl's to judge
        return None
    if result is None or found.problems:
        return None
    return result


def _text_content(node: Any) -> str:
    """openpyxl's `Text.content`: the plain text, then each rich-text run's text (phonetic runs left out)."""
    if len(node) == 1:
        only = node[0]
        if only.tag == _TEXT:
            return only.text or ""
    parts: list[str] = []
    for child in node:
        if child.tag not in _TEXT_PARTS:
            raise _NotPlain(child.tag)
    plain = node.find(_TEXT)
    if plain is not None and plain.text is not None:
        parts.append(plain.text)
    for run in node.iterfind(_MAIN + "r"):
        text = run.find(_TEXT)
        if text is not None and text.text is not None:
            parts.append(text.text)
    return "".join(parts)


def _cast_number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


def import_dependencies() -> None:
    """Import what reading the first workbook would (lxml, openpyxl's number formats and dates): a reading
    process started ahead of a stage pays for it then, not on the stage's first file."""
    from lxml import etree  # noqa: F401
    from openpyxl.styles import numbers  # noqa: F401
    from openpyxl.utils import datetime  # noqa: F401


def _read_styles(content: bytes, parser: Any) -> _Styles:
    from lxml import etree
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    styles = etree.fromstring(content, parser)
    custom = {int(f.get("numFmtId")): f.get("formatCode") for f in styles.iterfind(f"{_MAIN}numFmts/{_MAIN}numFmt")}
    xfs = styles.find(_MAIN + "cellXfs")
    formats: list[_Style] = []
    dates: set[int] = set()
    durations: set[int] = set()
    for index, xf in enumerate(xfs if xfs is not None else ()):
        number = int(xf.get("numFmtId", 0))
        code = custom[number] if number in custom else BUILTIN_FORMATS.get(number, "General")
        formats.append(_GENERAL if code == "General" else _Style(code))
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            durations.add(index)
    return _Styles(formats, frozenset(dates), frozenset(durations))


def _sheet_entries(book_xml: bytes, rels_xml: bytes, parser: Any) -> tuple[tuple[Any, Any, Any], ...]:
    """(name, relationship type, part) of each sheet, in the workbook's order; a stage's files share these parts."""
    key = (book_xml, rels_xml)
    entries = _BOOKS.get(key)
    if entries is None:
        entries = _read_sheet_entries(book_xml, rels_xml, parser)
        if len(_BOOKS) >= _BOOKS_KEPT:
            _BOOKS.clear()
        if len(book_xml) + len(rels_xml) <= _KEPT_BYTES:
            _BOOKS[key] = entries
    return entries


def _read_sheet_entries(book_xml: bytes, rels_xml: bytes, parser: Any) -> tuple[tuple[Any, Any, Any], ...]:
    from lxml import etree

    book = etree.fromstring(book_xml, parser)
    properties = book.find(_MAIN + "workbookPr")
    if properties is not None and properties.get("date1904") in ("1", "true"):
        raise _NotPlain("date1904")
    targets = {}
    for rel in etree.fromstring(rels_xml, parser).iterfind(_PKG_REL + "Relationship"):
        target = rel.get("Target", "")
        target = target[1:] if target.startswith("/") else "xl/" + target
        targets[rel.get("Id")] = (rel.get("Type"), target)
    sheet_list = book.find(_MAIN + "sheets")
    return tuple(
        (sheet.get("name"), *targets[sheet.get(_REL + "id")])
        for sheet in (sheet_list if sheet_list is not None else ())
    )


def _fast_workbook(data: bytes, archive: zipfile.ZipFile | None = None) -> _FastWorkbook:
    from lxml import etree

    if archive is None:
        with zipfile.ZipFile(io.BytesIO(data)) as opened:
            return _fast_workbook(data, opened)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    names = set(archive.namelist())

    def content(name: str) -> bytes:
        raw = _member(archive, data, name)
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise _NotPlain(name)
        return raw

    entries = _sheet_entries(content("xl/workbook.xml"), content("xl/_rels/workbook.xml.rels"), parser)
    shared: list[str] = []
    if "xl/sharedStrings.xml" in names:
        shared = [
            _text_content(si).replace("x005F_", "")
            for si in etree.fromstring(content("xl/sharedStrings.xml"), parser).iterfind(_MAIN + "si")
        ]
    styles = _NO_STYLES
    if "xl/styles.xml" in names:
        raw = content("xl/styles.xml")
        known = _STYLES.get(raw)
        if known is None:
            known = _read_styles(raw, parser)
            if len(_STYLES) >= _STYLES_KEPT:
                _STYLES.clear()
            _STYLES[raw] = known
        styles = known
    shared_book = _FastBook(shared, styles, parser)
    sheets: dict[str, _FastSheet] = {}
    for name, kind, target in entries:
        if kind != _WORKSHEET_REL or target not in names:
            raise _NotPlain(kind)
        if name in sheets:
            raise _NotPlain(name)
        sheets[name] = _FastSheet(content(target), shared_book)
    return _FastWorkbook(sheets)


def _member(archive: zipfile.ZipFile, data: bytes, name: str) -> bytes:
    """`archive.read(name)` for the archive of `data`: a deflated or stored part that passes the same checks
    (local header, name, sizes, CRC) is inflated straight from `data`; any other goes through `zipfile`."""
    info = archive.getinfo(name)
    start = info.header_offset
    header = data[start : start + 30]
    if len(header) == 30 and header[:4] == ZIP_MAGIC and not info.flag_bits & 0x61 and info.compress_type in (0, 8):
        try:
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            local = data[start + 30 : start + 30 + name_length]
            encoding = "utf-8" if header[7] & 0x08 else getattr(archive, "metadata_encoding", None) or "cp437"
            begin = start + 30 + name_length + extra_length
            end = begin + info.compress_size
            bound = getattr(info, "_end_offset", None)
            if local.decode(encoding) == info.orig_filename and end <= len(data) and (bound is None or end <= bound):
                packed = data[begin:end]
                raw = zlib.decompress(packed, -15) if info.compress_type == 8 else packed
                if len(raw) == info.file_size and zlib.crc32(raw) == info.CRC:
                    return raw
        except (ValueError, zlib.error):  # undecodable name or broken stream: zipfile reports it its way
            pass
    return archive.read(name)


def _column_number(letters: str) -> int:
    number = _COLUMNS.get(letters)
    if number is None:
        if not _LETTERS.fullmatch(letters):
            raise _NotPlain(letters)
        number = _COLUMNS[letters] = _column_index(letters)
    return number


def _fast_rows(root: Any, book: _FastBook) -> list[tuple[int, list[Any], list[_Style]]]:
    """(row number, values, styles) of each row element, values and styles by column position (gaps None);
    the values are openpyxl's (same number, string, boolean and date rules)."""
    data = root.find(_MAIN + "sheetData")
    rows: list[tuple[int, list[Any], list[_Style]]] = []
    if data is None:
        return rows
    shared, from_excel, epoch = book.shared, book.from_excel, book.epoch
    formats, dates, durations = book.styles.formats, book.styles.dates, book.styles.durations
    previous = 0
    for row in data:
        if row.tag != _ROW:
            raise _NotPlain(row.tag)
        number = int(row.get("r"))
        if number <= previous:
            raise _NotPlain(number)
        previous = number
        suffix = str(number)
        values: list[Any] = []
        styles: list[_Style] = []
        for cell in row:
            if cell.tag != _CELL:
                raise _NotPlain(cell.tag)
            reference = cell.get("r")
            letters = reference.rstrip(_DIGITS)
            if reference[len(letters) :] != suffix:
                raise _NotPlain(reference)
            position = _column_number(letters) - 1
            if position < len(values):
                raise _NotPlain(reference)
            while len(values) < position:
                values.append(None)
                styles.append(_GENERAL)
            style_text = cell.get("s")
            style = int(style_text) if style_text else 0
            data_type = cell.get("t")
            value: Any = None
            children = len(cell)
            if children:
                child = cell[0]
                if children != 1:
                    raise _NotPlain(reference)
                if data_type == "inlineStr":
                    if child.tag != _INLINE:
                        raise _NotPlain(reference)
                    value = _text_content(child)
                else:
                    if child.tag != _VALUE:
                        raise _NotPlain(child.tag)
                    value = child.text or None
                    if value is not None:
                        if data_type is None or data_type == "n":
                            value = _cast_number(value)
                            if style in dates:
                                value = from_excel(value, epoch, timedelta=style in durations)
                        elif data_type == "s":
                            value = shared[int(value)]
                        elif data_type == "b":
                            value = bool(int(value))
                        elif data_type != "str":
                            raise _NotPlain(data_type)
            elif data_type not in (None, "n", "s", "str", "b", "inlineStr"):
                raise _NotPlain(data_type)
            values.append(value)
            styles.append(formats[style])
        rows.append((number, values, styles))
    return rows


def _plain_rows(raw: bytes, book: _FastBook) -> list[tuple[int, list[Any], list[_Style]]] | None:
    """`_fast_rows` of a sheet whose sheetData is a plain run of rows and cells; None for any other sheet."""
    try:
        return _split_rows(raw, book)
    except Exception:  # anything unexpected: the tree reading decides
        return None


def _split_rows(raw: bytes, book: _FastBook) -> list[tuple[int, list[Any], list[_Style]]] | None:
    """The rest of the sheet is parsed with sheetData emptied and marked, so the parser still judges all of it
    and shows that the marked element is the sheetData `_fast_rows` would read, with the namespaces in scope."""
    start = raw.find(b"<sheetData>")
    end = raw.find(b"</sheetData>", start)
    if start < 0 or end < 0 or b"\x00" in raw[:4] or _CUT.encode() in raw:
        return None
    namespaces = _sheet_frame(raw[:start] + f'<sheetData {_CUT}=""/>'.encode() + raw[end + 12 :], book.parser)
    if namespaces is None:
        return None
    content = raw[start + 11 : end]
    rows: list[tuple[int, list[Any], list[_Style]]] = []
    previous = 0
    accepted = {b""}
    position = 0
    while position < len(content):
        cut = content.find(b"</row>", position + _CHUNK)
        stop = len(content) if cut < 0 else cut + 6
        previous = _split_piece(content[position:stop], book, rows, previous, namespaces, accepted)
        position = stop
    return rows


def _sheet_frame(rest: bytes, parser: Any) -> dict[Any, str] | None:
    """The namespaces in scope at the marked sheetData of a sheet with its sheetData emptied, when the parser
    accepts that, it is in UTF-8 XML 1.0 and the marked element is the sheetData `_fast_rows` reads; the
    answers are kept, as a stage's sheets mostly share everything but their sheetData."""
    if rest in _FRAMES:
        return _FRAMES[rest]
    from lxml import etree

    root = etree.fromstring(rest, parser)
    info = root.getroottree().docinfo
    marker = root.find(_MAIN + "sheetData")
    namespaces: dict[Any, str] | None = None
    plain = info.xml_version == "1.0" and (info.encoding or "").upper() == "UTF-8"
    if plain and marker is not None and marker.get(_CUT) == "":
        namespaces = dict(marker.nsmap)
    if len(_FRAMES) >= _FRAMES_KEPT:
        _FRAMES.clear()
    if len(rest) <= _KEPT_BYTES:
        _FRAMES[rest] = namespaces
    return namespaces


def _split_piece(
    content: bytes,
    book: _FastBook,
    rows: list[tuple[int, list[Any], list[_Style]]],
    previous: int,
    namespaces: dict[Any, str],
    accepted: set[bytes],
) -> int:
    """Append the rows of whole `<row>` elements to `rows`, as `_fast_rows` reads them; the last row number."""
    parts = _SHEET_TOKEN.split(content)
    if any(parts[0::_STRIDE]):
        raise _NotPlain("sheetData")
    inline_texts, value_texts = parts[4::_STRIDE], parts[6::_STRIDE]
    next_inline = iter(_parse_texts([text for text in inline_texts if text is not None], book.parser)).__next__
    next_value = iter(_parse_texts([text for text in value_texts if text is not None], book.parser)).__next__
    shared, from_excel, epoch = book.shared, book.from_excel, book.epoch
    formats, dates, durations = book.styles.formats, book.styles.dates, book.styles.durations
    positions = _POSITIONS
    values: list[Any] = []
    styles: list[_Style] = []
    in_row = False
    number = 0
    suffix: bytes | None = None  # the row number cells must end with; None outside a row
    for letters, digits, style_text, inline, data_type, value_text, row, attributes, empty in zip(
        parts[1::_STRIDE],
        parts[2::_STRIDE],
        parts[3::_STRIDE],
        inline_texts,
        parts[5::_STRIDE],
        value_texts,
        parts[7::_STRIDE],
        parts[8::_STRIDE],
        parts[9::_STRIDE],
        strict=True,
    ):
        if letters is not None:
            if digits != suffix:
                raise _NotPlain(digits)
            position = positions.get(letters)
            if position is None:
                position = positions[letters] = _column_index(letters.decode()) - 1
            if position != len(values):
                if position < len(values):
                    raise _NotPlain(letters)
                styles.extend([_GENERAL] * (position - len(values)))
                values.extend([None] * (position - len(values)))
            style = int(style_text) if style_text is not None else 0
            if inline is not None:
                values.append(next_inline())
            elif value_text is not None:
                if data_type == b"inlineStr":
                    raise _NotPlain(data_type)
                value: Any = next_value() or None
                if value is not None:
                    if data_type is None or data_type == b"n":
                        value = _cast_number(value)
                        if style in dates:
                            value = from_excel(value, epoch, timedelta=style in durations)
                    elif data_type == b"s":
                        value = shared[int(value)]
                    elif data_type == b"b":
                        value = bool(int(value))
                    elif data_type != b"str":
                        raise _NotPlain(data_type)
                values.append(value)
            else:
                if data_type not in _CELL_TYPES:
                    raise _NotPlain(data_type)
                values.append(None)
            styles.append(formats[style])
        elif row is not None:
            if in_row:
                raise _NotPlain(row)
            number = int(row)
            if number <= previous:
                raise _NotPlain(number)
            previous = number
            if attributes not in accepted:
                _check_row_attributes(attributes, namespaces)
                accepted.add(attributes)
            if empty:
                rows.append((number, [], []))
            else:
                in_row = True
                suffix = b"%d" % number
                values, styles = [], []
        else:
            if not in_row:
                raise _NotPlain("</row>")
            rows.append((number, values, styles))
            in_row = False
            suffix = None
    if in_row:
        raise _NotPlain(number)
    return previous


def _check_row_attributes(attributes: bytes, namespaces: dict[Any, str]) -> None:
    """Raise unless a row's other attributes are distinct, declare no namespace and use declared prefixes only."""
    if len(attributes) > 1000:
        raise _NotPlain("row")
    seen: set[tuple[str | None, str]] = set()
    for name in _ROW_ATTRIBUTE.findall(attributes):
        prefix, _, local = name.decode().rpartition(":")
        if name == b"r" or name.lower().startswith(b"xml"):
            raise _NotPlain(name)
        key = (namespaces[prefix] if prefix else None, local)
        if key in seen:
            raise _NotPlain(name)
        seen.add(key)


def _parse_texts(texts: list[bytes], parser: Any) -> list[str]:
    """The raw texts of cells as the XML parser reads them (references, line ends, refusals), in one parse."""
    if not texts:
        return []
    from lxml import etree

    joined = etree.fromstring(b"<t>" + _SEPARATOR.encode().join(texts) + b"</t>", parser).text or ""
    decoded = joined.split(_SEPARATOR)
    if len(decoded) != len(texts):
        raise _NotPlain(_SEPARATOR)
    return decoded


_GENERIC, _AS_TEXT, _AS_CODE, _AS_CHOICE = range(4)
_TEXT_MODES = {"text": _AS_TEXT, "code": _AS_CODE, "choice": _AS_CHOICE}


@dataclass(frozen=True)
class _SheetPlan:
    """How `_read_fast_sheet` converts the rows of a sheet with a given header."""

    sheet: SheetSpec
    columns: list[tuple[int, str, Callable[[Any, Any], Any], bool, bool, int, frozenset[str]]]
    positions: list[int]
    width: int
    key: Callable[[dict[str, Any]], Any] | None
    single_key: bool


def _sheet_plan(header: Sequence[Any], sheet: SheetSpec, second: Sequence[Any] | None) -> _SheetPlan:
    """The plan for a header without a single problem (else `_NotPlain`); a matching header's plan is kept,
    as a stage's files share their headers."""
    key = (id(sheet), *header) if all(value is None or type(value) is str for value in header) else None
    known = _PLANS.get(key) if key is not None else None
    if known is not None and known.sheet is sheet:
        return known
    found = _Collector("")
    mapping = _match_headers(header, sheet, found, second)
    if mapping is None or found.problems:
        raise _NotPlain("header")
    columns = [
        (
            index,
            column.field,
            _converter(column),
            column.required,
            column.kind in _NUMERIC_KINDS,
            _TEXT_MODES.get(column.kind, _GENERIC),
            frozenset(column.choices),
        )
        for index, column in mapping.items()
    ]
    key_fields = [c.field for c in sheet.columns if c.field in sheet.key]
    plan = _SheetPlan(
        sheet,
        columns,
        list(mapping),
        max(mapping, default=-1) + 1,
        itemgetter(*key_fields) if key_fields else None,
        len(key_fields) == 1,
    )
    if key is not None and mapping:
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _read_fast_sheet(ws: _FastSheet, kind: str, sheet: SheetSpec, budget: list[int]) -> list[ParsedRow]:
    """`_read_sheet` for a sheet without a single problem (the first sends the file to openpyxl); text that is
    its own value once stripped skips the converter, which would return it unchanged."""
    rows = ws.rows()
    header: Sequence[Any] = rows[0][1] if rows and rows[0][0] == 1 else ()
    data = rows[1:] if rows and rows[0][0] == 1 else rows
    second: Sequence[Any] | None = None
    if data:
        second = data[0][1] if data[0][0] == 2 else ()
    plan = _sheet_plan(header, sheet, second)
    columns, positions, width, key_of, single_key = plan.columns, plan.positions, plan.width, plan.key, plan.single_key
    rules = _has_row_rules(kind, sheet)
    as_text, as_code, as_choice, clock = _AS_TEXT, _AS_CODE, _AS_CHOICE, (time, timedelta)
    seen: set[Any] = set()
    result: list[ParsedRow] = []
    for number, values, styles in data:
        if len(values) < width:
            values.extend([None] * (width - len(values)))
        for index in positions:
            value = values[index]
            if value is not None and (value.strip() if isinstance(value, str) else True):
                break
        else:
            continue
        budget[0] -= 1
        if budget[0] < 0:
            raise _NotPlain("rows")
        converted: dict[str, Any] = {}
        for index, field_name, converter, required, numeric, mode, choices in columns:
            value = values[index]
            if isinstance(value, str):
                text = value.strip()
                if not text:
                    value = None
                elif (
                    mode == as_text
                    or (mode == as_choice and text in choices)
                    or (mode == as_code and "\r" not in text and "\n" not in text and "\t" not in text)
                ):
                    converted[field_name] = text
                    continue
                elif numeric and value.lstrip().startswith("="):
                    raise _NotPlain(field_name)
            elif isinstance(value, clock):
                raise _NotPlain(field_name)
            if value is None:
                if required:
                    raise _NotPlain(field_name)
                converted[field_name] = None
            else:
                converted[field_name] = converter(value, styles[index])
        if rules and _row_rules(kind, sheet, converted, set()):
            raise _NotPlain("rule")
        if key_of is not None:
            key = (key_of(converted),) if single_key else key_of(converted)
            if None not in key:
                if key in seen:
                    raise _NotPlain("duplicate")
                seen.add(key)
        result.append(ParsedRow(number, converted, set()))
    return result


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index
