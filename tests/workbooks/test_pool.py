"""Workbooks read on every core are the workbooks read one after another: the same `ParsedWorkbook`s in the
files' order, and the same refusal (every problem of every file, in the files' order) when some are bad."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import Session, func, select

from models import Indicator, Submission, get_engine
from models.audit_log import AuditEntry
from perfcycle.demo import DemoFiles
from perfcycle.loaders import import_file
from perfcycle.settings import get_settings
from perfcycle.workbooks import pool
from perfcycle.workbooks.reader import ImportProblem, ImportRejected, ParsedWorkbook, read_workbook
from tests.workbooks import probe

YEAR = 2024


@pytest.fixture(scope="module", autouse=True)
def _no_pool_left() -> Iterator[None]:
    yield
    pool.shutdown_pool()


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The pool starts for any number of files; each call records whether the pool read them."""
    monkeypatch.setattr(pool, "POOL_START_FILES", 1)
    monkeypatch.setattr(pool, "POOL_MIN_FILES", 1)
    calls: list[bool] = []
    shared_pool = pool._shared_pool

    def spy(workers: int, files: int) -> Any:
        found = shared_pool(workers, files)
        calls.append(found is not None)
        return found

    monkeypatch.setattr(pool, "_shared_pool", spy)
    return calls


def summary(parsed: ParsedWorkbook) -> Any:
    return (
        parsed.path,
        parsed.kind,
        parsed.sha256,
        parsed.content_digest,
        {name: [(r.row, r.values, r.errors) for r in rows] for name, rows in parsed.sheets.items()},
    )


def problems_of(path: Path, kind: str, **limits: int) -> list[ImportProblem]:
    try:
        read_workbook(path, kind, **limits)
    except ImportRejected as exc:
        return exc.problems
    return []


def rejection(paths: list[Path], kind: str, workers: int, limits: dict[str, int] | None = None) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        pool.read_workbooks(paths, kind, limits, workers=workers)
    return caught.value


@pytest.fixture
def targets(demo_2024: DemoFiles, tmp_path: Path) -> list[Path]:
    """A copy of the demo's target workbooks (one per department), to spoil some of."""
    folder = tmp_path / "targets"
    shutil.copytree(Path(demo_2024.submissions) / "targets", folder)
    files = sorted(folder.glob("*.xlsx"))
    assert len(files) > 20
    return files


def test_pooled_reading_gives_the_workbooks_of_sequential_reading(targets: list[Path], pooled: list[bool]) -> None:
    sequential = pool.read_workbooks(targets, "targets", workers=1)
    assert pooled == []
    in_pool = pool.read_workbooks(targets, "targets", workers=2)
    assert pooled == [True]
    assert [p.path for p in in_pool] == targets
    assert [summary(p) for p in in_pool] == [summary(p) for p in sequential]
    for parsed in in_pool:  # the digest came along from the worker, and is the one computed here
        assert "content_digest" in vars(parsed)
        assert parsed.content_digest == ParsedWorkbook.content_digest.func(parsed)  # type: ignore[attr-defined]


def test_the_compact_form_between_processes_gives_back_the_same_outcomes(tmp_path: Path) -> None:
    from decimal import Decimal

    from perfcycle.workbooks.reader import ParsedRow

    rows = [
        ParsedRow(2, {"code": "101", "amount": Decimal("1.50"), "note": None, "n": 1}),
        ParsedRow(3, {"code": "102", "amount": None, "note": "x", "n": 1.0}, {"amount"}),
        ParsedRow(4, {"code": "101", "amount": Decimal("1.5"), "note": "x", "n": True}),
        ParsedRow(5, {"code": "101", "amount": Decimal("-0E+2"), "note": "x", "n": 1}),
    ]
    mixed = [ParsedRow(2, {"code": "101"}), ParsedRow(4, {"name": "乙", "code": "103"}, {"name"})]
    sheets = {"甲": rows, "乙": mixed, "丙": []}
    workbook = ParsedWorkbook(tmp_path / "a.xlsx", "targets", "f" * 64, sheets, modified=1733450000.25)
    digest = workbook.content_digest
    problems = [ImportProblem("b.xlsx", "甲", 3, "金额", "不是数字")]
    back = pool.unpack_batch(pool.pickle.dumps([pool._pack(workbook), pool._pack(problems)]))
    assert back[1] == problems
    unpacked = back[0]
    assert isinstance(unpacked, ParsedWorkbook)
    assert summary(unpacked) == summary(workbook)
    assert [list(r.values) for r in unpacked.sheets["乙"]] == [["code"], ["name", "code"]]
    assert vars(unpacked)["content_digest"] == digest
    assert unpacked.modified == 1733450000.25  # when the file was read: the loader dates its arrival by it
    assert unpacked.sheets["甲"][0].errors is not unpacked.sheets["甲"][1].errors
    amounts = [(type(r.values["n"]), str(r.values["amount"])) for r in unpacked.sheets["甲"]]
    assert amounts == [(int, "1.50"), (float, "None"), (bool, "1.5"), (int, "-0E+2")]  # types and exponents kept


