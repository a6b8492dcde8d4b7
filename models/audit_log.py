"""The append-only audit log, every notification sent, and every refused decision.

`AuditEntry` rows are written only by `perfcycle.audit.append`, which numbers them itself (previous id + 1,
never a database sequence, whose gaps after a rollback would look like deletions) and chains them by hash.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlmodel import Field, SQLModel

from models.tables import now


def _stamp() -> Any:
    return Field(default_factory=now, sa_type=DateTime(timezone=True))


class AuditEntry(SQLModel, table=True):
    """One link of the hash chain: hash = sha256(prev_hash + canonical JSON of the other fields)."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _stamp()
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60, index=True)
    subject: str = Field(max_length=200)
    payload_json: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class Notification(SQLModel, table=True):
    """A message to one recipient over one channel; the dedup key makes the same reminder go only once."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _stamp()
    recipient: str = Field(max_length=200)
    channel: str = Field(max_length=20, description="email | webhook | outbox | none")
    address: str = Field(default="", max_length=500, description="e-mail address or masked URL, never a secret")
    subject: str = Field(max_length=300)
    item: str = Field(default="", max_length=200)
    step: str = Field(default="", max_length=40)
    deadline: date | None = None
    dedup_key: str = Field(max_length=64, unique=True)
    outcome: str = Field(
        default="pending",
        max_length=12,
        description="pending | sent | failed | unknown (sent, not recorded: never resent)",
    )
    attempts: int = 0
    error: str = Field(default="", sa_type=Text)


class DecisionRefusal(SQLModel, table=True):
    """A decision that was refused: who tried what on which gate, when, and why it was refused."""

    __tablename__ = "decision_refusal"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _stamp()
    approval_id: int | None = Field(default=None, index=True)
    actor: str = Field(default="", max_length=100)
    decision: str = Field(default="", max_length=12)
    comment: str = Field(default="", sa_type=Text)
    reason: str = Field(sa_type=Text)
