"""Write workbooks in the documented formats: empty templates for users, filled ones for the demo."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

from perfcycle.workbooks.formats import SheetSpec, WorkbookSpec
from perfcycle.workbooks.ooxml import cell_text
from perfcycle.workbooks.printing import PageSetup, policy_district, set_up_printing

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_VALIDATED_ROW = 5000
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class _DatedZip(zipfile.ZipFile):
    """A zip whose every entry carries one fixed date: the same workbook, the same bytes, whenever it is saved."""

    def writestr(  # type: ignore[override]
        self, zinfo_or_arcname: str | zipfile.ZipInfo, data: bytes | str, *args: Any, **kwargs: Any
    ) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=ZIP_DATE_TIME)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        with open(filename, "rb") as handle:  # a write-only sheet's temporary file, dated like the rest
            self.writestr(str(arcname or filename), handle.read(), *args, **kwargs)


def _workbook_bytes(workbook: Workbook, stamp: dt.datetime | None) -> bytes:
    """The .xlsx bytes of a workbook; with a `stamp` (created = modified) they depend on its content alone."""
    buffer = io.BytesIO()
    when = stamp or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.created = workbook.properties.modified = when
    archive = _DatedZip(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(workbook, archive).save()  # closes the archive
    return buffer.getvalue()


def _widths(sheet: SheetSpec) -> list[int]:
    """Each column wide enough for its header."""
    return [max(12, len(column.header) * 2 + 2) for column in sheet.columns]


def _decorate(ws: Any, sheet: SheetSpec) -> None:
    for index, column in enumerate(sheet.columns, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        if column.choices:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=not column.required
            )
            validation.add(f"{letter}2:{letter}{MAX_VALIDATED_ROW}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def write_workbook(
    path: Path,
    spec: WorkbookSpec,
    rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    *,
    fast: bool = False,
    stamp: dt.datetime | None = None,
    district: str = "",
    year: int | None = None,
) -> Path:
    """Write `rows` (per sheet name, dicts keyed by column field) under the Chinese headers of `spec`.

    Every sheet prints (`perfcycle.workbooks.printing`): its header row on every page, the page header naming the
    `district` and the `year` (when given) and the workbook.

    `fast` streams rows without styling, for the many generated submission files of a large district. With a
    `stamp` (the workbook's creation time, UTC) the same rows give the same bytes, and a file that already holds
    them is left as it is (its bytes and its time), as a rerun of the demo finds its workbooks.
    """
    rows = rows or {}
    path.parent.mkdir(parents=True, exist_ok=True)
    page = PageSetup.of(district, year, spec.title) if district else PageSetup("", spec.title)
    workbook = Workbook(write_only=fast)
    if not fast:
        workbook.remove(workbook.active)
    for sheet in spec.sheets:
        ws = workbook.create_sheet(sheet.name)
        widths = _widths(sheet)
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        set_up_printing(ws, page, widths, title_rows=1)
        ws.append(sheet.headers)
        if not fast:
            for cell in ws[1]:
                cell.font = HEADER_FONT
                cell.fill = HEADER_FILL
            _decorate(ws, sheet)
        for row in rows.get(sheet.name, ()):
            ws.append([_cell(ws, row.get(c.field)) for c in sheet.columns])
    data = _workbook_bytes(workbook, stamp)
    if stamp is not None and path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return path
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _cell(ws: Any, value: Any) -> Any:
    """A row's value as its cell: text shown as it is (`_xHHHH_` escaped) and never a formula."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value) if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        text = cell_text(value)
        if not text.startswith("="):
            return text
        cell = WriteOnlyCell(ws, text) if isinstance(ws, WriteOnlyWorksheet) else Cell(ws, value=text)
        cell.data_type = "s"  # openpyxl takes a leading "=" for a formula
        return cell
    return value


def write_template(path: Path, spec: WorkbookSpec, district: str = "", year: int | None = None) -> Path:
    """An empty workbook with the headers and the choice lists, ready for a department to fill in; its pages name
    the `district` and `year`, by default those of the newest policy file (`perfcycle init`)."""
    if not district:
        district, year = policy_district()
    return write_workbook(path, spec, district=district, year=year)
