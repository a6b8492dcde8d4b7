"""Read and validate a workbook against its documented format, without touching the database.

Every problem found is collected (not just the first) and reported with the file, sheet, row, column and
reason, so a department can fix its workbook in one pass. Values are converted exactly: money and numbers
become `Decimal` (never binary float), codes become text, dates become `datetime.date`.

The cells are read by python-calamine, after `perfcycle.workbooks.package` has checked the file: what is
read is what Excel shows, or the file is refused saying why.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from perfcycle.money import CENT, MoneyError, to_decimal
from perfcycle.workbooks.formats import SPECS, Column, SheetSpec, WorkbookSpec, detect_kind, header_mismatch
from perfcycle.workbooks.package import MB, Layout, Limits, Package, Refused, RowLimit, Sheet, column_letters

# Defaults of the limits; the year's policy (`imports:` in perfcycle/policies/<year>.yaml) sets the real ones.
MAX_ROWS = 200_000
MAX_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_COLUMNS = 30
MAX_MONEY_WAN = Decimal(10) ** 10  # 100 亿万元: anything this large is a typing error
MAX_NUMBER = Decimal(10) ** 15
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2100, 12, 31)
DATE_HINT = f"请填 {FIRST_DATE.year} 到 {LAST_DATE.year} 年之间的日期"

YES = ("是",)
NO = ("否",)
CHOICE_ALIASES = {">=": "≥", "＞＝": "≥", "=>": "≥", "<=": "≤", "＜＝": "≤", "=<": "≤", "＝": "=", "==": "="}
DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
SHORT_YEAR_DATE = re.compile(r"^(\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
YEAR_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")
OTHER_CALENDARS = ("民国", "令和", "平成", "昭和", "农历", "阴历", "癸卯", "甲辰", "乙巳", "丙午")
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


@dataclass(slots=True)
class ParsedRow:
    """One data row: its Excel row number and the converted values keyed by column field.

    `errors` names the fields whose cell was refused (their value is None) or whose column is missing, so
    later checks can skip them instead of reporting the same cell twice.
    """

    row: int
    values: dict[str, Any]
    errors: set[str] = field(default_factory=set)


@dataclass(slots=True)
class SheetColumns:
    """One sheet's data rows as read, column by column: their Excel row numbers, the fields (a format's column that
    is missing first: None in every row, and named in every row's errors), each field's values in row order, and
    by row position the fields whose cell was refused. `rows` makes them the `ParsedRow`s the loader reads."""

    numbers: list[int]
    fields: list[str]
    columns: list[Sequence[Any]]
    errors: dict[int, set[str]] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()

    def column(self, name: str) -> Sequence[Any] | None:
        return self.columns[self.fields.index(name)] if name in self.fields else None

    def rows(self) -> list[ParsedRow]:
        values = zip(*self.columns, strict=True) if self.columns else itertools.repeat((), len(self.numbers))
        dicts = map(dict, map(zip, itertools.repeat(self.fields), values))  # each row has a value per field
        if self.missing:
            rows = [ParsedRow(number, row, set(self.missing)) for number, row in zip(self.numbers, dicts, strict=True)]
        else:
            rows = list(map(ParsedRow, self.numbers, dicts))
        for at, refused in self.errors.items():
            rows[at].errors |= refused
        return rows


class ParsedWorkbook:
    """A workbook that passed every format check; `sheets` has every sheet of the spec (optional ones may be empty).

    As read, the sheets are held as `columns` and made rows when first asked for (a reading process hands the
    columns over without ever making the rows)."""

    def __init__(
        self,
        path: Path,
        kind: str,
        sha256: str,
        sheets: dict[str, list[ParsedRow]] | None = None,
        *,
        columns: dict[str, SheetColumns] | None = None,
        modified: float | None = None,
    ) -> None:
        if (sheets is None) == (columns is None):
            raise TypeError("a ParsedWorkbook has its sheets as rows or as columns")
        self.path, self.kind, self.sha256 = path, kind, sha256
        self.columns = columns
        self.modified = modified  # the file's modification time (st_mtime) when it was read
        if sheets is not None:
            self.__dict__["sheets"] = sheets

    def __repr__(self) -> str:
        return f"ParsedWorkbook(path={self.path!r}, kind={self.kind!r}, sha256={self.sha256!r})"

    @functools.cached_property
    def sheets(self) -> dict[str, list[ParsedRow]]:
        assert self.columns is not None
        return {name: sheet.rows() for name, sheet in self.columns.items()}

    @property
    def as_columns(self) -> dict[str, SheetColumns] | None:
        """The sheets as columns while no rows were made of them (rows may be changed; columns then say nothing)."""
        return self.columns if "sheets" not in self.__dict__ else None

    @property
    def rows(self) -> int:
        columns = self.as_columns
        if columns is not None:
            return sum(len(sheet.numbers) for sheet in columns.values())
        return sum(len(rows) for rows in self.sheets.values())

    @functools.cached_property
    def content_digest(self) -> str:
        """sha256 of the kind and the cell values: the same data saved again is the same submission."""
        columns = self.as_columns
        text = _content_json(self.kind, self.sheets) if columns is None else _columns_json(self.kind, columns)
        return hashlib.sha256(text.encode()).hexdigest()


def _content_json(kind: str, sheets: dict[str, list[ParsedRow]]) -> str:
    """`json.dumps([kind, [[name, [sorted((k, str(v)) for k, v in row.values.items()) for row in rows]] for name, rows
    in sorted(sheets.items())]], ensure_ascii=False)`, the text of the digests in the database, built by template
    when every row of a sheet has the same text keys (as every row the reader makes has)."""
    quote, parts = json.encoder.encode_basestring, []
    for name, rows in sorted(sheets.items()):
        dicts = [row.values for row in rows]
        keys = sorted(dicts[0]) if dicts else []
        if all(type(key) is str for key in [kind, name, *keys]) and set(map(len, dicts)) <= {len(keys)}:
            get: Any = itemgetter(*keys) if keys else None
            try:
                values = itertools.chain.from_iterable(map(get, dicts)) if len(keys) > 1 else map(get, dicts)
                texts = tuple(map(quote, map(str, values)))
            except (KeyError, TypeError):  # another row has other keys
                pass
            else:
                parts.append(_sheet_json(name, keys, len(rows), texts))
                continue
        canonical = [[(key, str(values[key])) for key in sorted(values)] for values in dicts]
        parts.append(json.dumps([name, canonical], ensure_ascii=False))
    return f"[{json.dumps(kind, ensure_ascii=False)}, [{', '.join(parts)}]]"


def _columns_json(kind: str, sheets: dict[str, SheetColumns]) -> str:
    """`_content_json` of the rows the columns make, from the columns (no row made)."""
    quote, parts = json.encoder.encode_basestring, []
    for name, sheet in sorted(sheets.items()):
        keys = sorted(sheet.fields)
        texts = [list(map(quote, map(str, sheet.columns[sheet.fields.index(key)]))) for key in keys]
        values = tuple(itertools.chain.from_iterable(zip(*texts, strict=True)))
        parts.append(_sheet_json(name, keys, len(sheet.numbers), values))
    return f"[{json.dumps(kind, ensure_ascii=False)}, [{', '.join(parts)}]]"


def _sheet_json(name: str, keys: list[str], rows: int, texts: tuple[str, ...]) -> str:
    """A sheet's part of `_content_json`: rows of the same text `keys`, with `texts` the quoted values row by row."""
    quote = json.encoder.encode_basestring
    row = "[" + ", ".join(f"[{quote(key).replace('%', '%%')}, %s]" for key in keys) + "]"
    return f"[{quote(name)}, [" + ", ".join([row] * rows) % texts + "]]"