def spoil(files: list[Path]) -> list[Path]:
    """Three bad workbooks among the good ones: not a workbook at all, a bad cell, a missing column."""
    files[2].write_bytes(b"not a workbook")
    for path, change in ((files[5], "bad cell"), (files[-1], "no column")):
        workbook = openpyxl.load_workbook(path)
        sheet = workbook["绩效指标"]
        if change == "bad cell":
            sheet["I3"] = "很重要"  # 权重 is a number
            sheet["A4"] = None  # 部门编码 is required
        else:
            sheet.delete_cols(9)
        workbook.save(path)
    return [files[2], files[5], files[-1]]


def test_bad_files_among_many_are_refused_alike(targets: list[Path], pooled: list[bool]) -> None:
    bad = spoil(targets)
    sequential = rejection(targets, "targets", workers=1)
    in_pool = rejection(targets, "targets", workers=2)
    assert pooled == [True]
    expected = [problem for path in targets for problem in problems_of(path, "targets")]
    assert sequential.problems == expected
    assert in_pool.problems == expected
    assert str(in_pool) == str(sequential)
    assert list(dict.fromkeys(p.file for p in expected)) == [path.name for path in bad]
    assert [(p.sheet, p.row, p.column) for p in expected if p.file == bad[1].name] == [
        ("绩效指标", 3, "权重"),
        ("绩效指标", 4, "部门编码"),
    ]


def test_the_limits_reach_the_workers(targets: list[Path], pooled: list[bool]) -> None:
    limits = {"max_rows": 3}
    sequential = rejection(targets, "targets", workers=1, limits=limits)
    in_pool = rejection(targets, "targets", workers=2, limits=limits)
    assert pooled == [True]
    assert in_pool.problems == sequential.problems
    assert {p.file for p in in_pool.problems} == {path.name for path in targets}
    assert all("数据行超过上限 3 行" in p.reason for p in in_pool.problems)


def test_a_dead_worker_leaves_the_reading_to_this_process(targets: list[Path], pooled: list[bool]) -> None:
    pool.read_workbooks(targets[:4], "targets", workers=2)
    running = pool._pool.current
    assert running is not None
    for pid in list(running._processes):
        os.kill(pid, signal.SIGKILL)
    read = pool.read_workbooks(targets, "targets", workers=2)
    assert [summary(p) for p in read] == [summary(p) for p in pool.read_workbooks(targets, "targets", workers=1)]
    assert pool._pool.current is not running


