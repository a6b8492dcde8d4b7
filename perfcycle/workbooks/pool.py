"""Reading a stage's workbooks on every core.

`read_workbooks` reads files the way `read_workbook` reads one, in this process when there are few and in a
process pool (spawned, kept from one stage to the next) when there are many; either way the workbooks come
back in the files' order and a refusal lists every problem of every file in that order, exactly as reading
them one after another would. `read_outcomes` hands each file's result over as soon as it is read, so that a
stage can load its first files while the rest are still being read. Nothing here touches the database.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from decimal import Decimal
from pathlib import Path
from typing import Any

from perfcycle import pools
from perfcycle.runtime import collection_paused
from perfcycle.workbooks.reader import (
    ImportProblem,
    ImportRejected,
    ParsedRow,
    ParsedWorkbook,
    SheetColumns,
    import_dependencies,
    read_workbook,
)

#: Files worth starting the worker processes for (a start costs a Python and the reader's imports, about a
#: quarter of a second, as much as reading 100 of the larger workbooks); once they run, POOL_MIN_FILES are
#: enough to hand them a share. Fewer are read here.
POOL_START_FILES = 150
POOL_MIN_FILES = 16
#: A district's base workbook this large lists about POOL_START_FILES departments or more (≈ 1 KB a department
#: with its projects and history): the readers are started before it is read (`warm_up_ahead`).
AHEAD_BYTES = 256 * 1024
BATCHES_PER_WORKER = 12
READERS_NICENESS = 5

Outcome = ParsedWorkbook | list[ImportProblem]

#: The stage's loader, in this process, is the slower half of an import; the readers give it the CPU first.
_pool = pools.SharedPool(niceness=READERS_NICENESS, prepare=import_dependencies)


def read_batch(paths: Sequence[Path], kind: str | None, limits: dict[str, int]) -> list[Outcome]:
    """Each file's workbook, or the problems that refuse it; runs in a worker process as well as in this one."""
    with collection_paused():
        return [_read_one(path, kind, limits) for path in paths]


def read_batch_packed(paths: Sequence[Path], kind: str | None, limits: dict[str, int]) -> bytes:
    """`read_batch` in a worker, handed back as one pickle of compact outcomes made with the collector paused:
    a sheet's rows travel as columns of values under its field names, not as row objects (less than half the
    work of pickling and unpickling them, on both sides of the pipe)."""
    outcomes = read_batch(paths, kind, limits)
    with collection_paused():
        return pickle.dumps([_pack(outcome) for outcome in outcomes], protocol=pickle.HIGHEST_PROTOCOL)


def unpack_batch(packed: bytes) -> list[Outcome]:
    """The outcomes of `read_batch_packed`, as `read_batch` returns them."""
    with collection_paused():
        return [_unpack(outcome) for outcome in pickle.loads(packed)]


_Packed = tuple[str, str, str, list[tuple[str, Any, Any, Any, Any]], str | None, float | None]
_DECIMALS = {Decimal, type(None)}
_TEXTS = {str, type(None)}


def _pack(outcome: Outcome) -> _Packed | list[ImportProblem]:
    """A workbook as it travels: each sheet as (name, fields, (row numbers, packed columns), refused fields by row
    position, the missing fields), its rows made in the process that loads it; or, for rows naming different
    fields (never made by the reader), (name, None, rows, None, None)."""
    if isinstance(outcome, list):
        return outcome
    sheets: list[tuple[str, Any, Any, Any, Any]] = []
    read = outcome.as_columns
    if read is not None:  # as read: its columns as they are, no row made
        for name, sheet in read.items():
            columns = [_pack_column(column) for column in sheet.columns]
            errors = sorted(sheet.errors.items())
            sheets.append((name, tuple(sheet.fields), (sheet.numbers, columns), errors, tuple(sheet.missing)))
    else:
        for name, rows in outcome.sheets.items():
            fields = tuple(rows[0].values) if rows else ()
            if all(tuple(row.values) == fields for row in rows):
                errors = [(at, row.errors) for at, row in enumerate(rows) if row.errors]
                values = [tuple(row.values.values()) for row in rows]
                columns = [_pack_column(column) for column in zip(*values, strict=True)]
                sheets.append((name, fields, ([row.row for row in rows], columns), errors, ()))
            else:  # rows naming different fields (not seen from the readers) travel as they are
                sheets.append((name, None, rows, None, None))
    digest = outcome.__dict__.get("content_digest")
    return str(outcome.path), outcome.kind, outcome.sha256, sheets, digest, outcome.modified


def _pack_column(values: Sequence[Any]) -> tuple[bool, Sequence[Any], list[int] | None]:
    """A column as it travels: amounts as their exact text (pickling a Decimal costs five times its `str`), and
    a column of text that repeats itself (codes, levels, units) as its distinct texts and an index per row."""
    kinds = set(map(type, values))
    as_text = Decimal in kinds and kinds <= _DECIMALS
    if as_text:
        column = [None if v is None else str(v) for v in values] if type(None) in kinds else [*map(str, values)]
    elif kinds <= _TEXTS:
        column = list(values)
    else:  # other values compare equal across types (1 == 1.0 == True): they travel as they are
        return False, values, None
    distinct = dict.fromkeys(column)
    if len(distinct) * 2 > len(column):
        return as_text, column, None
    position = {value: at for at, value in enumerate(distinct)}
    return as_text, list(distinct), list(map(position.__getitem__, column))


def _unpack_column(packed: tuple[bool, Sequence[Any], list[int] | None]) -> Sequence[Any]:
    as_text, values, positions = packed
    if as_text:
        values = [None if value is None else Decimal(value) for value in values]
    if positions is not None:
        return list(map(values.__getitem__, positions))
    return values