class _CellError(ValueError):
    """A cell value that does not fit its column; the message is the reason shown to the user."""


# ---------------------------------------------------------------------------------------------- cells
#
# A converter takes the cell's value as calamine reads it (str, float, bool, date, datetime, time, timedelta;
# '' for an empty cell) and whether its number format shows it as a percentage.


def _plain_number_text(amount: Decimal) -> str:
    """101.0 → '101', 0.950 → '0.95', never scientific notation."""
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def _exact(value: float) -> Decimal:
    """The number a cell shows: calamine reads every number as a float, 18 as 18.0."""
    return Decimal(int(value)) if value.is_integer() else Decimal(repr(value))


def _number(value: Any) -> Decimal:
    if type(value) is float and value - value == 0:  # a finite number, as calamine reads every number
        amount = _exact(value)
        if -MAX_NUMBER < amount < MAX_NUMBER:
            return amount
        raise _CellError(f"数值过大: {value!r}")
    if isinstance(value, datetime | date):
        raise _CellError(f"不是数字（单元格是日期 {value:%Y-%m-%d}）")
    if isinstance(value, time | timedelta):
        raise _CellError(f"不是数字（单元格是时间 {value}）")
    if isinstance(value, bool):
        raise _CellError(f"不是数字: {'TRUE' if value else 'FALSE'}")
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        raise _CellError(str(exc)) from None
    if abs(amount) >= MAX_NUMBER:
        raise _CellError(f"数值过大: {value!r}")
    return amount


