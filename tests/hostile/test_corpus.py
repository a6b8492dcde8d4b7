"""The hostile-input corpus: every bad workbook is refused with a precise message and changes nothing.

Each case goes through `perfcycle.loaders.import_file` (the problems must be exactly the expected ones: file,
sheet, row, column and reason) and through `perfcycle import` (exit code 1, the message, no traceback), on
SQLite and PostgreSQL, against a database that already holds base data, an open 2024 cycle and D01's
targets; a digest of every table before and after shows that nothing changed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from models import get_engine
from perfcycle.cli import app
from perfcycle.loaders import import_file
from perfcycle.workbooks.reader import ImportProblem, ImportRejected, read_workbook
from tasks.cycle import open_cycle
from tests.hostile.corpus import (
    YEAR,
    Built,
    Case,
    GoodFiles,
    build_corpus,
    build_good,
    exact,
    header_cases,
    shared_strings_at_limit,
    tolerated,
)

runner = CliRunner()
UNREAD_LIMIT_S = 1.0  # the 50 MB file and the zip bombs are refused by their sizes, before they are read
TIME_LIMIT_S = 20.0  # any other case (the 10 000-row sheet is read to its last row: about a second)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> GoodFiles:
    return build_good(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, good: GoodFiles) -> list[Built]:
    return build_corpus(tmp_path_factory.mktemp("hostile"), good)


def seed(good: GoodFiles) -> None:
    """Base data, the open 2024 cycle and D01's targets: the database the bad files must not change."""
    import_file(good.base, year=YEAR)
    open_cycle.fn(YEAR, auto_approve=False)
    import_file(good.targets, year=YEAR)