def _unpack(packed: _Packed | list[ImportProblem]) -> Outcome:
    if isinstance(packed, list):
        return packed
    path, kind, sha256, packed_sheets, digest, modified = packed
    columns: dict[str, SheetColumns] = {}
    as_rows: dict[str, list[ParsedRow]] = {}
    for name, fields, rows, errors, missing in packed_sheets:
        if fields is None:
            as_rows[name] = rows
            continue
        numbers, packed_columns = rows
        if len(packed_columns) != len(fields):
            raise ValueError(f"{name}: {len(packed_columns)} columns for {len(fields)} fields")
        values = [_unpack_column(column) for column in packed_columns]
        columns[name] = SheetColumns(numbers, list(fields), values, dict(errors), frozenset(missing))
    if as_rows:
        sheets = {name: as_rows[name] if name in as_rows else columns[name].rows() for name, _, *_ in packed_sheets}
        workbook = ParsedWorkbook(Path(path), kind, sha256, sheets, modified=modified)
    else:  # its rows are made when the loader first reads them
        workbook = ParsedWorkbook(Path(path), kind, sha256, columns=columns, modified=modified)
    if digest is not None:
        workbook.__dict__["content_digest"] = digest  # the cached property, as worked out where it was read
    return workbook


def _read_one(path: Path, kind: str | None, limits: dict[str, int]) -> Outcome:
    try:
        parsed = read_workbook(path, kind, **limits)
    except ImportRejected as exc:
        return exc.problems
    _ = parsed.content_digest  # computed where the reading is, and sent along with the workbook
    return parsed


def read_outcomes(
    paths: Sequence[Path], kind: str | None, limits: dict[str, int] | None = None, *, workers: int | None = None
) -> Iterator[Outcome]:
    """Each file's workbook or problems, in the files' order, each as soon as it and the files before it are
    read: the caller can load the first files while the pool still reads the rest. The pool starts reading
    them at this call, before the first is asked for.

    `workers` None means `reading_workers()`; with 1, or too few files for the pool, they are read here."""
    limits = limits or {}
    count = reading_workers() if workers is None else workers
    pool = _shared_pool(count, len(paths)) if count > 1 else None
    results: Iterator[bytes] | None = None
    if pool is not None:
        batches = _batches(paths, count)
        try:
            results = pool.map(read_batch_packed, batches, [kind] * len(batches), [limits] * len(batches))
        except BrokenProcessPool:
            shutdown_pool()
    return _outcomes(paths, kind, limits, results)


def _outcomes(
    paths: Sequence[Path], kind: str | None, limits: dict[str, int], results: Iterator[bytes] | None
) -> Iterator[Outcome]:
    done = 0
    if results is not None:
        try:
            for packed in results:
                for outcome in unpack_batch(packed):
                    done += 1
                    yield outcome
        except BrokenProcessPool:  # a worker died (killed, out of memory): the rest are read here instead
            shutdown_pool()
        else:
            return
    for path in paths[done:]:
        yield from read_batch([path], kind, limits)


def _batches(paths: Sequence[Path], workers: int) -> list[list[Path]]:
    """The files in batches of about BATCHES_PER_WORKER a worker, the last ones smaller and smaller (a quarter of
    what is left, for two workers): the workers finish nearly together, and what the loader is left to load after
    the last is read is a file or two, not a whole batch."""
    size = max(1, -(-len(paths) // (workers * BATCHES_PER_WORKER)))
    batches: list[list[Path]] = []
    start = 0
    while start < len(paths):
        take = min(size, max(1, (len(paths) - start) // (2 * workers)))
        batches.append(list(paths[start : start + take]))
        start += take
    return batches


def read_workbooks(
    paths: Sequence[Path], kind: str | None, limits: dict[str, int] | None = None, *, workers: int | None = None
) -> list[ParsedWorkbook]:
    """`read_workbook` (with `limits`) of every file, in order; one `ImportRejected` with every file's problems.

    `workers` as in `read_outcomes`."""
    outcomes = list(read_outcomes(paths, kind, limits, workers=workers))
    problems = [problem for outcome in outcomes if isinstance(outcome, list) for problem in outcome]
    if problems:
        raise ImportRejected(problems)
    return [outcome for outcome in outcomes if isinstance(outcome, ParsedWorkbook)]


def warm_up(files: int, *, workers: int | None = None) -> bool:
    """Start the reading processes now, when a stage of `files` workbooks will want them: their start (a Python
    and the reader's imports each) then overlaps with other work instead of delaying the stage's first file.
    Whether they were started."""
    count = reading_workers() if workers is None else workers
    if count < 2 or _shared_pool(count, files) is None:
        return False
    _pool.warm(read_batch, [], None, {})
    return True


def warm_up_ahead(base_workbook: Path, *, workers: int | None = None) -> bool:
    """`warm_up` before a district's base workbook is read, when its size says the district is large enough: the
    readers' start then takes the core that reading and loading it leave idle, not the first stage's time. The
    caller stops them (`shutdown_pool`) if the workbook lists fewer departments than its size promised."""
    try:
        size = base_workbook.stat().st_size
    except OSError:
        return False
    return size >= AHEAD_BYTES and warm_up(POOL_START_FILES, workers=workers)


def reading_workers() -> int:
    """How many processes read workbooks: as many as render documents (PERFCYCLE_RENDER_WORKERS), else one per core."""
    return pools.worker_count()


def _shared_pool(workers: int, files: int) -> ProcessPoolExecutor | None:
    """The process's reading pool of `workers` processes; None when `files` are too few to be worth it."""
    return _pool.get(workers, files, start_at=POOL_START_FILES, keep_from=POOL_MIN_FILES)


def shutdown_pool() -> None:
    """Stop the reading processes (they also stop with this process)."""
    _pool.shutdown()