def _text(value: Any, percent: bool) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        amount = _number(value)
        if percent:
            return _plain_number_text(amount * 100) + "%"
        return _plain_number_text(amount)
    return str(value).strip()


def _code(value: Any, percent: bool) -> str:
    if isinstance(value, bool | datetime | date | time | timedelta):
        raise _CellError(f"不是有效的编码: {value!r}")
    if isinstance(value, int | float | Decimal):
        return _plain_number_text(_number(value))
    text = str(value).strip()
    if any(ch in text for ch in "\r\n\t"):
        raise _CellError(f"编码中不能有换行或制表符: {text!r}")
    return text


def _money(value: Any, percent: bool) -> Decimal:
    amount = _number(value)
    if amount < 0:
        raise _CellError(f"金额不能为负数: {_plain_number_text(amount)}")
    if amount != amount.quantize(CENT):
        raise _CellError(f"金额最多两位小数（万元）: {_plain_number_text(amount)}")
    if amount >= MAX_MONEY_WAN:
        raise _CellError(f"金额过大（万元）: {_plain_number_text(amount)}")
    return amount


def _percent(value: Any, percent: bool) -> Decimal:
    if isinstance(value, str) and value.strip().endswith(("%", "％")):
        amount = _number(value.strip()[:-1])
    else:
        amount = _number(value)
        if percent and isinstance(value, int | float):
            amount *= 100
    if not 0 <= amount <= 100:
        raise _CellError(f"百分比应在 0 到 100 之间: {_plain_number_text(amount)}")
    return amount


def _int(value: Any, percent: bool) -> int:
    amount = _number(value)
    if amount != amount.to_integral_value():
        raise _CellError(f"不是整数: {_plain_number_text(amount)}")
    return int(amount)


def _year(value: Any, percent: bool) -> int:
    try:
        year = _int(value, percent)
    except _CellError:
        raise _CellError(f"不是年度: {value!r}") from None
    if not 2000 <= year <= 2100:
        raise _CellError(f"年度应在 2000 到 2100 之间: {year}")
    return year