class Digest:
    """sha256 of every row of every table (Alembic's version included), in a stable order."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.metadata = MetaData()
        self.metadata.reflect(self.engine)

    def rows(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {name: len(conn.execute(select(table)).all()) for name, table in self.metadata.tables.items()}

    def __call__(self) -> str:
        digest = hashlib.sha256()
        with self.engine.connect() as conn:
            for name, table in sorted(self.metadata.tables.items()):
                digest.update(name.encode())
                for row in sorted(repr(tuple(row)) for row in conn.execute(select(table))):
                    digest.update(row.encode())
        return digest.hexdigest()


def mismatch(case: Case, path: Path, problems: list[ImportProblem]) -> str | None:
    """What differs between the problems reported and the ones expected (None when they agree)."""
    shown = "\n    ".join(str(p) for p in problems)
    if len(problems) != len(case.expected):
        return f"{len(problems)} problems instead of {len(case.expected)}:\n    {shown}"
    for problem, expected in zip(problems, case.expected, strict=True):
        if problem.file != path.name:
            return f"file {problem.file!r} instead of {path.name!r}"
        where, wanted = (problem.sheet, problem.row, problem.column), (expected.sheet, expected.row, expected.column)
        if where != wanted:
            return f"located at {where} instead of {wanted}:\n    {shown}"
        if not problem.reason.startswith(expected.reason):
            return f"reason {problem.reason!r} does not start with {expected.reason!r}"
        for fragment in expected.contains:
            if fragment not in problem.reason:
                return f"reason {problem.reason!r} does not contain {fragment!r}"
    return None


def squash(text: str) -> str:
    """The console wraps long lines; compare without any whitespace."""
    return re.sub(r"\s+", "", text)


def test_the_corpus_has_at_least_thirty_distinct_cases(built: list[Built]) -> None:
    names = [item.case.name for item in built]
    assert len(names) >= 30 and len(set(names)) == len(names)
    assert len({item.path for item in built}) == len(built)
    assert all(item.path.exists() for item in built)
    sizes = {item.case.name: item.path.stat().st_size for item in built}
    assert sizes["file-over-50mb"] > 50 * 1024 * 1024
    assert sizes["zip-bomb"] < 5 * 1024 * 1024  # 2 GB once inflated, a few MB on disk
    assert sizes["empty-file"] == 0


def test_each_bad_workbook_is_refused_precisely_and_the_database_is_unchanged(
    db_url: str, good: GoodFiles, built: list[Built]
) -> None:
    seed(good)
    digest = Digest(db_url)
    counts = digest.rows()
    assert counts["department"] == 2 and counts["project"] == 3 and counts["indicator"] == 5
    before = digest()
    failures: list[str] = []
    slow: list[str] = []
    for item in built:
        case = item.case
        started = time.perf_counter()
        try:
            import_file(item.path, year=YEAR, kind=case.kind, quarter=case.quarter)
        except ImportRejected as exc:
            problem = mismatch(case, item.path, exc.problems)
            if problem:
                failures.append(f"{case.name} ({case.wrong}): {problem}")
        except Exception as exc:  # anything but a refusal is a crash
            failures.append(f"{case.name} ({case.wrong}): crashed with {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{case.name} ({case.wrong}): was imported")
        elapsed = time.perf_counter() - started
        if elapsed > (UNREAD_LIMIT_S if "unread" in case.tags else TIME_LIMIT_S):
            slow.append(f"{case.name}: {elapsed:.1f} s")
        if digest() != before:
            failures.append(f"{case.name}: the database changed")
            before = digest()
    assert not failures, "\n".join(failures)
    assert not slow, slow


def test_the_cli_refuses_each_bad_workbook_with_a_message_and_no_traceback(
    db_url: str, good: GoodFiles, built: list[Built]
) -> None:
    seed(good)
    digest = Digest(db_url)
    before = digest()
    failures: list[str] = []
    for item in built:
        case = item.case
        if "markup" in case.tags:
            continue  # see test_the_cli_shows_markup_like_cell_values_as_typed
        args = ["import", str(item.path), "--year", str(YEAR), "--database-url", db_url]
        if case.kind:
            args += ["--kind", case.kind]
        result = runner.invoke(app, args)
        output = result.output
        if result.exit_code != 1:
            failures.append(f"{case.name}: exit code {result.exit_code}: {output[-500:]} {result.exception!r}")
            continue
        if "Traceback" in output or not isinstance(result.exception, SystemExit):
            failures.append(f"{case.name}: a traceback or crash: {result.exception!r}\n{output[-1000:]}")
            continue
        text = squash(output)
        wanted = [f"文件{item.path.name}未导入", *(squash(e.reason) for e in case.expected)]
        wanted += [squash(f"第 {e.row} 行") for e in case.expected if e.row is not None]
        wanted += [squash(f"列「{e.column}」") for e in case.expected if e.column is not None]
        missing = [fragment for fragment in wanted if fragment not in text]
        if missing:
            failures.append(f"{case.name}: the message lacks {missing}:\n{output}")
    assert not failures, "\n".join(failures)
    assert digest() == before


def test_the_cli_shows_markup_like_cell_values_as_typed(db_url: str, good: GoodFiles, built: list[Built]) -> None:
    seed(good)
    (item,) = [item for item in built if "markup" in item.case.tags]
    result = runner.invoke(app, ["import", str(item.path), "--year", str(YEAR), "--database-url", db_url])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "不是数字: '[/]'" in result.output


def test_extra_hidden_and_chart_sheets_are_ignored_and_hidden_required_sheets_read(tmp_path: Path) -> None:
    """Consistent with the reader's rule: sheets it does not know are ignored, whatever they are."""
    files = tolerated(tmp_path)
    assert read_workbook(files["extra-sheets"]).kind == "base"
    parsed = read_workbook(files["hidden-required-sheet"])
    assert [row.values["code"] for row in parsed.sheets["项目"]] == ["P101", "P102", "P201"]


