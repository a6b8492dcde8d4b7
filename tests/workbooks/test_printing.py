"""Every workbook people fill prints as the generated spreadsheets do: A4, fit to the page's width (landscape when
wide), the header row on every page, page numbers, and a header naming the district and the year — the blank
templates, the demo's forms (both of the writer's paths) and a template written where a district's policy is."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from perfcycle.demo import DISTRICT, generate_demo
from perfcycle.settings import get_settings
from perfcycle.workbooks.formats import SPECS, TARGETS
from perfcycle.workbooks.printing import landscape
from perfcycle.workbooks.writer import write_template, write_workbook

YEAR = 2024


def assert_prints(path: Path, header: str) -> None:
    """Each sheet of the workbook at `path` prints, its page header beginning with `header` (none when empty)."""
    book = load_workbook(path)
    for sheet in book.worksheets:
        where = (path.name, sheet.title)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, where
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight, sheet.page_setup.paperSize) == (1, 0, 9)
        widths = [dimension.width for dimension in sheet.column_dimensions.values()]
        assert widths, where
        expected = "landscape" if landscape(widths) else "portrait"
        assert sheet.page_setup.orientation == expected, where
        assert sheet.print_options.horizontalCentered, where
        assert sheet.print_title_rows == "$1:$1", where  # the header row on every page
        assert (sheet.oddHeader.left.text or "") == header, where
        assert sheet.oddHeader.right.text == book_title(path), where
        assert sheet.oddFooter.center.text == "第 &P 页，共 &N 页", where


def book_title(path: Path) -> str:
    titles = {spec.sheets[0].name: spec.title for spec in SPECS.values()}
    first = load_workbook(path, read_only=True).sheetnames[0]
    return titles[first]


def test_the_demos_forms_print_and_keep_their_bytes(tmp_path: Path) -> None:
    files = generate_demo(tmp_path / "one", YEAR)
    again = generate_demo(tmp_path / "two", YEAR)
    written = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.xlsx"))
    assert len(written) > 100 and files.base.is_file() and again.base.is_file()
    for relative in written:
        assert (tmp_path / "one" / relative).read_bytes() == (tmp_path / "two" / relative).read_bytes(), relative
    kinds = {relative.parts[1] if relative.parts[0] != "data" else "base": relative for relative in written}
    for relative in kinds.values():  # one workbook of each kind
        assert_prints(tmp_path / "one" / relative, f"{DISTRICT}{YEAR}年度预算绩效管理")


def test_a_streamed_workbook_prints_as_well(tmp_path: Path) -> None:
    rows = {TARGETS.sheets[0].name: [{"project_code": f"P{n:03d}"} for n in range(50)]}
    path = write_workbook(tmp_path / "大区县.xlsx", TARGETS, rows, fast=True, district="青山区", year=2030)
    assert_prints(path, "青山区2030年度预算绩效管理")


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_blank_template_names_the_district_and_year_of_its_policy(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    source = Path(__file__).parents[2] / "perfcycle" / "policies" / f"{YEAR}.yaml"
    (policies / f"{YEAR}.yaml").write_bytes(source.read_bytes())
    monkeypatch.setenv("PERFCYCLE_POLICY_DIR", str(policies))
    get_settings.cache_clear()
    try:
        path = write_template(tmp_path / f"{kind}.xlsx", SPECS[kind])
        assert_prints(path, f"{DISTRICT}{YEAR}年度预算绩效管理")
    finally:
        get_settings.cache_clear()


def test_a_blank_template_without_a_policy_still_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFCYCLE_POLICY_DIR", str(tmp_path / "none"))
    get_settings.cache_clear()
    try:
        assert_prints(write_template(tmp_path / "t.xlsx", TARGETS), "")
    finally:
        get_settings.cache_clear()