def _bool(value: Any, percent: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in YES:
        return True
    if text in NO:
        return False
    raise _CellError(f"应填「是」或「否」，不是 {text!r}")


def _date(value: Any, percent: bool) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return _date_in_range(value)
    if isinstance(value, time):
        if value == time(0):
            raise _CellError(f"日期序号为 0，不是日期（Excel 的日期从序号 1 即 1900-01-01 起）；{DATE_HINT}")
        raise _CellError(f"只有时间 {value.isoformat()}，没有日期；{DATE_HINT}")
    if isinstance(value, timedelta):
        raise _CellError(f"单元格是时长，不是日期；{DATE_HINT}")
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


def _choice_converter(column: Column) -> Callable[[Any, bool], str]:
    allowed = "、".join(column.choices)

    def convert(value: Any, percent: bool) -> str:
        text = _text(value, percent)
        if text in column.choices:
            return text
        alias = CHOICE_ALIASES.get(text) or text.upper()
        if alias in column.choices:
            return alias
        raise _CellError(f"「{text}」不是可选值；可选: {allowed}")

    return convert


_CONVERTERS: dict[str, Callable[[Any, bool], Any]] = {
    "text": _text,
    "code": _code,
    "money": _money,
    "number": lambda value, percent: _number(value),
    "percent": _percent,
    "int": _int,
    "year": _year,
    "bool": _bool,
    "date": _date,
}
_NUMERIC_KINDS = {"money", "number", "percent", "int", "year"}


def _converter(column: Column) -> Callable[[Any, bool], Any]:
    if column.kind == "choice":
        return _choice_converter(column)
    return _CONVERTERS[column.kind]


def convert_cell(
    column: Column, value: Any, percent: bool = False, converter: Callable[[Any, bool], Any] | None = None
) -> Any:
    """The value of one cell for `column`, or `_CellError` with the reason; blank optional cells give None."""
    if column.kind in _NUMERIC_KINDS and isinstance(value, str) and value.lstrip().startswith("="):
        raise _CellError("不接受公式，请复制后“粘贴为数值”")
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.required:
            raise _CellError("必填")
        return None
    return (converter or _converter(column))(value, percent)


# ------------------------------------------------------------------------------------------- headers


@functools.lru_cache(maxsize=4096)
def normalize_header(value: Any) -> str:
    """Headers compare without whitespace and with full-width brackets, as users retype them."""
    text = "" if value is None else str(value)
    text = re.sub(r"\s+", "", text).replace("\u3000", "")
    return text.replace("(", "（").replace(")", "）").replace("％", "%")


def sheet_key(name: str) -> str:
    """A sheet name as a person sees it: without spaces and invisible characters (U+200B, BOM, controls)."""
    return "".join(ch for ch in name if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc"))


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ImportProblem] = []

    def add(self, reason: str, sheet: str | None = None, row: int | None = None, column: str | None = None) -> None:
        self.problems.append(ImportProblem(self.file, sheet, row, column, reason))

    def fail(self, reason: str, *where: Any) -> list[ImportProblem]:
        self.add(reason, *where)
        return self.problems


def _match_headers(
    cells: Sequence[Any], sheet: SheetSpec, found: _Collector, second_row: Sequence[Any] | None
) -> dict[int, Column] | None:
    """Map column positions to spec columns (every header problem is reported); None when no spec header is there.

    Columns that are recognised are still read when others are wrong, so the rest of the sheet is checked too.
    """
    expected = {normalize_header(c.header): c for c in sheet.columns}
    texts = [normalize_header(cell) for cell in cells]
    while texts and not texts[-1]:
        texts.pop()  # blank trailing columns are ignored
    if not texts and second_row is None:
        if not sheet.required:
            return {}  # an optional sheet left completely empty: nothing to import
        found.add(f"工作表是空的；应有表头: {'、'.join(sheet.headers)}", sheet.name, 1)
        return None
    if not any(text in expected for text in texts):
        second = [normalize_header(cell) for cell in second_row or ()]
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
        letter = column_letters(index + 1)
        if not text:
            blanks.append(index)
        elif text in first_seen:
            found.add(
                f"表头重复：{letter} 列与 {column_letters(first_seen[text] + 1)} 列同名",
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
        letter = column_letters(index + 1)
        best = max(missing, key=lambda c: difflib.SequenceMatcher(None, text, c.header).ratio(), default=None)
        if best is not None and (
            len(missing) == len(extras) or difflib.SequenceMatcher(None, text, best.header).ratio() >= 0.4
        ):
            missing.remove(best)
            found.add(header_mismatch(letter, text, best.header), sheet.name, 1, text)
        else:
            found.add(
                f"{letter} 列「{text}」不是本工作表的列（请删除）；应有的列: {'、'.join(sheet.headers)}",
                sheet.name,
                1,
                text,
            )
    for index in blanks:
        letter = column_letters(index + 1)
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


def read_workbook(path: Path, kind: str | None = None, **limits: int) -> ParsedWorkbook:
    """Read and validate one workbook; raise `ImportRejected` listing every problem found.

    `limits` (max_rows, max_columns, max_bytes, max_uncompressed_bytes, max_compression_ratio) default to the
    built-in ones; callers pass the year's policy (`Policy.imports.reader_limits()`)."""
    parsed, problems = parse_workbook(path, kind, **limits)
    if problems or parsed is None:
        raise ImportRejected(problems)
    return parsed


def parse_workbook(
    path: Path,
    kind: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    max_bytes: int = MAX_BYTES,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_compression_ratio: int = MAX_COMPRESSION_RATIO,
) -> tuple[ParsedWorkbook | None, list[ImportProblem]]:
    """Like `read_workbook` but never raises: what could be read, and every problem found.

    The workbook is None when the file itself is unusable (missing, not an .xlsx, too large, unknown kind).
    Otherwise refused cells are None in their row (and named in `ParsedRow.errors`), so the loader can still
    check the cross-references of the rest and a single refusal lists every problem of the file.

    The cheap checks come first and stop at the first failure: size on disk (nothing is read), then the
    container and the archive's declared sizes (nothing is inflated), the parts and each sheet's layout
    (nothing laid out in memory), and only then the cells.
    """
    path = Path(path)
    found = _Collector(path.name)
    if kind is not None and kind not in SPECS:
        return None, found.fail(f"未知的表格类型 {kind!r}；可用: {', '.join(SPECS)}")
    if not path.is_file():
        return None, found.fail("文件不存在" if not path.exists() else "不是文件")
    data, modified = b"", None
    try:
        status = path.stat()
        size, modified = status.st_size, status.st_mtime
        if size <= max_bytes:  # nothing is read of a file too large
            with path.open("rb") as handle:
                data = handle.read(size + 1)  # a buffer of the file's size, not of the limit
                if len(data) > size:  # the file grew meanwhile: read on, never more than the limit
                    data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        return None, found.fail(f"无法读取文件（{exc.strerror or type(exc).__name__}）")
    if max(size, len(data)) > max_bytes:
        size = max(size, len(data))
        return None, found.fail(f"文件过大（{size / MB:.1f} MB，上限 {max_bytes / MB:.0f} MB），未读取")
    if not data:
        return None, found.fail("文件是空的（0 字节）")
    try:
        package = Package(data, Limits(max_rows, max_columns, max_uncompressed_bytes, max_compression_ratio))
        sheets = _read_sheets(package, SPECS[kind] if kind else None, found, max_rows)
    except Refused as refused:
        return None, found.fail(refused.reason, refused.sheet, refused.row, refused.column)
    if sheets is None:
        return None, found.problems
    digest = hashlib.sha256(data).hexdigest()
    return ParsedWorkbook(path, sheets[1], digest, columns=sheets[0], modified=modified), found.problems


def import_dependencies() -> None:
    """Import what reading the first workbook would: a reading process started ahead of a stage pays for it
    then, not on the stage's first file."""
    import python_calamine  # noqa: F401
    from openpyxl.styles import numbers  # noqa: F401


def _similar_sheet(wanted: str, names: Sequence[str]) -> str | None:
    return next(iter(difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.5)), None)


def _unknown_kind(keys: list[str], names: list[str]) -> str:
    """无法识别表格类型, with the likely renamed sheets of the kind most of whose sheets are there (none on a tie)."""
    expected = "；".join(f"{s.title}: {'、'.join(sh.name for sh in s.sheets if sh.required)}" for s in SPECS.values())
    scores = sorted(((sum(s.name in keys for s in spec.sheets), spec.kind) for spec in SPECS.values()), reverse=True)
    hints = ""
    if scores and scores[0][0] and (len(scores) == 1 or scores[1][0] < scores[0][0]):
        spec = SPECS[scores[0][1]]
        others = [n for n in keys if n not in {s.name for s in spec.sheets}]
        for sheet in spec.sheets:
            similar = None if sheet.name in keys else _similar_sheet(sheet.name, others)
            hints += f"工作表「{similar}」是否应命名为「{sheet.name}」？" if similar else ""
    shown = "、".join(names) or "（无）"
    return f"无法识别表格类型：工作表为 {shown}；应包含以下之一 —— {expected}" + (f"。{hints}" if hints else "")


def _read_sheets(
    package: Package, spec: WorkbookSpec | None, found: _Collector, max_rows: int
) -> tuple[dict[str, SheetColumns], str] | None:
    by_key: dict[str, Sheet] = {}  # the sheets by the name a person sees: two that look the same are refused
    for listed in package.sheets:
        other = by_key.setdefault(sheet_key(listed.name), listed)
        if other is not listed:
            found.add(
                f"工作表「{other.name}」与「{listed.name}」的名称只差空格或不可见字符，无法确定该读哪一个；请删除或改名其中一个"
            )
            return None
    names, keys = [sheet.name for sheet in package.sheets], list(by_key)
    detected = spec.kind if spec is not None else detect_kind(keys)
    if detected is None:
        found.add(_unknown_kind(keys, names))
        return None
    spec = SPECS[detected]
    parsed: dict[str, SheetColumns] = {}
    budget = [max_rows]
    missing_required = False
    for sheet in spec.sheets:
        parsed[sheet.name] = SheetColumns([], [], [])
        present = by_key.get(sheet.name)
        if present is None and sheet.required:
            missing_required = True
            similar = _similar_sheet(sheet.name, [n for n in keys if n not in {s.name for s in spec.sheets}])
            hint = f"；工作表「{similar}」是否应命名为「{sheet.name}」？" if similar else ""
            wanted = "、".join(s.name for s in spec.sheets)
            found.add(f"缺少工作表「{sheet.name}」（{spec.title}应有: {wanted}）{hint}")
        elif present is not None and present.part is None:
            found.add("是图表页，不是数据表；请把数据填在普通工作表中", sheet.name)
        elif present is not None and budget[0] >= 0:
            try:
                layout = package.scan(present, budget[0])
                cells = [package.cells(present, names)]  # handed over: freed once its rows are read
            except Refused as refused:
                found.add(refused.reason, refused.sheet, refused.row, refused.column)
                budget[0] = -1 if isinstance(refused, RowLimit) else budget[0]
                continue
            parsed[sheet.name] = _read_sheet(cells, layout, spec.kind, sheet, found, budget, max_rows)
    likely = detect_kind(keys) if missing_required else None
    if likely is not None and likely != spec.kind:
        found.add(f"这个工作簿像是「{SPECS[likely].title}」（{likely}），不是「{spec.title}」（{spec.kind}）")
    return parsed, spec.kind


def _read_sheet(
    cells: list[Any], layout: Layout, kind: str, sheet: SheetSpec, found: _Collector, budget: list[int], max_rows: int
) -> SheetColumns:
    """The rows of one sheet, converted column by column, each refused cell named in a problem; the problems in
    reading order. `cells` holds calamine's sheet, let go once its rows are read: its memory is free for the records."""
    offset = cells[0].start[1] if cells[0].start else 0  # calamine's rows begin at the first column with content
    rows = iter(cells.pop().iter_rows())
    pad = [""] * offset
    header = pad + next(rows, [])
    second_row = next(rows, None)
    mapping = _match_headers(header, sheet, found, None if second_row is None else pad + second_row)
    if mapping is None:
        return SheetColumns([], [], [])
    columns = list(mapping.values())
    special = {row for row, column in (*layout.formulas, *layout.errors) if column - 1 in mapping}
    numbers, picked, limit = _data_rows(rows, second_row, [index - offset for index in mapping], special, budget)
    del rows, second_row  # calamine's sheet
    problems: list[tuple[int, int, int, str, str]] = []  # row, phase, column, header, reason: sorted at the end
    errors: dict[int, set[str]] = {}
    by_column = list(zip(*picked, strict=True)) if picked else [()] * len(columns)
    del picked
    converted = [
        _convert_column(values, column, index + 1, numbers, layout, problems, errors)
        for column, index, values in zip(columns, mapping, by_column, strict=True)
    ]
    del by_column
    missing = {c.field for c in sheet.columns if not c.reference} - {c.field for c in columns}
    result = SheetColumns(
        numbers,
        [*missing, *(column.field for column in columns)],
        [*([None] * len(numbers) for _ in missing), *converted],
        errors,
        frozenset(missing),
    )
    _check_rows(result, kind, sheet, problems)
    for number, _, _, header_text, reason in sorted(problems, key=lambda p: p[:3]):
        found.add(reason, sheet.name, number, header_text)
    if limit is not None:
        found.add(f"数据行超过上限 {max_rows:,} 行，其余行未检查", sheet.name, limit)
    return result


def _data_rows(
    rows: Any, second: list[Any] | None, positions: list[int], special: set[int], budget: list[int]
) -> tuple[list[int], list[tuple[Any, ...]], int | None]:
    """The row numbers and the format's cells of the rows that are not blank (a formula or an error value
    counts as content), within the allowance; the row number at which the allowance ran out, if it did."""
    pick = itemgetter(*positions) if len(positions) > 1 else lambda values: (values[positions[0]],)
    picked = list(map(pick, itertools.chain([] if second is None else [second], rows)))
    firsts = next(zip(*picked, strict=True), ())  # a blank row has a blank first cell: only those are looked at
    blank = {
        at
        for at, first in enumerate(firsts)
        if (first == "" or (type(first) is str and not first.strip()))
        and at + 2 not in special
        and all(type(value) is str and not value.strip() for value in picked[at])
    }
    numbers = [at + 2 for at in range(len(picked)) if at not in blank] if blank else list(range(2, len(picked) + 2))
    if blank:
        picked = [cells for at, cells in enumerate(picked) if at not in blank]
    allowed = budget[0]
    if len(numbers) > allowed:
        budget[0] = -1
        return numbers[:allowed], picked[:allowed], numbers[allowed]
    budget[0] -= len(numbers)
    return numbers, picked, None


def _convert_column(
    values: tuple[Any, ...],
    column: Column,
    number: int,
    rows: list[int],
    layout: Layout,
    problems: list[tuple[int, int, int, str, str]],
    errors: dict[int, set[str]],
) -> list[Any]:
    """The converted cells of one column of the format (its `number`, from 1), refused ones None: the whole
    column at once when its cells are of the common kinds and fine, else cell by cell."""
    marked = any(
        place[1] == number
        for found in (layout.formulas, layout.errors, layout.percent, layout.dates)
        for place in found
    )
    fast = None if marked else _convert_plainly(values, column)
    if fast is not None:
        return fast
    converter = _converter(column)
    converted: list[Any] = []
    for at, value in enumerate(values):
        place = (rows[at], number)
        try:
            if place in layout.formulas:
                raise _CellError("不接受公式，请复制后“粘贴为数值”")
            if place in layout.errors:
                raise _CellError(f"单元格是错误值 {layout.errors[place]}")
            if column.kind == "date" and place in layout.dates and isinstance(value, float):
                shown = _plain_number_text(Decimal(repr(value)))
                raise _CellError(f"日期序号 {shown} 超出 Excel 的日期范围；{DATE_HINT}")
            converted.append(convert_cell(column, value, place in layout.percent, converter))
        except _CellError as exc:
            problems.append((rows[at], 0, number, column.header, str(exc)))
            errors.setdefault(at, set()).add(column.field)
            converted.append(None)
    return converted


def _convert_plainly(values: tuple[Any, ...], column: Column) -> list[Any] | None:
    """The column converted at once when every cell is of the common kind and fine (None otherwise): text that
    is its own value once stripped, numbers read as floats that fit the column, blank cells of an optional one."""
    kinds = set(map(type, values))
    if kinds == {str} and column.kind in ("text", "code", "choice", "bool"):
        stripped = list(map(str.strip, values))
        if column.kind == "bool":
            return [text == YES[0] for text in stripped] if set(stripped) <= {*YES, *NO} else None
        if column.required and "" in stripped:
            return None
        joined = "".join(stripped) if column.kind == "code" else ""
        if "\n" in joined or "\r" in joined or "\t" in joined:
            return None
        if column.kind == "choice" and not set(stripped) - {""} <= set(column.choices):
            return None
        return [text or None for text in stripped] if "" in stripped else stripped
    check = _PLAIN_NUMBERS.get(column.kind)
    if check is None or not kinds <= {float, str}:
        return None
    if str in kinds and (column.required or any(v.strip() for v in values if type(v) is str)):
        return None
    numbers = [value for value in values if type(value) is float]
    if not all(map(math.isfinite, numbers)):
        return None
    texts = list(map(str.removesuffix, map(repr, numbers), itertools.repeat(".0")))  # as `_exact` reads each
    amounts = list(
        map(Decimal, texts if "-0" not in texts else [text.lstrip("-") if text == "-0" else text for text in texts])
    )
    if not all(map(check, amounts)):
        return None
    plain: list[Any] = amounts if column.kind != "int" else list(map(int, amounts))
    if len(plain) == len(values):
        return plain
    converted = iter(plain)
    return [None if type(value) is str else next(converted) for value in values]


_PLAIN_NUMBERS: dict[str, Callable[[Decimal], bool]] = {
    "number": lambda amount: -MAX_NUMBER < amount < MAX_NUMBER,
    "money": lambda amount: 0 <= amount < MAX_MONEY_WAN and amount == amount.quantize(CENT),
    "percent": lambda amount: 0 <= amount <= 100,
    "int": lambda amount: -MAX_NUMBER < amount < MAX_NUMBER and amount == amount.to_integral_value(),
}


def _check_rows(rows: SheetColumns, kind: str, sheet: SheetSpec, problems: list[Any]) -> None:
    """The checks between the cells of a row (a quantitative target needs its value), and of the sheet's key
    across rows."""
    blank = [None] * len(rows.numbers)
    if kind == "targets" and sheet.name == "绩效指标":
        header = next(c.header for c in sheet.columns if c.field == "target")
        targets = rows.column("target") or blank
        refused = rows.errors
        for at, operator in enumerate(rows.column("operator") or blank):
            if (
                operator in QUANTITATIVE
                and targets[at] is None
                and "target" not in rows.missing
                and "target" not in refused.get(at, ())
            ):
                problems.append(
                    (rows.numbers[at], 1, 0, header, f"定量指标（运算符 {operator}）必须填写目标值（数字）")
                )
                refused.setdefault(at, set()).add("target")
    key_columns = [c for c in sheet.columns if c.field in sheet.key]
    if not key_columns:
        return
    key_label = "、".join(c.header for c in key_columns)
    seen: dict[tuple[Any, ...], int] = {}
    keys = zip(*(rows.column(c.field) or blank for c in key_columns), strict=True)
    for number, key in zip(rows.numbers, keys, strict=True):
        if None in key:
            continue
        first = seen.setdefault(key, number)
        if first != number:
            shown = " + ".join(str(part) for part in key)
            problems.append(
                (number, 2, 0, key_label, f"与第 {first} 行重复（{shown}）；{key_label}在本工作表中不能重复")
            )