def test_the_limits_are_the_year_policy(
    db_url: str, tmp_path: Path, good: GoodFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy with lower limits refuses what the default accepts, before reading it."""
    from perfcycle.policy import ImportsPolicy, import_limits
    from perfcycle.settings import PROJECT_ROOT, get_settings

    text = (PROJECT_ROOT / "perfcycle" / "policies" / "2024.yaml").read_text(encoding="utf-8")
    text = text.replace("max_file_mb: 50 ", "max_file_mb: 1 ").replace("max_rows: 200000", "max_rows: 2")
    (tmp_path / "2024.yaml").write_text(text, encoding="utf-8")
    big = tmp_path / "big.xlsx"
    big.write_bytes(good.base.read_bytes() + b"\0" * (1024 * 1024))
    monkeypatch.setenv("PERFCYCLE_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert import_limits(YEAR + 1).max_file_mb == 1  # a later year without its own file uses this one
        assert import_limits(YEAR - 1) == ImportsPolicy()  # a year before any policy file: the defaults
        with pytest.raises(ImportRejected) as caught:
            import_file(big, year=YEAR)
        assert caught.value.problems[0].reason.startswith("文件过大（1.0 MB，上限 1 MB）")
        with pytest.raises(ImportRejected) as caught:
            import_file(good.base, year=YEAR)
        (problem,) = caught.value.problems
        assert (problem.sheet, problem.row) == ("项目", 2)  # the 2 rows of 部门 used the whole allowance
        assert problem.reason.startswith("数据行超过上限 2 行")
    finally:
        get_settings.cache_clear()


# ------------------------------------------------------------------------- headers with invisible characters


def test_a_header_with_an_invisible_character_is_refused_naming_it(
    db_url: str, good: GoodFiles, tmp_path: Path
) -> None:
    seed(good)
    digest = Digest(db_url)
    before = digest()
    failures: list[str] = []
    for case in header_cases():
        path = case.build(tmp_path, good)
        with pytest.raises(ImportRejected) as refused:
            import_file(path, year=YEAR, kind=case.kind)
        problem = mismatch(case, path, refused.value.problems)
        if problem:
            failures.append(f"{case.name}: {problem}")
    assert digest() == before
    assert not failures, "\n".join(failures)


def records(path: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    return {name: [(row.row, row.values) for row in rows] for name, rows in read_workbook(path).sheets.items()}


def test_unusual_but_unambiguous_workbooks_read_exactly(tmp_path: Path, good: GoodFiles) -> None:
    """Strict Open XML, blank cells far right, spaced sheet names, a thousands separator: each gives exactly
    the good base data's records."""
    expected = records(good.base)
    assert expected["项目"][0] == (
        2,
        {
            "code": "P101",
            "department_code": "D01",
            "name": "义务教育保障",
            "type": "事业发展类",
            "attribute": "新增",
            "budget_wan": Decimal(1000),
            "request_wan": Decimal(600),
            "policy_related": True,
            "high_attention": False,
        },
    )
    for name, path in exact(tmp_path, good).items():
        assert records(path) == expected, name


MEMORY_BOUND_MB = 1200  # README, "Workbooks": the peak of a reading process at the policy's default limits
PEAK = """
import resource, sys
from pathlib import Path
from perfcycle.workbooks.reader import parse_workbook
parsed, problems = parse_workbook(Path(sys.argv[1]), "base")
print(parsed.rows if parsed else -1, len(problems), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_workbook_at_the_limits_is_read_within_the_memory_bound(tmp_path: Path) -> None:
    """495 MB of shared strings (the policy allows 500 unpacked, 200 times compressed) read in a process of
    its own: the peak stays under the bound the README states."""
    from perfcycle.policy import ImportsPolicy

    policy = ImportsPolicy()
    path = shared_strings_at_limit(tmp_path / "limits.xlsx", 495 * 1024 * 1024)
    with zipfile.ZipFile(path) as archive:
        (table,) = [info for info in archive.infolist() if info.filename == "xl/sharedStrings.xml"]
        assert (
            490 * 1024 * 1024
            < sum(info.file_size for info in archive.infolist())
            < policy.max_uncompressed_mb * 1024 * 1024
        )
        assert 10 < table.file_size / table.compress_size < policy.max_compression_ratio
    assert path.stat().st_size < policy.max_file_mb * 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True, timeout=300
    )
    rows, problems, peak_mb = map(int, done.stdout.split())
    assert (rows, problems) == (5, 0)
    assert peak_mb < MEMORY_BOUND_MB, f"{peak_mb} MB"
