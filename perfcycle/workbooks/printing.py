"""How every workbook the system writes prints, in one place: A4, fit to the page's width (landscape when its
columns are wide), the title and header rows repeated on every page, a header naming the district, the year and the
workbook, and the page numbers in the footer.

The generated spreadsheets (`perfcycle.documents.sheetml`) spell it as XML; the forms people fill (the blank
templates, the demo's forms, the 人大批准预算表) are set up through openpyxl with `set_up_printing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

A4 = 9  # paperSize
PORTRAIT_WIDTH = 100  # columns (in character widths) that print on A4 upright at a legible size; wider: landscape
MARGINS = {"left": 0.6, "right": 0.6, "top": 0.9, "bottom": 0.8, "header": 0.4, "footer": 0.4}  # inches
PAGE_NUMBERS = "第 &P 页，共 &N 页"


def landscape(widths: Sequence[float]) -> bool:
    """Whether columns this wide (in character widths) print across a landscape page."""
    return sum(widths) > PORTRAIT_WIDTH


def print_header(district: str, year: int | None) -> str:
    """The left of the page header: 烈山区2024年度预算绩效管理 (the district alone when no year is known)."""
    return f"{district}{year}年度预算绩效管理" if year is not None else f"{district}预算绩效管理"


@dataclass(frozen=True)
class PageSetup:
    """How a workbook prints: the header names the district and the year (`header`) and the workbook (`title`), the
    footer numbers the pages."""

    header: str
    title: str

    @classmethod
    def of(cls, district: str, year: int | None, title: str) -> PageSetup:
        return cls(print_header(district, year), title)

    def header_footer(self) -> str:
        """The sheet's headerFooter element: header left and right, "第 N 页，共 M 页" centred in the footer."""

        def text(value: str) -> str:
            return value.replace("&", "&&").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        return (
            f"<headerFooter><oddHeader>&amp;L{text(self.header)}&amp;R{text(self.title)}</oddHeader>"
            f"<oddFooter>&amp;C{PAGE_NUMBERS.replace('&', '&amp;')}</oddFooter></headerFooter>"
        )


def set_up_printing(ws: Any, page: PageSetup, widths: Sequence[float], title_rows: int) -> None:
    """An openpyxl worksheet (write-only too, before its first row) printed as every workbook of the system prints."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.paperSize = A4
    ws.page_setup.orientation = "landscape" if landscape(widths) else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(**MARGINS)
    if title_rows:
        ws.print_title_rows = f"1:{title_rows}"
    if page.header:
        ws.oddHeader.left.text = page.header.replace("&", "&&")
    ws.oddHeader.right.text = page.title.replace("&", "&&")
    ws.oddFooter.center.text = PAGE_NUMBERS


def policy_district(policy_dir: Path | None = None) -> tuple[str, int | None]:
    """The district and the year of the newest policy file (`perfcycle init`), for a blank form's pages; ("", None)
    when there is none or it cannot be read."""
    from perfcycle.policy import PolicyError, load_policy_file
    from perfcycle.settings import get_settings

    folder = policy_dir or get_settings().policy_dir
    years = sorted(int(p.stem) for p in folder.glob("*.yaml") if p.stem.isdigit()) if folder.is_dir() else []
    if not years:
        return "", None
    try:
        policy = load_policy_file(folder / f"{years[-1]}.yaml")
    except PolicyError:
        return "", None
    return policy.district, policy.year
