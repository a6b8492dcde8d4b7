"""The audit trail: an append-only, hash-chained log of decisions, submissions, notifications and documents.

Each entry's hash is sha256(prev_hash + canonical JSON of its id, time, actor, action, subject and payload),
and its prev_hash is the hash of the entry before it. Entries are numbered 1, 2, 3 … by `append` itself, so
`verify` finds an edited entry (its hash no longer matches its content) and a deleted one (a gap in the
numbers, or a broken link). Deleting the newest entries leaves no trace in the chain itself: compare the
count with an exported copy (`perfcycle audit verify` prints it) to detect that.

`append` works inside the caller's transaction: an audited change and its entry are committed together
or not at all. On PostgreSQL a transaction-scoped advisory lock keeps concurrent writers in line; SQLite
serialises writers by itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from models.audit_log import AuditEntry
from models.rows import insert_tuples
from models.tables import SHANGHAI, Document, now

GENESIS = ""  # prev_hash of the first entry
_LOCK_KEY = 7_311_024  # pg_advisory_xact_lock key of the audit chain


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no whitespace, UTF-8 kept, dates and Decimals as text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _at_text(at: datetime) -> str:
    """The instant in Asia/Shanghai; SQLite gives back the naive wall time that was stored."""
    local = at.replace(tzinfo=SHANGHAI) if at.tzinfo is None else at.astimezone(SHANGHAI)
    return local.isoformat(timespec="microseconds")


def entry_hash(entry: AuditEntry | _Entry) -> str:
    fields = {
        "id": entry.id,
        "at": _at_text(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "payload": entry.payload_json,
    }
    return hashlib.sha256((entry.prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def append(session: Session, actor: str, action: str, subject: str, payload: Mapping[str, Any]) -> AuditEntry:
    """Add one entry at the end of the chain, in the caller's transaction (written, not committed)."""
    (row,) = _chain(session, [(actor, action, subject, payload)])
    return AuditEntry(**dict(zip(_FIELDS, row, strict=True)))


class _Entry(NamedTuple):
    """An entry's fields as hashed and stored, without an ORM object per entry."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload_json: str
    prev_hash: str


def append_many(session: Session, entries: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> list[int]:
    """Add (actor, action, subject, payload) entries at the end of the chain with one query and one insert,
    numbered and linked exactly as the same `append` calls one after another would; their ids."""
    return [row[0] for row in _chain(session, entries)] if entries else []


#: The chain's end; built once, as every submission and decision reads it.
_LAST = select(AuditEntry.id, AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)
_FIELDS = ("id", "at", "actor", "action", "subject", "payload_json", "prev_hash", "hash")


def _chain(session: Session, entries: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> list[tuple[Any, ...]]:
    """The entries numbered and linked after the chain's last one and inserted, as rows of `_FIELDS`; the
    caller's pending changes are written first, so that they precede their entries."""
    _lock(session)
    session.flush()
    last = session.connection().execute(_LAST).first()
    next_id = last[0] + 1 if last else 1
    prev_hash = last[1] if last else GENESIS
    rows: list[tuple[Any, ...]] = []
    for offset, (actor, action, subject, payload) in enumerate(entries):
        entry = _Entry(
            next_id + offset,
            now(),
            (actor or "?")[:100],
            action[:60],
            subject[:200],
            canonical_json(dict(payload)),
            prev_hash,
        )
        prev_hash = entry_hash(entry)
        rows.append((*entry, prev_hash))
    insert_tuples(session, AuditEntry, _FIELDS, rows)
    return rows


def approval_subject(approval: Any) -> str:
    """An approval named by what it decides, not by its row id (ids are not stable across a crash)."""
    return f"approval:{approval.cycle_id}:{approval.gate}:{approval.subject}:{approval.level}"


def record_document(session: Session, document: Document, path: Path, sha256: str) -> None:
    """Audit a generated document when it is new or its bytes changed; re-rendering the same bytes adds nothing.

    Call it before the document's row takes the new path and hash.
    """
    if document.id is not None and document.sha256 == sha256 and document.path == str(path):
        return
    append(session, *_document_entry(document, path, sha256))


def record_documents(session: Session, documents: Iterable[tuple[Document, Path, str]]) -> int:
    """`record_document` for many documents at once (one query and one flush); the number of entries added.

    Call it before the documents' rows take their new paths and hashes."""
    entries = [
        _document_entry(document, path, sha256)
        for document, path, sha256 in documents
        if not (document.id is not None and document.sha256 == sha256 and document.path == str(path))
    ]
    return len(append_many(session, entries))


def _document_entry(document: Document, path: Path, sha256: str) -> tuple[str, str, str, dict[str, Any]]:
    return (
        "perfcycle",
        "document.generated",
        f"document:{document.cycle_id}:{document.kind}:{document.subject}",
        {"stage": document.stage, "kind": document.kind, "path": str(path), "sha256": sha256},
    )


def verify(session: Session) -> list[str]:
    """Walk the chain from the first entry; one message per entry that was edited or follows a deletion."""
    problems: list[str] = []
    previous: AuditEntry | None = None
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))):
        assert entry.id is not None
        expected_id = (previous.id or 0) + 1 if previous else 1
        expected_prev = previous.hash if previous else GENESIS
        if entry.id != expected_id:
            missing = f"#{expected_id}" if entry.id == expected_id + 1 else f"#{expected_id}–#{entry.id - 1}"
            problems.append(f"审计记录 #{entry.id}: 之前的记录 {missing} 已被删除（编号不连续）")
        elif entry.prev_hash != expected_prev:
            problems.append(f"审计记录 #{entry.id}: 与前一条记录的哈希链接断开（前一条被修改或删除）")
        if entry_hash(entry) != entry.hash:
            problems.append(f"审计记录 #{entry.id}: 内容与哈希不符（记录被修改）")
        previous = entry
    return problems


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEntry)).one()
