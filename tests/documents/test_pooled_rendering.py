"""Documents rendered on every core are the documents rendered one after another: the same bytes, the same
Document rows and the same audit entries, on the demo district; and a killed run leaves no worker behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bench.bare import run_bare
from models import Cycle, Document, get_engine
from models.audit_log import AuditEntry
from perfcycle import audit
from perfcycle.demo import generate_demo
from perfcycle.documents import catalog
from perfcycle.documents.catalog import GROUPS, STAGE_DOCUMENTS
from perfcycle.settings import get_settings
from tasks.documents import write_and_record

ALL_KINDS = tuple(k for group in GROUPS.values() for k in group)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pooled_cycle(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """The demo district's whole cycle (without Prefect), its documents rendered by two worker processes."""
    monkeypatch.setenv("PERFCYCLE_RENDER_WORKERS", "2")
    monkeypatch.setattr(catalog, "POOL_START_JOBS", 100)  # the district's 108 target-setting files start the pool
    get_settings.cache_clear()
    files = generate_demo(tmp_path / "demo", 2024)
    summary = run_bare(2024, str(files.base), str(files.submissions), str(tmp_path / "cycle"), {})
    assert summary["status"] == "done"
    with Session(get_engine(db_url)) as s:
        cycle = s.exec(select(Cycle).where(Cycle.year == 2024)).one()
        assert cycle.id is not None
        return cycle.id


def _rows(session: Session, cycle_id: int, out: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    rows = session.exec(select(Document).where(Document.cycle_id == cycle_id)).all()
    return {(r.kind, r.subject): (r.stage, str(Path(r.path).relative_to(out.resolve())), r.sha256) for r in rows}


def _entries_after(session: Session, last_id: int, out: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    entries = session.exec(select(AuditEntry).where(col(AuditEntry.id) > last_id).order_by(col(AuditEntry.id))).all()
    result = []
    for e in entries:
        payload = json.loads(e.payload_json)
        payload["path"] = str(Path(payload["path"]).relative_to(out.resolve()))
        result.append((e.actor, e.action, e.subject, payload))
    return result


def test_pooled_rendering_matches_sequential_rendering(
    pooled_cycle: int, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle = session.get(Cycle, pooled_cycle)
    assert cycle is not None
    planned = catalog.plan_documents(session, cycle, tmp_path / "plan", STAGE_DOCUMENTS["target_setting"])
    assert len(planned) >= catalog.POOL_START_JOBS  # so the cycle's target setting was written by the pool
    recorded = _rows(session, pooled_cycle, tmp_path / "cycle")
    for _stage, relative, digest in recorded.values():
        assert sha(tmp_path / "cycle" / relative) == digest  # the files read back are the recorded bytes

    pooled_calls: list[bool] = []
    shared_pool = catalog._shared_pool

    def spy(workers: int, jobs: int) -> Any:
        pool = shared_pool(workers, jobs)
        pooled_calls.append(pool is not None)
        return pool

    monkeypatch.setattr(catalog, "_shared_pool", spy)
    start = audit.count(session)

    # One file after another, in this process.
    sequential = write_and_record(session, pooled_cycle, str(tmp_path / "seq"), ALL_KINDS, workers=1)
    session.flush()
    seq_rows = _rows(session, pooled_cycle, tmp_path / "seq")
    seq_entries = _entries_after(session, start, tmp_path / "seq")
    session.rollback()
    assert pooled_calls == []

    # The same, on two worker processes, from the same records.
    pooled = write_and_record(session, pooled_cycle, str(tmp_path / "pool"), ALL_KINDS, workers=2)
    session.commit()
    assert any(pooled_calls)
    pool_rows = _rows(session, pooled_cycle, tmp_path / "pool")
    pool_entries = _entries_after(session, start, tmp_path / "pool")

    assert [(d.kind, d.subject, d.sha256) for d in pooled] == [(d.kind, d.subject, d.sha256) for d in sequential]
    assert pool_rows == seq_rows
    assert {k: (v[0], v[2]) for k, v in seq_rows.items()} == {k: (v[0], v[2]) for k, v in recorded.items()}
    for _stage, relative, digest in seq_rows.values():
        assert (tmp_path / "pool" / relative).read_bytes() == (tmp_path / "seq" / relative).read_bytes()
        assert sha(tmp_path / "pool" / relative) == digest
    # Every document moved folder, so each is audited once, in the order written, as before.
    assert len(pool_entries) == len(pooled) == len(seq_entries)
    assert pool_entries == seq_entries
    assert [e[2] for e in pool_entries] == [f"document:{pooled_cycle}:{d.kind}:{d.subject}" for d in pooled]
    assert audit.verify(session) == []


@pytest.mark.parametrize(
    ("documents", "shares", "shares_from", "expected"),
    [
        (199, 2, 200, False),  # one short of the threshold: the stage writes its own
        (200, 2, 200, True),
        (500, 1, 200, False),  # one share is the stage itself
        (0, 2, 1, False),
        (1, 2, 1, True),  # the distributed test fans out every stage
    ],
)
def test_a_stage_fans_out_only_with_several_shares_and_enough_documents(
    documents: int, shares: int, shares_from: int, expected: bool
) -> None:
    assert catalog.fans_out(documents, shares, shares_from) is expected
