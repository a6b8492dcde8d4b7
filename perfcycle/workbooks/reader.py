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
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
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
        canonical = [[name, [_canonical(row.values) for row in rows]] for name, rows in sorted(self.sheets.items())]
        return hashlib.sha256(json.dumps([self.kind, canonical], ensure_ascii=False).encode()).hexdigest()


def _canonical(values: dict[str, Any]) -> list[tuple[str, str]]:
    """`sorted((k, str(v)) for k, v in values.items())`: the keys are distinct, so sorting them is enough."""
    return [(key, str(values[key])) for key in sorted(values)]


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


def _check_container(data: bytes, found: _Collector, max_uncompressed_bytes: int, max_compression_ratio: int) -> bool:
    """Is this a real .xlsx (OOXML zip) that is safe to unpack? One clear problem otherwise, never a traceback.

    Only the archive's directory is read here: the declared sizes are checked before anything is inflated
    (`zipfile` never inflates an entry beyond its declared size, so a lying directory cannot get past this).
    """
    if data.startswith(OLE_MAGIC):
        found.add(_ole_problem(data))
        return False
    if not data.startswith(ZIP_MAGIC):
        found.add("不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 打开后“另存为” .xlsx")
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        found.add("文件已损坏（不是完整的 .xlsx 压缩包）；请重新保存后再提交")
        return False
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
            data = handle.read(max_bytes + 1)  # never more than the limit, even if the file grew meanwhile
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
    if not _check_container(data, found, max_uncompressed_bytes, max_compression_ratio):
        return None, found.problems

    fast = _fast_read(data, spec, path.name, max_rows)
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


def _row_rules(kind: str, sheet: SheetSpec, values: dict[str, Any], errors: set[str]) -> list[tuple[str, str]]:
    """(field, reason) of what is wrong between the cells of one row (each cell being fine by itself)."""
    if kind == "targets" and sheet.name == "绩效指标":
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
    missing = {c.field for c in sheet.columns} - {c.field for c in mapping.values()}
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
_STYLES: dict[bytes, _Styles] = {}  # styles.xml → what it means to the reader; many files share one
_STYLES_KEPT = 32


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
        from lxml import etree

        return _fast_rows(etree.fromstring(self._content, self._book.parser), self._book)


class _FastWorkbook:
    def __init__(self, sheets: dict[str, _FastSheet]) -> None:
        self.sheetnames = list(sheets)
        self._sheets = sheets

    def __getitem__(self, name: str) -> _FastSheet:
        return self._sheets[name]


def _fast_read(
    data: bytes, spec: WorkbookSpec | None, file: str, max_rows: int
) -> tuple[dict[str, list[ParsedRow]], str] | None:
    """The sheets of a plain, valid workbook; None when openpyxl must read it (unusual content or any problem)."""
    found = _Collector(file)
    try:
        workbook = _fast_workbook(data)
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


def _fast_workbook(data: bytes) -> _FastWorkbook:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())

        def content(name: str) -> bytes:
            raw = archive.read(name)
            if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
                raise _NotPlain(name)
            return raw

        def part(name: str) -> Any:
            return etree.fromstring(content(name), parser)

        book = part("xl/workbook.xml")
        properties = book.find(_MAIN + "workbookPr")
        if properties is not None and properties.get("date1904") in ("1", "true"):
            raise _NotPlain("date1904")
        targets = {}
        for rel in part("xl/_rels/workbook.xml.rels").iterfind(_PKG_REL + "Relationship"):
            target = rel.get("Target", "")
            target = target[1:] if target.startswith("/") else "xl/" + target
            targets[rel.get("Id")] = (rel.get("Type"), target)
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            shared = [
                _text_content(si).replace("x005F_", "") for si in part("xl/sharedStrings.xml").iterfind(_MAIN + "si")
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
        sheet_list = book.find(_MAIN + "sheets")
        for sheet in sheet_list if sheet_list is not None else ():
            kind, target = targets[sheet.get(_REL + "id")]
            if kind != _WORKSHEET_REL or target not in names:
                raise _NotPlain(kind)
            name = sheet.get("name")
            if name in sheets:
                raise _NotPlain(name)
            sheets[name] = _FastSheet(content(target), shared_book)
    return _FastWorkbook(sheets)


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


_GENERIC, _AS_TEXT, _AS_CODE, _AS_CHOICE = range(4)
_TEXT_MODES = {"text": _AS_TEXT, "code": _AS_CODE, "choice": _AS_CHOICE}


def _read_fast_sheet(ws: _FastSheet, kind: str, sheet: SheetSpec, budget: list[int]) -> list[ParsedRow]:
    """`_read_sheet` for a sheet without a single problem (the first sends the file to openpyxl); text that is
    its own value once stripped skips the converter, which would return it unchanged."""
    rows = ws.rows()
    header: Sequence[Any] = rows[0][1] if rows and rows[0][0] == 1 else ()
    data = rows[1:] if rows and rows[0][0] == 1 else rows
    second: Sequence[Any] | None = None
    if data:
        second = data[0][1] if data[0][0] == 2 else ()
    found = _Collector("")
    mapping = _match_headers(header, sheet, found, second)
    if mapping is None or found.problems:
        raise _NotPlain("header")
    plan = [
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
    positions = list(mapping)
    key_fields = [c.field for c in sheet.columns if c.field in sheet.key]
    seen: set[tuple[Any, ...]] = set()
    result: list[ParsedRow] = []
    for number, values, styles in data:
        width = len(values)
        for index in positions:
            if index < width and not _is_blank(values[index]):
                break
        else:
            continue
        budget[0] -= 1
        if budget[0] < 0:
            raise _NotPlain("rows")
        converted: dict[str, Any] = {}
        for index, field_name, converter, required, numeric, mode, choices in plan:
            value = values[index] if index < width else None
            if isinstance(value, str):
                text = value.strip()
                if not text:
                    value = None
                elif (
                    mode == _AS_TEXT
                    or (mode == _AS_CHOICE and text in choices)
                    or (mode == _AS_CODE and "\r" not in text and "\n" not in text and "\t" not in text)
                ):
                    converted[field_name] = text
                    continue
                elif numeric and value.lstrip().startswith("="):
                    raise _NotPlain(field_name)
            elif isinstance(value, time | timedelta):
                raise _NotPlain(field_name)
            if value is None:
                if required:
                    raise _NotPlain(field_name)
                converted[field_name] = None
            else:
                converted[field_name] = converter(value, styles[index])
        if _row_rules(kind, sheet, converted, set()):
            raise _NotPlain("rule")
        if key_fields:
            key = tuple(converted[name] for name in key_fields)
            if all(part is not None for part in key):
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