def test_readers_started_ahead_are_ready_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader started ahead of a stage has imported what the first file needs (not on the stage's clock), with
    one BLAS thread, as one of a pool sized to the cores."""
    pool.shutdown_pool()
    monkeypatch.setattr(pool, "POOL_START_FILES", 1)
    assert pool.warm_up(2, workers=2)
    running = pool._pool.current
    assert running is not None
    assert running.submit(probe.worker_state).result(timeout=120) == (True, "1")
    # and only that: not the policy and its validation library (what the cycle's rules read)
    assert running.submit(probe.loaded, "perfcycle.policy").result() is False
    assert running.submit(probe.loaded, "pydantic").result() is False
    pool.shutdown_pool()


def test_few_files_are_read_here(monkeypatch: pytest.MonkeyPatch) -> None:
    pool.shutdown_pool()
    monkeypatch.setattr(pool, "POOL_START_FILES", 10)
    monkeypatch.setattr(pool, "POOL_MIN_FILES", 4)
    assert pool._shared_pool(2, 9) is None  # not worth starting the workers
    started = pool._shared_pool(2, 10)
    assert started is not None
    assert pool._shared_pool(2, 4) is started  # once they run, a few files are worth handing them
    assert pool._shared_pool(2, 3) is None
    pool.shutdown_pool()


def test_a_district_large_enough_starts_its_readers_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    pool.shutdown_pool()
    monkeypatch.setattr(pool, "POOL_START_FILES", 10)
    assert pool.warm_up(9, workers=2) is False and pool._pool.current is None
    assert pool.warm_up(10, workers=2) is True
    running = pool._pool.current
    assert running is not None and len(running._processes) == 2  # both spawned before any stage asks
    lower = min(19, os.nice(0) + pool.READERS_NICENESS)  # the loader, here, goes first
    assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in running._processes} == {lower}  # even as they start
    niceness = {running.submit(os.nice, 0).result() for _ in range(4)}
    assert niceness == {lower}
    assert pool._shared_pool(2, pool.POOL_MIN_FILES) is running  # the stage then finds them
    pool.shutdown_pool()


def counts(url: str) -> tuple[int, int, int]:
    with Session(get_engine(url)) as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(model)).one() for model in (Indicator, Submission, AuditEntry)
        )


def test_a_stage_import_reads_in_the_pool_and_loads_each_file_once(
    db_url: str, demo_2024: DemoFiles, targets: list[Path], pooled: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import imports
    from tasks.cycle import open_cycle

    monkeypatch.setenv("PERFCYCLE_RENDER_WORKERS", "2")
    get_settings.cache_clear()
    import_file(demo_2024.base, year=YEAR)
    open_cycle.fn(YEAR, auto_approve=False)
    loaded: list[str] = []
    monkeypatch.setattr(imports, "checkpoint", loaded.append)
    root = targets[0].parent.parent
    before = counts(db_url)

    bad = spoil(targets)
    good = [path for path in targets if path not in bad]
    done = imports.import_submissions.fn(YEAR, "targets", str(root))
    assert done["files"] == len(targets)
    assert done["rows"] == sum(read_workbook(path, "targets").rows for path in good)
    # each bad file is refused alone, with every problem of its own; no window is open to credit it to anyone
    assert done["unplaced"] == [
        {"file": path.name, "problems": [str(p) for p in problems_of(path, "targets")]} for path in bad
    ]
    assert loaded == ["import-file"] * len(good)  # the kill point after each file that loaded
    indicators, submissions, entries = counts(db_url)
    assert (indicators, submissions, entries - before[2]) == (done["rows"], len(good), len(good))
    loaded.clear()

    for path in bad:
        path.unlink()
    again = imports.import_submissions.fn(YEAR, "targets", str(root))  # the same files again change nothing
    assert again == {**done, "files": len(good), "unplaced": []}
    assert loaded == ["import-file"] * len(good)
    assert counts(db_url) == (indicators, submissions, entries)
    assert pooled == [True, True]
    get_settings.cache_clear()


def test_a_large_base_workbook_starts_the_readers_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pool.shutdown_pool()
    monkeypatch.setattr(pool, "AHEAD_BYTES", 100)
    small, large = tmp_path / "small.xlsx", tmp_path / "large.xlsx"
    small.write_bytes(b"x" * 99)
    large.write_bytes(b"x" * 100)
    assert pool.warm_up_ahead(tmp_path / "missing.xlsx", workers=2) is False
    assert pool.warm_up_ahead(small, workers=2) is False and pool._pool.current is None
    assert pool.warm_up_ahead(large, workers=2) is True
    running = pool._pool.current
    assert running is not None and len(running._processes) == 2
    pool.shutdown_pool()


@pytest.mark.parametrize("files", [1, 3, 16, 150, 500, 3000])
def test_the_last_files_go_in_smaller_batches(files: int) -> None:
    paths = [Path(f"{n}.xlsx") for n in range(files)]
    batches = pool._batches(paths, 2)
    assert [path for batch in batches for path in batch] == paths
    sizes = [len(batch) for batch in batches]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert sizes[0] == -(-files // (2 * pool.BATCHES_PER_WORKER))
