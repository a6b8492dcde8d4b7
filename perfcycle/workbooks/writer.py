"""Write workbooks in the documented formats: empty templates for users, filled ones for the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from perfcycle.workbooks.formats import SheetSpec, WorkbookSpec

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_VALIDATED_ROW = 5000


def _decorate(ws: Any, sheet: SheetSpec) -> None:
    for index, column in enumerate(sheet.columns, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        ws.column_dimensions[letter].width = max(12, len(column.header) * 2 + 2)
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
) -> Path:
    """Write `rows` (per sheet name, dicts keyed by column field) under the Chinese headers of `spec`.

    `fast` streams rows without styling, for the many generated submission files of a large district.
    """
    rows = rows or {}
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=fast)
    if not fast:
        workbook.remove(workbook.active)
    for sheet in spec.sheets:
        ws = workbook.create_sheet(sheet.name)
        ws.append(sheet.headers)
        if not fast:
            for cell in ws[1]:
                cell.font = HEADER_FONT
                cell.fill = HEADER_FILL
            _decorate(ws, sheet)
        for row in rows.get(sheet.name, ()):
            ws.append([_cell(row.get(c.field)) for c in sheet.columns])
    tmp = path.with_name(path.name + ".part")
    workbook.save(tmp)
    tmp.replace(path)
    return path


def _cell(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value) if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def write_template(path: Path, spec: WorkbookSpec) -> Path:
    """An empty workbook with the headers and the choice lists, ready for a department to fill in."""
    return write_workbook(path, spec)
