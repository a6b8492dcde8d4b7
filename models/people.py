"""The people who sign in to the workbench: their accounts, one-time links, sessions and sign-in attempts.

A password is kept only as its argon2 hash; a one-time link's token and a session's cookie only as their
sha256. Written by `perfcycle.accounts` alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from models.tables import now


def _stamp() -> Any:
    return Field(default_factory=now, sa_type=DateTime(timezone=True))


def _when() -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True)


class UserAccount(SQLModel, table=True):
    """A person who acts in the cycle under their own name: a department's contact or head, a coordinator or
    leader of the policy, a panel or review member, a third-party evaluator."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100, description="the person's name, as the base data or the policy writes it")
    role: str = Field(max_length=20, description="department | coordinator | leader | panel | review | third_party")
    duty: str = Field(default="", max_length=20, description="a department account's: contact | head")
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    email: str = Field(default="", max_length=200)
    source: str = Field(default="invited", max_length=20, description="base_data | policy | invited")
    status: str = Field(default="invited", max_length=12, description="invited | active | disabled")
    password_hash: str = Field(default="", max_length=200)
    password_set_at: datetime | None = _when()
    failed_attempts: int = 0
    locked_until: datetime | None = _when()
    created_at: datetime = _stamp()


class AccountToken(SQLModel, table=True):
    """A one-time link to set a password (first sign-in or reset): its token's sha256, until when, used when."""

    __tablename__ = "account_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="user_account.id", index=True)
    purpose: str = Field(max_length=12, description="invite | reset")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _stamp()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = _when()


class WebSession(SQLModel, table=True):
    """A signed-in browser: the sha256 of its cookie, its CSRF token, and when it stops being valid."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="user_account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _stamp()
    last_seen_at: datetime = _stamp()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    ended_at: datetime | None = _when()
    address: str = Field(default="", max_length=64)


class SignInAttempt(SQLModel, table=True):
    """One try to sign in, kept to slow down whoever guesses passwords from one address."""

    __tablename__ = "sign_in_attempt"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _stamp()
    login: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=64, index=True)
    ok: bool = False
