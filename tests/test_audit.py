"""The hash-chained audit log: `perfcycle audit verify` passes, then names an edited or a deleted entry."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import typer
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import Cycle, Document, get_engine
from models.audit_log import AuditEntry
from perfcycle import audit
from perfcycle.commands.approvals import register
from perfcycle.policy import load_policy

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def write_entries(db_url: str, n: int = 5) -> None:
    with Session(get_engine(db_url)) as s:
        for i in range(1, n + 1):
            audit.append(
                s, f"人员{i}", "test.action", f"thing:{i}", {"i": i, "金额": "1.50", "nested": {"b": 1, "a": 2}}
            )
        s.commit()


def verify_cli(db_url: str) -> tuple[int, str]:
    result = runner.invoke(cli(), ["audit", "verify", "--database-url", db_url])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_chain_is_numbered_linked_and_verifies(db_url: str, session: Session) -> None:
    write_entries(db_url)
    entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert audit.verify(session) == []
    code, output = verify_cli(db_url)
    assert code == 0, output
    assert "共 5 条记录" in output and "校验通过" in output


def test_an_edited_entry_is_named(db_url: str) -> None:
    write_entries(db_url)
    with get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor = '别人' WHERE id = 3"))
    code, output = verify_cli(db_url)
    assert code == 1
    assert "#3" in output and "被修改" in output
    assert "#2" not in output and "#4" not in output


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(db_url: str, session: Session) -> None:
    write_entries(db_url)
    entry = session.get(AuditEntry, 2)
    assert entry is not None
    entry.payload_json = '{"i":999}'
    entry.hash = audit.entry_hash(entry)
    session.add(entry)
    session.commit()
    problems = audit.verify(session)
    assert len(problems) == 1 and problems[0].startswith("审计记录 #3") and "链接断开" in problems[0]


def test_a_deleted_entry_is_named(db_url: str) -> None:
    write_entries(db_url)
    with get_engine(db_url).begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id = 3"))
    code, output = verify_cli(db_url)
    assert code == 1
    assert "#3" in output and "删除" in output


def test_deleting_the_first_entry_is_detected(db_url: str, session: Session) -> None:
    write_entries(db_url, 3)
    with get_engine(db_url).begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id = 1"))
    problems = audit.verify(session)
    assert problems and "#1" in problems[0]


def test_a_document_is_audited_once_per_content(db_url: str, session: Session, tmp_path: Path) -> None:
    cycle = Cycle(year=2024, budget_year=2026, policy_json=load_policy(2024).as_json())
    session.add(cycle)
    session.commit()
    assert cycle.id is not None
    path = tmp_path / "a.docx"
    row = Document(cycle_id=cycle.id, stage="reporting", kind="工作开展情况说明", subject="*", path="", sha256="")
    sha = hashlib.sha256(b"v1").hexdigest()
    audit.record_document(session, row, path, sha)
    row.path, row.sha256 = str(path), sha
    session.add(row)
    session.commit()
    audit.record_document(session, row, path, sha)  # rendered again, same bytes: nothing new
    audit.record_document(session, row, path, hashlib.sha256(b"v2").hexdigest())  # changed: audited
    session.commit()
    actions = [e.action for e in session.exec(select(AuditEntry))]
    assert actions == ["document.generated", "document.generated"]
    assert audit.verify(session) == []


def test_a_broken_chain_stops_the_annual_report(db_url: str) -> None:
    import pytest

    from perfcycle.stages import StageError
    from tasks.integrity import verify_audit_chain

    write_entries(db_url)
    assert verify_audit_chain.fn() == 5
    with get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE audit_entry SET subject = 'thing:x' WHERE id = 2"))
    with pytest.raises(StageError, match="#2"):
        verify_audit_chain.fn()


def test_a_batch_continues_the_chain_as_single_appends_would(db_url: str, session: Session) -> None:
    write_entries(db_url, 2)
    batch = [(f"人员{i}", "test.batch", f"thing:{i}", {"i": i}) for i in range(3, 6)]
    added = audit.append_many(session, batch)
    audit.append(session, "人员6", "test.action", "thing:6", {"i": 6})
    assert audit.append_many(session, []) == []
    session.commit()
    entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert added == [3, 4, 5]
    assert [e.id for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [(e.actor, e.subject) for e in entries[2:5]] == [(a, s) for a, _, s, _ in batch]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert all(audit.entry_hash(e) == e.hash for e in entries)
    assert audit.verify(session) == []
    code, output = verify_cli(db_url)
    assert code == 0 and "共 6 条记录" in output, output


def test_documents_are_audited_in_one_batch_once_per_content(db_url: str, session: Session, tmp_path: Path) -> None:
    cycle = Cycle(year=2024, budget_year=2026, policy_json=load_policy(2024).as_json())
    session.add(cycle)
    session.commit()
    assert cycle.id is not None
    rows = [
        Document(
            cycle_id=cycle.id, stage="target_setting", kind="绩效目标审核意见", subject=f"D0{i}", path="", sha256=""
        )
        for i in range(1, 4)
    ]
    paths = [tmp_path / f"D0{i}.docx" for i in range(1, 4)]
    digests = [hashlib.sha256(f"v1-{i}".encode()).hexdigest() for i in range(1, 4)]
    assert audit.record_documents(session, zip(rows, paths, digests, strict=True)) == 3
    for row, path, sha in zip(rows, paths, digests, strict=True):
        row.path, row.sha256 = str(path), sha
        session.add(row)
    session.commit()
    changed = hashlib.sha256(b"v2").hexdigest()
    # Rendered again: two with the same bytes add nothing, the changed one is audited.
    assert audit.record_documents(session, [(rows[0], paths[0], digests[0]), (rows[1], paths[1], changed)]) == 1
    session.commit()
    entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [e.subject for e in entries] == [f"document:{cycle.id}:绩效目标审核意见:D0{i}" for i in (1, 2, 3, 2)]
    assert '"sha256":"' + changed + '"' in entries[-1].payload_json
    assert audit.verify(session) == []
