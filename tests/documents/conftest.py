"""Fixtures of the document tests: the small test district arranged in the fresh database."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.documents.records import Arranged, arrange


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return arrange(session)
