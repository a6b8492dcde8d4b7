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
from models.audit import AuditEntry
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
    from tasks.audit import verify_audit_chain

    write_entries(db_url)
    assert verify_audit_chain.fn() == 5
    with get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE audit_entry SET subject = 'thing:x' WHERE id = 2"))
    with pytest.raises(StageError, match="#2"):
        verify_audit_chain.fn()
